import { constants } from "node:crypto";
import type { SecureContext, SecureContextOptions, TlsOptions } from "node:tls";
import type { HelloDivert } from "./tls-front.ts";

/**
 * Mozilla's "intermediate" TLS 1.2 cipher suites (TLS 1.3 suites are OpenSSL's defaults),
 * in this order of preference, which the server enforces (all are strong; enforcing it is
 * what TLS scanners such as testssl.sh expect).
 */
export const INTERMEDIATE_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "DHE-RSA-AES128-GCM-SHA256",
  "DHE-RSA-AES256-GCM-SHA384",
  "DHE-RSA-CHACHA20-POLY1305",
].join(":");

/**
 * node:tls, loaded when first needed: a server without HTTPS never pays for it (it is a
 * noticeable share of start-up).
 */
export function tlsModule(): typeof import("node:tls") {
  return process.getBuiltinModule("node:tls");
}

/** A secure context with wharf's protocol and cipher policy for one certificate. */
export function secureContextFor(
  cert: Buffer,
  key: Buffer,
  clientCa?: Buffer,
): { context: SecureContext; options: SecureContextOptions } {
  const options: SecureContextOptions = {
    cert,
    key,
    minVersion: "TLSv1.2",
    ciphers: INTERMEDIATE_CIPHERS,
    ecdhCurve: "X25519:prime256v1:secp384r1",
    honorCipherOrder: true,
    // No client-initiated renegotiation (TLS 1.2): a CPU-exhaustion lever (CVE-2011-1473).
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    // With mutual TLS, the CA client certificates are checked against (and named to clients).
    ...(clientCa ? { ca: clientCa } : {}),
  };
  return { context: tlsModule().createSecureContext(options), options };
}

/** What a TLS listener needs to pick certificates; mutable so a reload can re-point it. */
export interface TlsSelection {
  /** The context for an SNI name, or undefined for the default. */
  contextFor(serverName: string): SecureContext | undefined;
  /** The default certificate (clients without SNI, unknown names). */
  defaultContext: SecureContext;
  /** The same, as options (a listener re-reads them when a reload changes the default). */
  defaultOptions: SecureContextOptions;
  ticketKeys: Buffer;
  /** Ask clients for certificates (some site on this address wants mutual TLS). */
  requestCert: boolean;
  /** Connections taken away by their ClientHello (TLS-ALPN-01 validations, for ACME sites). */
  helloDivert?: HelloDivert | undefined;
  /** OCSP stapling: answers a client's status_request for the certificate being served. */
  ocsp?: OcspHandler | undefined;
  /** For on-demand TLS: a certificate for a name no site names, obtained when first asked. */
  onDemand?: ((serverName: string) => Promise<SecureContext | undefined>) | undefined;
}

/** Node's OCSPRequest listener: the served certificate and its issuer (DER), and where the staple goes. */
export type OcspHandler = (
  cert: Buffer,
  issuer: Buffer | null,
  cb: (err: Error | null, response: Buffer | null) => void,
) => void;

/** Staples OCSP answers on `server` through whatever the current selection provides. */
export function attachOcsp(server: import("node:tls").Server, selection: { current: TlsSelection }): void {
  server.on(
    "OCSPRequest",
    (cert: Buffer, issuer: Buffer | null, cb: (e: Error | null, r: Buffer | null) => void) => {
      const handler = selection.current.ocsp;
      if (handler) handler(cert, issuer, cb);
      else cb(null, null);
    },
  );
}

/** The options every TLS listener of wharf starts from: protocols, ciphers, SNI, tickets. */
export function tlsServerOptions(selection: { current: TlsSelection }): TlsOptions {
  return {
    // Certificates are checked per site (the site decides); the handshake never fails for them.
    requestCert: selection.current.requestCert,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2",
    ciphers: INTERMEDIATE_CIPHERS,
    ecdhCurve: "X25519:prime256v1:secp384r1",
    honorCipherOrder: true,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    SNICallback: (name, cb) => {
      const s = selection.current;
      const lower = name.toLowerCase();
      const ctx = s.contextFor(lower);
      if (ctx !== undefined || s.onDemand === undefined) return cb(null, ctx ?? s.defaultContext);
      // A name no site knows, on an on-demand address: the handshake waits for its certificate.
      s.onDemand(lower).then(
        (got) => cb(null, got ?? s.defaultContext),
        () => cb(null, s.defaultContext),
      );
    },
    // The default certificate: for clients that send no SNI (or an IP address).
    ...selection.current.defaultOptions,
    ticketKeys: selection.current.ticketKeys,
    // Node's default is a hash of the command line, which differs between instances (their
    // config paths): a ticket from another instance sharing the keys would not resume.
    sessionIdContext: "wharf",
  };
}
