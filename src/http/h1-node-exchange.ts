import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Duplex, Readable } from "node:stream";
import type { ErrorPages, Exchange } from "./exchange.ts";
import { isBodiless, sendFieldsThenBody } from "./exchange.ts";
import { ExchangeHeads, limitBody } from "./exchange-base.ts";
import type { FieldBlock, PreparedBody } from "./field-block.ts";
import { nextRequestId } from "./request-id.ts";
import { announcedTrailers, sendableTrailers, type Trailers } from "./trailers.ts";

/**
 * The Exchange over node:http. A class rather than closures: one is made per request,
 * and a stable shape keeps that cheap.
 */
export class NodeExchange extends ExchangeHeads implements Exchange {
  readonly method: string;
  readonly target: string;
  readonly rawPath: string;
  readonly query: string;
  readonly host: string;
  readonly httpVersion: string;
  readonly scheme: "http" | "https";
  readonly startedAt: number;
  // Read now: the socket is detached from the request once the response is done.
  readonly remoteAddress: string;
  readonly remotePort: number;
  path = "/";
  errorPages: ErrorPages | undefined = undefined;
  answered = false;
  bytesSent = 0;
  upgradeSocket: { socket: Duplex; head: Buffer } | undefined = undefined;
  maxBodySize = Number.POSITIVE_INFINITY;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  #id: string | undefined;
  #closeAfter: boolean;

  constructor(req: IncomingMessage, res: ServerResponse, target: string, host: string, closeAfter: boolean) {
    super();
    this.req = req;
    this.res = res;
    this.method = req.method ?? "GET";
    this.target = target;
    const q = target.indexOf("?");
    this.rawPath = q === -1 ? target : target.slice(0, q);
    this.query = q === -1 ? "" : target.slice(q);
    this.host = host;
    this.httpVersion = req.httpVersion;
    this.scheme = (req.socket as { encrypted?: boolean }).encrypted ? "https" : "http";
    this.startedAt = performance.now();
    const sock = req.socket;
    this.remoteAddress = sock.remoteAddress ?? "";
    this.remotePort = sock.remotePort ?? 0;
    this.#closeAfter = closeAfter;
  }

  get id(): string {
    this.#id ??= nextRequestId();
    return this.#id;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
  rawHeaders(): readonly string[] {
    return this.req.rawHeaders;
  }
  body(): Readable {
    return limitBody(this.req, this.req.headers["content-length"] !== undefined, this.maxBodySize);
  }

  closeConnection(): void {
    this.#closeAfter = true;
  }

  get hasBody(): boolean {
    // node:http2's compatibility request has the stream; HTTP/1.1 has the framing fields.
    const stream = (this.req as { stream?: { endAfterHeaders: boolean } }).stream;
    if (stream) return !stream.endAfterHeaders;
    const cl = this.req.headers["content-length"];
    return cl !== undefined ? cl !== "0" : this.req.headers["transfer-encoding"] !== undefined;
  }
  get clientVerified(): boolean {
    return (this.req.socket as { authorized?: boolean }).authorized === true;
  }

  get upgradeable(): boolean {
    return this.upgradeSocket !== undefined && !this.answered;
  }

  takeOver(): { socket: Duplex; head: Buffer } {
    const up = this.upgradeSocket;
    if (!up || this.answered) throw new Error("this exchange cannot be taken over");
    this.answered = true;
    this.res.detachSocket(up.socket as import("node:net").Socket);
    up.socket.removeAllListeners("error");
    // The exchange is over when the tunnel closes (for the access log).
    up.socket.once("close", () => this.res.emit("close"));
    return up;
  }

  onDone(cb: (ex: Exchange) => void): void {
    this.res.once("close", () => cb(this));
  }

  #writeHead(status: number, length: number | undefined): boolean {
    this.answered = true;
    status = this.settle(status);
    const flat: string[] = [];
    const { names, values } = this.out;
    for (let i = 0; i < names.length; i++) {
      const value = values[i]!;
      if (Array.isArray(value)) for (const v of value) flat.push(names[i]!, v);
      else flat.push(names[i]!, value);
    }
    const bodiless = isBodiless(status);
    if (length !== undefined && !bodiless) flat.push("Content-Length", String(length));
    if (this.#closeAfter) this.res.shouldKeepAlive = false;
    const res = this.res;
    if (res.destroyed) return false;
    res.writeHead(status, flat);
    return !bodiless && this.method !== "HEAD";
  }

  send(status: number, body?: Buffer | string): void {
    if (this.answered) return;
    const buf = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
    const withBody = this.#writeHead(status, buf ? buf.length : isBodiless(status) ? undefined : 0);
    if (withBody && buf) {
      this.bytesSent = buf.length;
      this.res.end(buf);
    } else this.res.end();
  }

  sendPrepared(status: number, fields: FieldBlock, body: PreparedBody | undefined): void {
    sendFieldsThenBody(this, status, fields, body);
  }

  stream(status: number, body: Readable, length?: number, trailers?: Trailers): void {
    if (this.answered) {
      body.destroy();
      return;
    }
    // Trailers need chunked framing (HTTP/1.1) or HTTP/2; node:http adds them at the end.
    const names =
      trailers && length === undefined && this.httpVersion !== "1.0" ? announcedTrailers(trailers) : [];
    if (names.length > 0) this.setHeader("Trailer", names.join(", "));
    const withBody = this.#writeHead(status, length);
    const res = this.res;
    if (!withBody) {
      body.destroy();
      res.end();
      return;
    }
    const onClose = () => body.destroy();
    res.once("close", onClose);
    body.on("data", (chunk: Buffer) => {
      this.bytesSent += chunk.length;
      if (!res.write(chunk)) {
        body.pause();
        res.once("drain", () => body.resume());
      }
    });
    body.once("end", () => {
      res.off("close", onClose);
      if (names.length > 0 && trailers) {
        const t = sendableTrailers(trailers);
        if (t.length > 0) res.addTrailers(Object.fromEntries(t));
      }
      res.end();
    });
    body.once("error", () => {
      // Headers are out: the only honest signal left is to cut the connection.
      res.destroy();
    });
  }
}
