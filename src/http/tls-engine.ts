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
  const sessions = new Set<Http2Session>();
  const h1Sockets = new Set<TLSSocket>();
  const server = createSecureServer({
    allowHTTP1: true,
    ...tlsServerOptions(selection),
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
  attachOcsp(server, selection);
  const front = tlsFront(server, () => selection.current.alpnChallenges, log);
  const applyLimits = () => {
    front.maxConnections = limits.maxConnections;
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
    server: front,
    tls: server,
    drain() {
      draining = true;
      front.close();
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
