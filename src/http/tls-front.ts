import { createServer, type Server } from "node:net";
import { createServer as createTlsServer, type SecureContext, type Server as TlsServer } from "node:tls";
import type { Logger } from "../core/logger.ts";
import { firstRecordLength, readClientHello } from "./client-hello.ts";

/** TLS-ALPN-01 answers a listener can give (RFC 8737), looked up by server name. */
export interface AlpnChallenges {
  /** Whether any validation is pending now (only then are ClientHellos read). */
  pending(): boolean;
  /** The challenge certificate for a name, if a validation for it is pending. */
  contextFor(serverName: string): SecureContext | undefined;
}

/** The longest first record taken while looking for a TLS-ALPN-01 offer. */
const MAX_HELLO = 16 * 1024 + 5;

/**
 * A TCP listener in front of a TLS server: it hands every connection over, except a CA's
 * TLS-ALPN-01 validation (ALPN `acme-tls/1` for a name with a pending challenge), which it
 * answers itself with the challenge certificate and closes (RFC 8737 §3). The ClientHello
 * is read only while a challenge is pending, so other connections cost nothing extra.
 */
export function tlsFront(tls: TlsServer, challenges: () => AlpnChallenges | undefined, log: Logger): Server {
  // Validations are rare: the server that answers them is made at the first one.
  let answering: TlsServer | undefined;
  return createServer({ noDelay: true, allowHalfOpen: false }, (socket) => {
    const c = challenges();
    if (c === undefined || !c.pending()) {
      tls.emit("connection", socket);
      return;
    }
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const need = firstRecordLength(buf);
      if (need > 0 && buf.length < need && buf.length < MAX_HELLO) return;
      socket.off("data", onData);
      socket.pause();
      socket.unshift(buf);
      const hello = readClientHello(buf);
      const ctx =
        hello?.serverName !== undefined && hello.alpn.includes("acme-tls/1")
          ? c.contextFor(hello.serverName)
          : undefined;
      if (ctx) {
        answering ??= makeAnswerer(c, log);
        answering.emit("connection", socket);
      } else tls.emit("connection", socket);
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });
}

/** A TLS server that completes a validation handshake with the challenge certificate, then closes. */
function makeAnswerer(challenges: AlpnChallenges, log: Logger): TlsServer {
  const server = createTlsServer({
    ALPNProtocols: ["acme-tls/1"],
    SNICallback: (name, cb) => cb(null, challenges.contextFor(name.toLowerCase())),
  });
  server.on("secureConnection", (s) => {
    log.info("answered a TLS-ALPN-01 validation", { name: s.servername });
    s.end();
  });
  server.on("tlsClientError", (err: Error) =>
    log.debug("TLS-ALPN-01 handshake failed", { err: err.message }),
  );
  return server;
}
