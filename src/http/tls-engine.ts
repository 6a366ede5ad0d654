import type { IncomingMessage, ServerResponse } from "node:http";
import {
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../core/logger.ts";
import { admit } from "./admit.ts";
import type { Engine } from "./engine.ts";
import type { RequestListener } from "./exchange.ts";
import { NodeExchange } from "./h1-node-exchange.ts";
import { H2Tracker, h2ServerOptions } from "./h2-tracker.ts";
import type { HttpLimits } from "./limits.ts";
import { tlsFront } from "./tls-front.ts";
import { attachOcsp, type TlsSelection, tlsServerOptions } from "./tls-policy.ts";

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
  const tracker = new H2Tracker();
  const h1Sockets = new Set<TLSSocket>();
  const server = createSecureServer({
    allowHTTP1: true,
    ...tlsServerOptions(selection),
    ...h2ServerOptions(limits),
    maxHeaderSize: limits.maxUriLength + limits.maxHeaderSize + 1024,
    headersTimeout: limits.headerTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.idleTimeout,
  } as Parameters<typeof createSecureServer>[0]);
  attachOcsp(server, selection);
  const front = tlsFront(server, () => selection.current.helloDivert);
  const applyLimits = () => {
    front.maxConnections = limits.maxConnections;
    server.setTimeout(limits.idleTimeout);
  };
  applyLimits();

  server.on("session", (s: Http2Session) => tracker.session(s));
  server.on("stream", (stream: ServerHttp2Stream) => tracker.stream(stream));
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
    server: front,
    tls: server,
    connections: () => ({ "h1-tls": h1Sockets.size, h2: tracker.size }),
    drain() {
      draining = true;
      front.close();
      // GOAWAY to every HTTP/2 client; streams in flight finish, then the session closes.
      tracker.drain();
      // HTTP/1.1 connections: idle ones close now, busy ones after their response.
      for (const sock of h1Sockets)
        if (!(sock as unknown as { _httpMessage?: unknown })._httpMessage) sock.end();
    },
    destroyAll() {
      tracker.destroyAll();
      for (const sock of h1Sockets) sock.destroy();
    },
    applyLimits,
  };
}
