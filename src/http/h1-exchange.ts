import type { Duplex, Readable } from "node:stream";
import { STATUS_TEXT, WharfError } from "../core/errors.ts";
import { pump } from "../core/pump.ts";
import type { Exchange } from "./exchange.ts";
import { isBodiless } from "./exchange.ts";
import { BaseExchange } from "./exchange-base.ts";
import type { FieldBlock } from "./field-block.ts";
import { emptyBody } from "./h1-body.ts";
import type { RequestHead } from "./h1-parse.ts";
import { dateLine } from "./http-date.ts";
import { peerOf } from "./proxy-protocol.ts";
import { sendableTrailers, type Trailers } from "./trailers.ts";

/** What an exchange needs from its connection. */
export interface H1Link {
  readonly socket: Duplex & { remoteAddress?: string | undefined; remotePort?: number | undefined };
  readonly scheme: "http" | "https";
  readonly clientVerified: boolean;
  /** Whether the connection will carry another request after this response. */
  keepAlive(): boolean;
  /** Never another request on this connection. */
  closeAfter(): void;
  /**
   * The request's body stream (created on first call; sends `100 Continue` when the
   * client asked for it), or undefined when the request has no body.
   */
  body(): Readable | undefined;
  /** Writes response bytes; false when the socket's buffer is full. */
  write(data: Buffer | string): boolean;
  /** Calls `cb` once the socket can take more. */
  onDrain(cb: () => void): void;
  /** Holds writes until `uncork` (they then leave in one write). */
  cork(): void;
  uncork(): void;
  /** The response is complete. */
  finished(ex: H1Exchange): void;
  /** The connection must be cut: the response cannot be completed honestly. */
  abort(): void;
  /** Hands the socket over (protocol switch): the connection lets go of it. */
  release(): { socket: Duplex; head: Buffer };
}

const statusLines = new Map<number, string>();
function statusLine(status: number): string {
  let s = statusLines.get(status);
  if (s === undefined) {
    s = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Unknown"}\r\n`;
    if (status >= 100 && status <= 599) statusLines.set(status, s);
  }
  return s;
}

/** Largest body sent in one buffer with its head; bigger ones go as a second write. */
const COALESCE = 16 * 1024;

/** The Exchange of wharf's own HTTP/1.1 engine: the head was parsed, the response goes to the socket. */
export class H1Exchange extends BaseExchange implements Exchange {
  readonly httpVersion: string;
  readonly #link: H1Link;
  readonly #head: RequestHead;
  #done: ((ex: Exchange) => void)[] | undefined;
  #over = false;
  #remoteAddress: string | undefined;
  #remotePort = 0;

  constructor(link: H1Link, head: RequestHead, target: string, host: string, startedAt: number) {
    super(head.method, target, host, startedAt);
    this.#link = link;
    this.#head = head;
    this.httpVersion = head.minor === 1 ? "1.1" : "1.0";
  }

