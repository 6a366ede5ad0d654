import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { performance } from "node:perf_hooks";
import { type Duplex, type Readable, Transform } from "node:stream";
import { WharfError } from "../core/errors.ts";
import type { ErrorPages, Exchange, HeaderValue, HeadHook } from "./exchange.ts";
import { isBodiless } from "./exchange.ts";
import { nextRequestId } from "./request-id.ts";

/** Fields HTTP/2 forbids (RFC 9113 §8.2.2); a handler or upstream may still set them. */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/**
 * The Exchange over an HTTP/2 stream, on node:http2's core API (its request/response
 * compatibility objects cost about half the throughput).
 */
export class H2Exchange implements Exchange {
  readonly method: string;
  readonly target: string;
  readonly rawPath: string;
  readonly query: string;
  readonly host: string;
  readonly httpVersion = "2.0";
  readonly scheme = "https" as const;
  readonly startedAt: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly upgradeable = false;
  path = "/";
  status = 200;
  errorPages: ErrorPages | undefined = undefined;
  answered = false;
  bytesSent = 0;
  maxBodySize = Number.POSITIVE_INFINITY;
  readonly #stream: ServerHttp2Stream;
  readonly #headers: IncomingHttpHeaders;
  readonly #raw: string[];
  #id: string | undefined;
  #out = new Map<string, HeaderValue>();
  #hooks: HeadHook[] | undefined;

  constructor(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    raw: string[],
    target: string,
    host: string,
  ) {
    this.#stream = stream;
    this.#headers = headers;
    this.#raw = raw;
    this.method = (headers[":method"] as string | undefined) ?? "GET";
    this.target = target;
    const q = target.indexOf("?");
    this.rawPath = q === -1 ? target : target.slice(0, q);
    this.query = q === -1 ? "" : target.slice(q);
    this.host = host;
    this.startedAt = performance.now();
    const sock = stream.session?.socket;
    this.remoteAddress = sock?.remoteAddress ?? "";
    this.remotePort = sock?.remotePort ?? 0;
  }

  get id(): string {
    this.#id ??= nextRequestId();
    return this.#id;
  }

  header(name: string): string | undefined {
    const v = this.#headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
  rawHeaders(): readonly string[] {
    return this.#raw;
  }
  body(): Readable {
    const stream = this.#stream;
    const limit = this.maxBodySize;
    if (this.#headers["content-length"] !== undefined || !Number.isFinite(limit)) return stream;
    let seen = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        if (seen > limit) done(new WharfError("WHARF_ERR_BODY_TOO_LARGE"));
        else done(null, chunk);
      },
    });
    stream.on("error", (err) => counter.destroy(err));
    return stream.pipe(counter);
  }
  takeOver(): { socket: Duplex; head: Buffer } {
    throw new Error("HTTP/2 streams cannot be taken over");
  }

  getHeader(name: string): HeaderValue | undefined {
    return this.#out.get(name.toLowerCase());
  }
  setHeader(name: string, value: HeaderValue): void {
    this.#out.set(name.toLowerCase(), value);
  }
  appendHeader(name: string, value: string): void {
    const key = name.toLowerCase();
    const cur = this.#out.get(key);
    if (cur === undefined) this.#out.set(key, value);
    else this.#out.set(key, Array.isArray(cur) ? [...cur, value] : [cur, value]);
  }
  removeHeader(name: string): void {
    this.#out.delete(name.toLowerCase());
  }
  onHead(hook: HeadHook): void {
    if (this.#hooks) this.#hooks.push(hook);
    else this.#hooks = [hook];
  }
  onDone(cb: (ex: Exchange) => void): void {
    this.#stream.once("close", () => cb(this));
  }

  /** Responds with the head; returns whether a body follows. */
  #respond(status: number, length: number | undefined, endStream: boolean): boolean {
    this.answered = true;
    this.status = status;
    const hooks = this.#hooks;
    if (hooks) {
      this.#hooks = undefined;
      for (const h of hooks) h(this);
      status = this.status;
    }
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return false;
    const head: Record<string, HeaderValue | number> = { ":status": status };
    for (const [k, v] of this.#out) if (!CONNECTION_SPECIFIC.has(k)) head[k] = v;
    const bodiless = isBodiless(status) || this.method === "HEAD";
    if (length !== undefined && !isBodiless(status)) head["content-length"] = length;
    stream.respond(head, { endStream: bodiless || endStream });
    return !bodiless;
  }

  send(status: number, body?: Buffer | string): void {
    if (this.answered) return;
    const buf = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
    const len = buf ? buf.length : isBodiless(status) ? undefined : 0;
    const withBody = this.#respond(status, len, !buf || buf.length === 0);
    if (withBody && buf && buf.length > 0) {
      this.bytesSent = buf.length;
      this.#stream.end(buf);
    }
  }

  stream(status: number, body: Readable, length?: number): void {
    if (this.answered) {
      body.destroy();
      return;
    }
    const out = this.#stream;
    if (!this.#respond(status, length, false)) {
      body.destroy();
      return;
    }
    const onClose = () => body.destroy();
    out.once("close", onClose);
    body.on("data", (chunk: Buffer) => {
      this.bytesSent += chunk.length;
      if (!out.write(chunk)) {
        body.pause();
        out.once("drain", () => body.resume());
      }
    });
    body.once("end", () => {
      out.off("close", onClose);
      out.end();
    });
    // The head is out: resetting the stream is the only honest signal left.
    body.once("error", () => out.close(2 /* INTERNAL_ERROR */));
  }
}
