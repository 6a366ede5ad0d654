import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Duplex, Readable } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { ErrorPages, Exchange } from "./exchange.ts";
import { isBodiless, sendFieldsThenBody } from "./exchange.ts";
import { ExchangeHeads, limitBody } from "./exchange-base.ts";
import type { FieldBlock, PreparedBody } from "./field-block.ts";
import { nextRequestId } from "./request-id.ts";
import { announcedTrailers, sendableTrailers, type Trailers } from "./trailers.ts";

/** Fields that mean something only to one HTTP/1.1 connection; HTTP/2 forbids them (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/**
 * The Exchange over an HTTP/2 stream (node:http2's stream API, without its compatibility
 * objects): the request came as a HEADERS frame, the response goes with `respond`.
 */
export class H2Exchange extends ExchangeHeads implements Exchange {
  readonly method: string;
  readonly target: string;
  readonly rawPath: string;
  readonly query: string;
  readonly host: string;
  readonly httpVersion = "2.0";
  readonly scheme: "http" | "https";
  readonly startedAt: number;
  path = "/";
  errorPages: ErrorPages | undefined = undefined;
  answered = false;
  bytesSent = 0;
  readonly upgradeable = false;
  readonly #stream: ServerHttp2Stream;
  readonly #headers: IncomingHttpHeaders;
  readonly #raw: string[];
  readonly #maxBody: number;
  #id: string | undefined;

  constructor(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    raw: string[],
    routed: { target: string; host: string },
    scheme: "http" | "https",
    startedAt: number,
    maxBody: number,
  ) {
    super();
    this.#stream = stream;
    this.#headers = headers;
    this.#raw = raw;
    this.#maxBody = maxBody;
    this.method = (headers[":method"] as string | undefined) ?? "GET";
    this.target = routed.target;
    const q = routed.target.indexOf("?");
    this.rawPath = q === -1 ? routed.target : routed.target.slice(0, q);
    this.query = q === -1 ? "" : routed.target.slice(q);
    this.host = routed.host;
    this.scheme = scheme;
    this.startedAt = startedAt;
  }

  get id(): string {
    this.#id ??= nextRequestId();
    return this.#id;
  }
  get remoteAddress(): string {
    return this.#stream.session?.socket?.remoteAddress ?? "";
  }
  get remotePort(): number {
    return this.#stream.session?.socket?.remotePort ?? 0;
  }
  get hasBody(): boolean {
    return !this.#stream.endAfterHeaders;
  }
  get clientVerified(): boolean {
    return (this.#stream.session?.socket as TLSSocket | undefined)?.authorized === true;
  }

  header(name: string): string | undefined {
    const v = this.#headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
  rawHeaders(): readonly string[] {
    return this.#raw;
  }
  body(): Readable {
    return limitBody(this.#stream, this.#headers["content-length"] !== undefined, this.#maxBody);
  }
  takeOver(): { socket: Duplex; head: Buffer } {
    throw new Error("an HTTP/2 stream cannot be taken over");
  }
  closeConnection(): void {
    // Only this stream ends; the connection carries the others on.
  }

  onDone(cb: (ex: Exchange) => void): void {
    if (this.#stream.closed) cb(this);
    else this.#stream.once("close", () => cb(this));
  }

  /** The response head as node:http2 takes it, without connection-specific fields. */
  #head(status: number, length: number | undefined, prepared?: FieldBlock): OutgoingHttpHeaders {
    this.answered = true;
    const head: OutgoingHttpHeaders = { ":status": this.settle(status) };
    const { keys, values } = this.out;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (CONNECTION_SPECIFIC.has(k)) continue;
      head[k] = values[i];
    }
    if (prepared) {
      const names = prepared.lowerNames;
      for (let i = 0; i < names.length; i++) head[names[i]!] = prepared.values[i];
    }
    if (length !== undefined && !isBodiless(this.status)) head["content-length"] = length;
    return head;
  }

  #withBody(): boolean {
    return !isBodiless(this.status) && this.method !== "HEAD";
  }

  send(status: number, body?: Buffer | string): void {
    if (this.answered || this.#stream.destroyed) return;
    const buf = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
    const head = this.#head(status, buf ? buf.length : isBodiless(status) ? undefined : 0);
    const withBody = buf !== undefined && buf.length > 0 && this.#withBody();
    this.#respond(head, withBody ? buf : undefined);
  }

  sendPrepared(status: number, fields: FieldBlock, body: PreparedBody | undefined): void {
    if (this.answered || this.#stream.destroyed) return;
    if (this.hooked || this.out.clashes(fields.keys)) return sendFieldsThenBody(this, status, fields, body);
    const size = body === undefined ? (isBodiless(status) ? undefined : 0) : body.bytes.length;
    const head = this.#head(status, size, fields);
    this.#respond(
      head,
      body !== undefined && body.bytes.length > 0 && this.#withBody() ? body.bytes : undefined,
    );
  }

  #respond(head: OutgoingHttpHeaders, body: Buffer | undefined): void {
    const stream = this.#stream;
    try {
      stream.respond(head, { endStream: body === undefined });
    } catch {
      // The stream was reset or the session went away between the checks and now.
      stream.destroy();
      return;
    }
    if (body !== undefined) {
      this.bytesSent = body.length;
      stream.end(body);
    }
  }

  stream(status: number, body: Readable, length?: number, trailers?: Trailers): void {
    if (this.answered || this.#stream.destroyed) {
      body.destroy();
      return;
    }
    const names = trailers ? announcedTrailers(trailers) : [];
    if (names.length > 0) this.out.set("trailer", names.join(", "));
    const head = this.#head(status, length);
    if (!this.#withBody()) {
      body.destroy();
      this.#respond(head, undefined);
      return;
    }
    const stream = this.#stream;
    try {
      stream.respond(head, { waitForTrailers: names.length > 0 });
    } catch {
      body.destroy();
      stream.destroy();
      return;
    }
    if (names.length > 0 && trailers) {
      // After the last DATA frame: the trailers end the stream (an empty set is allowed).
      stream.once("wantTrailers", () => stream.sendTrailers(Object.fromEntries(sendableTrailers(trailers))));
    }
    stream.once("close", () => body.destroy());
    body.on("data", (chunk: Buffer) => {
      this.bytesSent += chunk.length;
      if (!stream.write(chunk)) {
        body.pause();
        stream.once("drain", () => body.resume());
      }
    });
    body.once("end", () => {
      if (length !== undefined && this.bytesSent !== length) stream.close(0x2 /* INTERNAL_ERROR */);
      else stream.end();
    });
    body.once("error", () => {
      // The head is out: resetting the stream is the honest signal (RST_STREAM).
      stream.close(0x2 /* INTERNAL_ERROR */);
    });
  }
}
