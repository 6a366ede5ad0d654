import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Duplex, Readable } from "node:stream";
import { WharfError } from "../core/errors.ts";
import { pump } from "../core/pump.ts";
import type { Exchange } from "./exchange.ts";
import { isBodiless } from "./exchange.ts";
import { BaseExchange, limitBody } from "./exchange-base.ts";
import type { FieldBlock } from "./field-block.ts";
import { sendableTrailers, type Trailers } from "./trailers.ts";

/**
 * The Exchange over node:http (and node:http2's compatibility objects, which answer to
 * the same calls). A class rather than closures: one is made per request, and a stable
 * shape keeps that cheap.
 */
export class NodeExchange extends BaseExchange implements Exchange {
  readonly httpVersion: string;
  readonly scheme: "http" | "https";
  // Read now: the socket is detached from the request once the response is done.
  readonly remoteAddress: string;
  readonly remotePort: number;
  upgradeSocket: { socket: Duplex; head: Buffer } | undefined = undefined;
  maxBodySize = Number.POSITIVE_INFINITY;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  #closeAfter: boolean;

  constructor(req: IncomingMessage, res: ServerResponse, target: string, host: string, closeAfter: boolean) {
    super(req.method ?? "GET", target, host, performance.now());
    this.req = req;
    this.res = res;
    this.httpVersion = req.httpVersion;
    this.scheme = (req.socket as { encrypted?: boolean }).encrypted ? "https" : "http";
    const sock = req.socket;
    this.remoteAddress = sock.remoteAddress ?? "";
    this.remotePort = sock.remotePort ?? 0;
    this.#closeAfter = closeAfter;
  }

  protected readHeader(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
  protected readRawHeaders(): readonly string[] {
    return this.req.rawHeaders;
  }
  body(): Readable {
    return limitBody(this.req, this.req.headers["content-length"] !== undefined, this.maxBodySize);
  }

  closeConnection(): void {
    this.#closeAfter = true;
  }

  abort(http2Code = 0x8 /* CANCEL */): void {
    this.answered = true;
    // HTTP/2 (the compatibility response): the stream is reset; HTTP/1.1: the socket closed.
    const stream = (this.res as { stream?: { close(code: number): void } }).stream;
    if (stream) stream.close(http2Code);
    else this.res.socket?.destroy();
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
    if (!up || this.answered)
      throw new WharfError("WHARF_ERR_INTERNAL", "this exchange cannot be taken over");
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

  /** Writes the head; false when the response is gone already. */
  #writeHead(status: number, length: number | undefined, prepared?: FieldBlock): boolean {
    const flat: string[] = [];
    const { names, values } = this.out;
    for (let i = 0; i < names.length; i++) {
      const value = values[i]!;
      if (Array.isArray(value)) for (const v of value) flat.push(names[i]!, v);
      else flat.push(names[i]!, value);
    }
    if (prepared)
      for (let i = 0; i < prepared.names.length; i++) flat.push(prepared.names[i]!, prepared.values[i]!);
    if (length !== undefined && !isBodiless(status)) flat.push("Content-Length", String(length));
    if (this.#closeAfter) this.res.shouldKeepAlive = false;
    if (this.res.destroyed) return false;
    this.res.writeHead(status, flat);
    return true;
  }

  protected writeWhole(
    status: number,
    length: number | undefined,
    body: Buffer | undefined,
    prepared?: FieldBlock,
  ): void {
    if (!this.#writeHead(status, length, prepared)) return;
    if (body) {
      this.bytesSent = body.length;
      this.res.end(body);
    } else this.res.end();
  }

  protected canTrail(length: number | undefined): boolean {
    // Trailers need chunked framing (HTTP/1.1) or HTTP/2; node:http adds them at the end.
    return length === undefined && this.httpVersion !== "1.0";
  }

  protected writeStream(
    status: number,
    body: Readable,
    length: number | undefined,
    trailers: Trailers | undefined,
  ): void {
    this.#writeHead(status, length);
    const res = this.res;
    const onClose = () => body.destroy();
    res.once("close", onClose);
    const sink = {
      write: (chunk: Buffer) => {
        this.bytesSent += chunk.length;
        return res.write(chunk);
      },
      onDrain: (resume: () => void) => res.once("drain", resume),
    };
    pump(body, sink, (err) => {
      // Headers are out: the only honest signal left for an error is to cut the connection.
      if (err) return void res.destroy();
      res.off("close", onClose);
      if (trailers) {
        const t = sendableTrailers(trailers);
        if (t.length > 0) res.addTrailers(Object.fromEntries(t));
      }
      res.end();
    });
  }
}
