import type { Duplex, Readable } from "node:stream";
import { STATUS_TEXT, WharfError } from "../core/errors.ts";
import type { ErrorPages, Exchange } from "./exchange.ts";
import { isBodiless, sendFieldsThenBody } from "./exchange.ts";
import { ExchangeHeads } from "./exchange-base.ts";
import type { FieldBlock, PreparedBody } from "./field-block.ts";
import { emptyBody } from "./h1-body.ts";
import type { RequestHead } from "./h1-parse.ts";
import { dateLine } from "./http-date.ts";
import { nextRequestId } from "./request-id.ts";
import { announcedTrailers, sendableTrailers, type Trailers } from "./trailers.ts";

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
export class H1Exchange extends ExchangeHeads implements Exchange {
  readonly method: string;
  readonly target: string;
  readonly rawPath: string;
  readonly query: string;
  readonly host: string;
  readonly httpVersion: string;
  readonly startedAt: number;
  path = "/";
  errorPages: ErrorPages | undefined = undefined;
  answered = false;
  bytesSent = 0;
  readonly #link: H1Link;
  readonly #head: RequestHead;
  #done: ((ex: Exchange) => void)[] | undefined;
  #over = false;
  #id: string | undefined;
  #remoteAddress: string | undefined;
  #remotePort = 0;

  constructor(link: H1Link, head: RequestHead, target: string, host: string, startedAt: number) {
    super();
    this.#link = link;
    this.#head = head;
    this.method = head.method;
    this.target = target;
    const q = target.indexOf("?");
    this.rawPath = q === -1 ? target : target.slice(0, q);
    this.query = q === -1 ? "" : target.slice(q);
    this.host = host;
    this.httpVersion = head.minor === 1 ? "1.1" : "1.0";
    this.startedAt = startedAt;
  }

  get scheme(): "http" | "https" {
    return this.#link.scheme;
  }
  get remoteAddress(): string {
    if (this.#remoteAddress === undefined) {
      this.#remoteAddress = this.#link.socket.remoteAddress ?? "";
      this.#remotePort = this.#link.socket.remotePort ?? 0;
    }
    return this.#remoteAddress;
  }
  get remotePort(): number {
    if (this.#remoteAddress === undefined) void this.remoteAddress;
    return this.#remotePort;
  }
  get id(): string {
    this.#id ??= nextRequestId();
    return this.#id;
  }
  get clientVerified(): boolean {
    return this.#link.clientVerified;
  }
  get hasBody(): boolean {
    return this.#head.chunked || this.#head.contentLength > 0;
  }

  header(name: string): string | undefined {
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
  rawHeaders(): readonly string[] {
    return this.#head.headers;
  }
  body(): Readable {
    return this.#link.body() ?? emptyBody();
  }

  get upgradeable(): boolean {
    return this.#head.upgrade && !this.answered;
  }
  takeOver(): { socket: Duplex; head: Buffer } {
    if (!this.upgradeable) throw new Error("this exchange cannot be taken over");
    this.answered = true;
    const taken = this.#link.release();
    // The exchange is over when the tunnel closes (for the access log).
    taken.socket.once("close", () => this.#end());
    return taken;
  }

  closeConnection(): void {
    this.#link.closeAfter();
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
    this.answered = true;
    status = this.settle(status);
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

  #withBody(): boolean {
    return !isBodiless(this.status) && this.method !== "HEAD";
  }

  send(status: number, body?: Buffer | string): void {
    if (this.answered) return;
    const buf = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
    const { head } = this.#headFor(status, buf ? buf.length : isBodiless(status) ? undefined : 0);
    if (buf !== undefined && buf.length > 0 && this.#withBody()) {
      this.bytesSent = buf.length;
      this.#writeWithBody(head, buf);
    } else this.#link.write(head);
    this.#finish();
  }

  sendPrepared(status: number, fields: FieldBlock, body: PreparedBody | undefined): void {
    if (this.answered) return;
    // Filters run on the head, and fields set elsewhere would be duplicated: the long way then.
    if (this.hooked || this.out.clashes(fields.keys)) return sendFieldsThenBody(this, status, fields, body);
    const size = body === undefined ? (isBodiless(status) ? undefined : 0) : body.bytes.length;
    const { head } = this.#headFor(status, size, fields.h1);
    if (body !== undefined && body.bytes.length > 0 && this.#withBody()) {
      this.bytesSent = body.bytes.length;
      // A body kept as a string goes out with its head in one string write: no buffer to
      // allocate or copy (the socket writes a flat one-byte string straight from memory).
      if (body.latin1 !== undefined) this.#link.write(head + body.latin1);
      else this.#writeWithBody(head, body.bytes);
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

  stream(status: number, body: Readable, length?: number, trailers?: Trailers): void {
    if (this.answered) {
      body.destroy();
      return;
    }
    // Trailers go after the last chunk: announced when the body will be chunked.
    const names =
      trailers && length === undefined && this.#head.minor === 1 ? announcedTrailers(trailers) : [];
    if (names.length > 0) this.out.set("Trailer", names.join(", "));
    const { head, chunked } = this.#headFor(status, length);
    if (!this.#withBody()) {
      this.#link.write(head);
      body.destroy();
      this.#finish();
      return;
    }
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
    const resume = () => body.resume();
    body.on("data", (chunk: Buffer) => {
      if (stopped) return;
      const n = chunk.length;
      if (n === 0) return;
      this.bytesSent += n;
      if (length !== undefined && this.bytesSent > length) {
        // More than announced: what was sent is a lie; cut the connection.
        stop();
        body.destroy();
        link.abort();
        return;
      }
      let ok: boolean;
      if (chunked) {
        link.write(`${n.toString(16)}\r\n`);
        link.write(chunk);
        ok = link.write("\r\n");
      } else ok = link.write(chunk);
      uncork();
      if (!ok) {
        body.pause();
        link.onDrain(resume);
      }
    });
    body.once("end", () => {
      if (!stop()) return;
      if (length !== undefined && this.bytesSent !== length) {
        link.abort();
        return;
      }
      if (chunked) {
        let last = "0\r\n";
        if (names.length > 0 && trailers)
          for (const [k, v] of sendableTrailers(trailers)) last += `${k}: ${v}\r\n`;
        link.write(`${last}\r\n`);
      }
      uncork();
      this.#finish();
    });
    body.once("error", () => {
      // The head is out: the only honest signal left is to cut the connection.
      uncork();
      if (stop()) link.abort();
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
