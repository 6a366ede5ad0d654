import { createServer, type IncomingMessage, type Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "../core/logger.ts";
import type { RequestListener } from "./exchange.ts";
import { NodeExchange } from "./h1-node-exchange.ts";
import { parseHostHeader } from "./host.ts";
import type { HttpLimits } from "./limits.ts";
import { rawResponse } from "./raw-response.ts";

/** An HTTP/1.1 engine: turns connections into Exchanges for the listener it is given. */
export interface Engine {
  readonly server: Server;
  /** Stops accepting, closes idle connections, and answers remaining requests with `Connection: close`. */
  drain(): void;
  /** Closes every connection now. */
  destroyAll(): void;
  /** Re-reads the limits object it was given (after a reload changed it). */
  applyLimits(): void;
}

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
    const url = req.url ?? "";
    if (req.httpVersionMajor !== 1) return reject(res, req.httpVersionMajor === 0 ? 400 : 505);
    if (url.length > limits.maxUriLength) return reject(res, 414);
    // One pass over the raw header lines: their total size and how many Host fields there are.
    const raw = req.rawHeaders;
    let size = 0;
    let hosts = 0;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      size += name.length + raw[i + 1]!.length + 4;
      if (name.length === 4 && name.toLowerCase() === "host") hosts++;
    }
    if (size > limits.maxHeaderSize) return reject(res, 431);
    if (hosts > 1) return reject(res, 400);
    const te = req.headers["transfer-encoding"];
    if (te !== undefined) {
      // RFC 9112 §6.3: chunked must be the final (and, here, only) coding of a request.
      const codings = te
        .toLowerCase()
        .split(",")
        .map((c) => c.trim());
      if (codings[codings.length - 1] !== "chunked") return reject(res, 400);
      if (codings.length > 1) return reject(res, 501);
    }
    const cl = req.headers["content-length"];
    if (cl !== undefined && Number(cl) > limits.maxBodySize) return reject(res, 413);

    let target = url;
    let hostValue = req.headers.host;
    if (url.charCodeAt(0) !== 47 /* / */) {
      if (url === "*" && req.method === "OPTIONS") {
        res.writeHead(204, ["Allow", "GET, HEAD, OPTIONS"]);
        res.end();
        return;
      }
      // absolute-form (RFC 9112 §3.2.2): the target's authority replaces Host.
      const m = /^https?:\/\/([^/?#]*)([^#]*)$/i.exec(url);
      if (!m) return reject(res, 400);
      hostValue = m[1];
      target = m[2] || "/";
      if (target.charCodeAt(0) !== 47) target = `/${target}`;
    }
    const host = parseHostHeader(hostValue ?? "");
    if (host === undefined) return reject(res, 400);
    const ex = new NodeExchange(req, res, target, host, draining);
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

  return {
    server,
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

  function reject(res: ServerResponse, status: number): void {
    res.shouldKeepAlive = false;
    const head = rawResponse(status);
    // node:http has parsed the head; answer through it so pipelined order holds.
    const sep = head.indexOf("\r\n\r\n");
    const body = head.subarray(sep + 4);
    res.writeHead(status, [
      "Content-Type",
      "text/plain; charset=utf-8",
      "Content-Length",
      String(body.length),
    ]);
    res.end(body);
  }
}