  get scheme(): "http" | "https" {
    return this.#link.scheme;
  }
  get remoteAddress(): string {
    if (this.#remoteAddress === undefined) {
      const socket = this.#link.socket;
      // Behind a PROXY protocol header, the client it names.
      const proxied = peerOf(socket);
      this.#remoteAddress = proxied?.address ?? socket.remoteAddress ?? "";
      this.#remotePort = proxied?.port ?? socket.remotePort ?? 0;
    }
    return this.#remoteAddress;
  }
  get remotePort(): number {
    if (this.#remoteAddress === undefined) void this.remoteAddress;
    return this.#remotePort;
  }
  get clientVerified(): boolean {
    return this.#link.clientVerified;
  }
  get hasBody(): boolean {
    return this.#head.chunked || this.#head.contentLength > 0;
  }

  protected readHeader(name: string): string | undefined {
    const raw = this.#head.headers;
    const lower = this.#head.names;
    let out: string | undefined;
    for (let i = 0; i < lower.length; i++) {
      if (lower[i] !== name) continue;
      const v = raw[2 * i + 1]!;
      out = out === undefined ? v : `${out}, ${v}`;
    }
    return out;
  }
  protected readRawHeaders(): readonly string[] {
    return this.#head.headers;
  }
  body(): Readable {
    return this.#link.body() ?? emptyBody();
  }

  get upgradeable(): boolean {
    return this.#head.upgrade && !this.answered;
  }
  takeOver(): { socket: Duplex; head: Buffer } {
    if (!this.upgradeable) throw new WharfError("WHARF_ERR_INTERNAL", "this exchange cannot be taken over");
    this.answered = true;
    const taken = this.#link.release();
    // The exchange is over when the tunnel closes (for the access log).
    taken.socket.once("close", () => this.#end());
    return taken;
  }

  closeConnection(): void {
    this.#link.closeAfter();
  }

  abort(): void {
    this.answered = true;
    this.#link.abort();
  }

  onDone(cb: (ex: Exchange) => void): void {
    if (this.#over) cb(this);
    else if (this.#done) this.#done.push(cb);
    else this.#done = [cb];
  }

  /** The connection closed before the response was complete. */
  aborted(): void {
    this.#end();
  }

  #end(): void {
    if (this.#over) return;
    this.#over = true;
    const done = this.#done;
    if (done) {
      this.#done = undefined;
      for (const cb of done) cb(this);
    }
  }

  /**
   * The head for `status`: the handlers' fields, Date, framing, Connection. `length`
   * undefined means unknown: chunked on HTTP/1.1, else the connection's close ends the body.
   */
  #headFor(status: number, length: number | undefined, prepared = ""): { head: string; chunked: boolean } {
    let head = statusLine(status) + this.out.toHead() + prepared + dateLine();
    let chunked = false;
    if (!isBodiless(status)) {
      if (length !== undefined) head += `Content-Length: ${length}\r\n`;
      else if (this.#head.minor === 1 && this.method !== "HEAD") {
        head += "Transfer-Encoding: chunked\r\n";
        chunked = true;
      } else if (this.method !== "HEAD") this.#link.closeAfter();
    }
    if (!this.#link.keepAlive()) head += "Connection: close\r\n\r\n";
    else if (this.#head.minor === 0) head += "Connection: keep-alive\r\n\r\n";
    else head += "\r\n";
    return { head, chunked };
  }

  protected writeWhole(
    status: number,
    length: number | undefined,
    body: Buffer | undefined,
    prepared?: FieldBlock,
    latin1?: string,
  ): void {
    const { head } = this.#headFor(status, length, prepared?.h1);
    if (body !== undefined) {
      this.bytesSent = body.length;
      // A body kept as a string goes out with its head in one string write: no buffer to
      // allocate or copy (the socket writes a flat one-byte string straight from memory).
      if (latin1 !== undefined) this.#link.write(head + latin1);
      else this.#writeWithBody(head, body);
    } else this.#link.write(head);
    this.#finish();
  }

  #writeWithBody(head: string, buf: Buffer): void {
    if (buf.length <= COALESCE) {
      // One buffer, one write: a small response leaves in one packet.
      const out = Buffer.allocUnsafe(head.length + buf.length);
      out.write(head, 0, "latin1");
      buf.copy(out, head.length);
      this.#link.write(out);
    } else {
      this.#link.write(head);
      this.#link.write(buf);
    }
  }

  protected canTrail(length: number | undefined): boolean {
    return length === undefined && this.#head.minor === 1;
  }

  protected writeStream(
    status: number,
    body: Readable,
    length: number | undefined,
    trailers: Trailers | undefined,
  ): void {
    const { head, chunked } = this.#headFor(status, length);
    const link = this.#link;
    // The head waits for the first bytes of the body (a small proxied response then leaves
    // in one write), but not past this turn of the event loop (a slow stream still gets
    // its head at once).
    let corked = true;
    const uncork = () => {
      if (!corked) return;
      corked = false;
      link.uncork();
    };
    link.cork();
    link.write(head);
    setImmediate(uncork);
    let stopped = false;
    const stop = () => {
      if (stopped) return false;
      stopped = true;
      return true;
    };
    this.onDone(() => {
      if (stop()) body.destroy();
    });
    const sink = {
      write: (chunk: Buffer): boolean => {
        const n = chunk.length;
        if (stopped || n === 0) return true;
        this.bytesSent += n;
        if (length !== undefined && this.bytesSent > length) {
          // More than announced: what was sent is a lie; cut the connection.
          stop();
          body.destroy();
          link.abort();
          return true;
        }
        let ok: boolean;
        if (chunked) {
          link.write(`${n.toString(16)}\r\n`);
          link.write(chunk);
          ok = link.write("\r\n");
        } else ok = link.write(chunk);
        uncork();
        return ok;
      },
      onDrain: (resume: () => void) => link.onDrain(resume),
    };
    pump(body, sink, (err) => {
      if (!stop()) return uncork();
      if (err !== undefined || (length !== undefined && this.bytesSent !== length)) {
        // The head is out: the only honest signal left is to cut the connection.
        uncork();
        link.abort();
        return;
      }
      if (chunked) {
        let last = "0\r\n";
        if (trailers) for (const [k, v] of sendableTrailers(trailers)) last += `${k}: ${v}\r\n`;
        link.write(`${last}\r\n`);
      }
      uncork();
      this.#finish();
    });
  }

  #finish(): void {
    this.#link.finished(this);
    this.#end();
  }
}

/** The error a request body stream fails with when it breaks the size limit. */
export function bodyTooLarge(): WharfError {
  return new WharfError("WHARF_ERR_BODY_TOO_LARGE");
}
