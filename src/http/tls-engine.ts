import type { IncomingMessage, ServerResponse } from "node:http";
import {
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type ServerHttp2Stream,
} from "node:http2";
import { createSecureContext, type SecureContext, type SecureContextOptions, type TLSSocket } from "node:tls";
import type { Logger } from "../core/logger.ts";
import { admit } from "./admit.ts";
import type { Engine } from "./engine.ts";
import type { RequestListener } from "./exchange.ts";
import { NodeExchange } from "./h1-node-exchange.ts";
import type { HttpLimits } from "./limits.ts";

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
    // With mutual TLS, the CA client certificates are checked against (and named to clients).
    ...(clientCa ? { ca: clientCa } : {}),
  };
  return { context: createSecureContext(options), options };
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
}

/**
 * HTTPS with ALPN: HTTP/2 (node:http2) and HTTP/1.1 on one TLS listener, behind the same
 * Exchange as plain HTTP/1.1. TLS 1.2+ with the intermediate suites; certificates by SNI.
 */
export function createTlsEngine(
  limits: HttpLimits,
  selection: { current: TlsSelection },
  onRequest: RequestListener,
  log: Logger,
): Engine {
  let draining = false;
  const sessions = new Set<Http2Session>();
  const h1Sockets = new Set<TLSSocket>();
  const server = createSecureServer({
    allowHTTP1: true,
    // Certificates are checked per site (the site decides); the handshake never fails for them.
    requestCert: selection.current.requestCert,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2",
    ciphers: INTERMEDIATE_CIPHERS,
    ecdhCurve: "X25519:prime256v1:secp384r1",
    honorCipherOrder: true,
    SNICallback: (name, cb) =>
      cb(null, selection.current.contextFor(name.toLowerCase()) ?? selection.current.defaultContext),
    // The default certificate: for clients that send no SNI (or an IP address).
    ...selection.current.defaultOptions,
    ticketKeys: selection.current.ticketKeys,
    settings: {
      maxConcurrentStreams: 128,
      maxHeaderListSize: limits.maxUriLength + limits.maxHeaderSize + 1024,
    },
    maxHeaderSize: limits.maxUriLength + limits.maxHeaderSize + 1024,
    // Rapid reset (CVE-2023-44487): a client that resets streams faster than this is cut off.
    streamResetBurst: 1000,
    streamResetRate: 33,
    headersTimeout: limits.headerTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.idleTimeout,
  } as Parameters<typeof createSecureServer>[0]);
  const applyLimits = () => {
    server.maxConnections = limits.maxConnections;
    server.setTimeout(limits.idleTimeout);
  };
  applyLimits();

  // Open streams per session: once draining, a session whose last stream is done is closed
  // outright rather than left to the client (which may keep a GOAWAY'd connection open).
  const open = new Map<Http2Session, number>();
  const closeIfIdle = (s: Http2Session) => {
    if (draining && (open.get(s) ?? 0) === 0 && !s.destroyed) s.destroy();
  };
  server.on("session", (s: Http2Session) => {
    sessions.add(s);
    open.set(s, 0);
    s.once("close", () => {
      sessions.delete(s);
      open.delete(s);
    });
    if (draining) s.close();
  });
  server.on("stream", (stream: ServerHttp2Stream) => {
    const s = stream.session;
    if (!s) return;
    open.set(s, (open.get(s) ?? 0) + 1);
    stream.once("close", () => {
      open.set(s, (open.get(s) ?? 1) - 1);
      closeIfIdle(s);
    });
  });
  server.on("secureConnection", (sock: TLSSocket) => {
    if (sock.alpnProtocol === "h2") return;
    h1Sockets.add(sock);
    sock.once("close", () => h1Sockets.delete(sock));
  });
  server.on(
    "request",
    (req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse | ServerResponse) => {
      const admitted = admit(req, res, limits);
      if (!admitted) return;
      // The compatibility objects of node:http2 answer to the same calls as node:http's.
      const ex = new NodeExchange(
        req as IncomingMessage,
        res as ServerResponse,
        admitted.target,
        admitted.host,
        draining,
      );
      ex.maxBodySize = limits.maxBodySize;
      onRequest(ex);
    },
  );
  server.on("tlsClientError", (err: NodeJS.ErrnoException) =>
    log.debug("tls handshake failed", { code: err.code }),
  );
  server.on("sessionError", (err: Error) => log.debug("http2 session error", { err: err.message }));

  return {
    server,
    drain() {
      draining = true;
      server.close();
      // GOAWAY to every HTTP/2 client; streams in flight finish, then the session closes.
      for (const s of sessions) {
        s.close();
        closeIfIdle(s);
      }
      // HTTP/1.1 connections: idle ones close now, busy ones after their response.
      for (const sock of h1Sockets)
        if (!(sock as unknown as { _httpMessage?: unknown })._httpMessage) sock.end();
    },
    destroyAll() {
      for (const s of sessions) s.destroy();
      for (const sock of h1Sockets) sock.destroy();
    },
    applyLimits,
  };
}
