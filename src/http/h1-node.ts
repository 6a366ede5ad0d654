import { createServer, type IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "../core/logger.ts";
import { admit } from "./admit.ts";
import type { Engine } from "./engine.ts";
import type { RequestListener } from "./exchange.ts";
import { NodeExchange } from "./h1-node-exchange.ts";
import type { HttpLimits } from "./limits.ts";
import { rawResponse } from "./raw-response.ts";

/** The HTTP/1.1 engine on node:http. */
export function createNodeEngine(limits: HttpLimits, onRequest: RequestListener, log: Logger): Engine {
  let draining = false;
  const server = createServer({
    requireHostHeader: true,
    // node:http counts the request line and the headers together; our own checks below
    // tell the too-long target (414) from the too-large header block (431).
    maxHeaderSize: limits.maxUriLength + limits.maxHeaderSize + 1024,
    connectionsCheckingInterval: Math.min(1000, limits.headerTimeout),
    noDelay: true,
  });
  const applyLimits = () => {
    server.headersTimeout = limits.headerTimeout;
    server.requestTimeout = limits.requestTimeout;
    server.keepAliveTimeout = limits.idleTimeout;
    server.maxConnections = limits.maxConnections;
  };
  applyLimits();

  const onHttpRequest = (
    req: IncomingMessage,
    res: ServerResponse,
    upgrade?: { socket: Duplex; head: Buffer },
  ) => {
    const admitted = admit(req, res, limits);
    if (!admitted) return;
    const ex = new NodeExchange(req, res, admitted.target, admitted.host, draining);
    ex.maxBodySize = limits.maxBodySize;
    if (upgrade) ex.upgradeSocket = upgrade;
    onRequest(ex);
  };
  server.on("request", onHttpRequest);

  // Requests asking for a protocol switch (WebSocket…) arrive here with the raw socket. They
  // get an ordinary response object on that socket, so every handler can answer them; a
  // handler that tunnels (the proxy) takes the socket over instead.
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once("finish", () => socket.end());
    socket.on("error", () => socket.destroy());
    onHttpRequest(req, res, { socket, head });
  });

  // A CONNECT is for proxies; this server is not a forward proxy.
  server.on("connect", (_req: IncomingMessage, socket: Socket) => {
    socket.end(rawResponse(405, ["Allow: GET, HEAD, OPTIONS"]));
  });

  server.on("clientError", (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    const code = err.code ?? "";
    if (code === "ECONNRESET" || code === "EPIPE" || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = code === "HPE_HEADER_OVERFLOW" ? 431 : code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    log.debug("client error", { code, status, remote: socket.remoteAddress });
    socket.end(rawResponse(status));
    socket.destroySoon();
  });

  let open = 0;
  server.on("connection", (socket: Socket) => {
    open++;
    socket.once("close", () => open--);
  });
  return {
    server,
    connections: () => ({ h1: open }),
    drain() {
      draining = true;
      server.close();
      server.closeIdleConnections();
    },
    destroyAll() {
      server.closeAllConnections();
    },
    applyLimits,
  };
}
