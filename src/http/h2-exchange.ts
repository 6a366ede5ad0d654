import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Duplex, Readable } from "node:stream";
import type { TLSSocket } from "node:tls";
import { WharfError } from "../core/errors.ts";
import { pump } from "../core/pump.ts";
import type { Exchange } from "./exchange.ts";
import { isBodiless } from "./exchange.ts";
import { BaseExchange, limitBody } from "./exchange-base.ts";
import type { FieldBlock } from "./field-block.ts";
import { sendableTrailers, type Trailers } from "./trailers.ts";

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
export class H2Exchange extends BaseExchange implements Exchange {
  readonly httpVersion = "2.0";
  readonly scheme: "http" | "https";
  readonly upgradeable = false;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly #stream: ServerHttp2Stream;
  readonly #headers: IncomingHttpHeaders;
  readonly #raw: string[];
  readonly #maxBody: number;

  constructor(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    raw: string[],
    routed: { target: string; host: string },
    peer: H2Peer,
    startedAt: number,
    maxBody: number,
  ) {
    super((headers[":method"] as string | undefined) ?? "GET", routed.target, routed.host, startedAt);
    this.#stream = stream;
    this.#headers = headers;
    this.#raw = raw;
    this.#maxBody = maxBody;
    this.scheme = peer.scheme;
    this.remoteAddress = peer.address;
    this.remotePort = peer.port;
  }

  get hasBody(): boolean {
    return !this.#stream.endAfterHeaders;
  }
  get clientVerified(): boolean {
    return (this.#stream.session?.socket as TLSSocket | undefined)?.authorized === true;
  }

  protected readHeader(name: string): string | undefined {
    const v = this.#headers[name];
    // Cookie crumbs come as separate fields and join with "; " (RFC 9113 §8.2.3).
    return Array.isArray(v) ? v.join(name === "cookie" ? "; " : ", ") : v;
  }
  protected readRawHeaders(): readonly string[] {
    return this.#raw;
  }
  body(): Readable {
    return limitBody(this.#stream, this.#headers["content-length"] !== undefined, this.#maxBody);
  }
  takeOver(): { socket: Duplex; head: Buffer } {
    throw new WharfError("WHARF_ERR_INTERNAL", "an HTTP/2 stream cannot be taken over");
  }
  closeConnection(): void {
    // Only this stream ends; the connection carries the others on.
  }

  abort(http2Code = 0x8 /* CANCEL */): void {
    this.answered = true;
    // RST_STREAM: the stream ends without an answer; the connection carries the others on.
    if (!this.#stream.destroyed) this.#stream.close(http2Code);
  }

  onDone(cb: (ex: Exchange) => void): void {
    if (this.#stream.closed) cb(this);
    else this.#stream.once("close", () => cb(this));
  }

  /** The response head as node:http2 takes it, without connection-specific fields. */
  #head(status: number, length: number | undefined, prepared?: FieldBlock): OutgoingHttpHeaders {
    const head: OutgoingHttpHeaders = { ":status": status };
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
    if (length !== undefined && !isBodiless(status)) head["content-length"] = length;
    return head;
  }

  protected writeWhole(
    status: number,
    length: number | undefined,
    body: Buffer | undefined,
    prepared?: FieldBlock,
  ): void {
    const stream = this.#stream;
    if (stream.destroyed) return;
    try {
      stream.respond(this.#head(status, length, prepared), { endStream: body === undefined });
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

  protected canTrail(): boolean {
    return true;
  }

  protected writeStream(
    status: number,
    body: Readable,
    length: number | undefined,
    trailers: Trailers | undefined,
  ): void {
    const stream = this.#stream;
    if (stream.destroyed) {
      body.destroy();
      return;
    }
    try {
      stream.respond(this.#head(status, length), { waitForTrailers: trailers !== undefined });
    } catch {
      body.destroy();
      stream.destroy();
      return;
    }
    if (trailers) {
      // After the last DATA frame: the trailers end the stream (an empty set is allowed).
      stream.once("wantTrailers", () => stream.sendTrailers(Object.fromEntries(sendableTrailers(trailers))));
    }
    stream.once("close", () => body.destroy());
    const sink = {
      write: (chunk: Buffer) => {
        this.bytesSent += chunk.length;
        return stream.write(chunk);
      },
      onDrain: (resume: () => void) => stream.once("drain", resume),
    };
    pump(body, sink, (err) => {
      // An error, or fewer bytes than announced, with the head out: RST_STREAM says so.
      if (err !== undefined || (length !== undefined && this.bytesSent !== length))
        stream.close(0x2 /* INTERNAL_ERROR */);
      else stream.end();
    });
  }
}

/** Who is at the other end of an HTTP/2 session, read once per connection. */
export interface H2Peer {
  scheme: "http" | "https";
  address: string;
  port: number;
}
