import { type Duplex, Readable } from "node:stream";
import { pump } from "../core/pump.ts";
import { ChunkedDecoder } from "./h1-chunked.ts";
import { parseResponseHead } from "./response-head.ts";
import {
  type ClientRequest,
  type ClientResponse,
  classify,
  type Timeouts,
  UpstreamError,
} from "./upstream.ts";
import type { UpstreamAddress } from "./upstream-address.ts";
import { connectUpstream, type UpstreamTls } from "./upstream-connect.ts";

export interface H1ClientOptions {
  timeouts: Timeouts;
  /** Connections to this upstream at most (busy and idle); more requests wait for one. */
  maxConnections: number;
  /** How long an unused connection is kept. */
  idleTimeout: number;
  tls?: UpstreamTls;
  /** Opens a connection (by default to the address, over TCP, a unix socket or TLS); tests pass in-memory pairs. */
  connect?: (signal: AbortSignal) => Promise<Duplex>;
}

const EMPTY = Buffer.alloc(0);

/** For connections opened on behalf of whichever request waits longest (it has its own abort). */
const NEVER = new AbortController().signal;

/** A response body as the upstream connection reads it; reading more resumes the socket. */
class UpstreamBody extends Readable {
  wanted: (() => void) | undefined;
  override _read(): void {
    this.wanted?.();
  }
}

/** How a response body is framed (RFC 9112 §6.3). */
type Framing = "none" | "length" | "chunked" | "close";

/** What one request on a connection is waiting for. */
interface Pending {
  req: ClientRequest;
  resolve: (r: ClientResponse) => void;
  reject: (e: UpstreamError) => void;
  head: Buffer | undefined;
  body: UpstreamBody | undefined;
  framing: Framing;
  left: number;
  chunked: ChunkedDecoder | undefined;
  /** The whole request went out (a connection is reusable only then). */
  sent: boolean;
  keepAlive: boolean;
  timer: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * HTTP/1.1 to one upstream over kept-alive connections of wharf's own: the request head
 * written in one piece with its body (or streamed with backpressure), the response head
 * parsed once, the body handed on as slices of what the socket read.
 */
export class H1Client {
  readonly #addr: UpstreamAddress;
  readonly #opts: H1ClientOptions;
  readonly #idle: Conn[] = [];
  readonly #all = new Set<Conn>();
  readonly #waiting: ((c: Conn | UpstreamError) => void)[] = [];
  #connecting = 0;
  #closed = false;

  constructor(addr: UpstreamAddress, opts: H1ClientOptions) {
    this.#addr = addr;
    this.#opts = opts;
  }

  async request(req: ClientRequest): Promise<ClientResponse> {
    const conn = await this.#acquire(req.signal);
    return conn.send(req);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const c of this.#all) c.socket.destroy();
    for (const w of this.#waiting.splice(0)) w(new UpstreamError("connect", "the upstream pool is closed"));
  }

  #acquire(signal: AbortSignal): Promise<Conn> {
    const idle = this.#idle.pop();
    if (idle) {
      idle.unidle();
      return Promise.resolve(idle);
    }
    if (this.#all.size + this.#connecting < this.#opts.maxConnections) return this.#connect(signal);
    return new Promise((resolve, reject) => {
      const w = (c: Conn | UpstreamError) => (c instanceof UpstreamError ? reject(c) : resolve(c));
      this.#waiting.push(w);
      signal.addEventListener(
        "abort",
        () => {
          const i = this.#waiting.indexOf(w);
          if (i !== -1) this.#waiting.splice(i, 1);
          reject(new UpstreamError("protocol", "the client went away"));
        },
        { once: true },
      );
    });
  }

  async #connect(signal: AbortSignal): Promise<Conn> {
    this.#connecting++;
    let socket: Duplex;
    try {
      socket = this.#opts.connect
        ? await this.#opts.connect(signal)
        : await connectUpstream(this.#addr, this.#opts.timeouts.connect, this.#opts.tls, signal);
    } finally {
      this.#connecting--;
    }
    const conn = new Conn(socket, this.#opts.timeouts, (c, reusable) => this.#release(c, reusable));
    this.#all.add(conn);
    socket.once("close", () => {
      this.#all.delete(conn);
      const i = this.#idle.indexOf(conn);
      if (i !== -1) this.#idle.splice(i, 1);
      this.#wakeOne();
    });
    return conn;
  }

  /** A connection is free again: to the next waiting request, or idle. */
  #release(conn: Conn, reusable: boolean): void {
    if (!reusable || this.#closed) {
      conn.socket.destroy();
      return;
    }
    const next = this.#waiting.shift();
    if (next) next(conn);
    else {
      conn.idle(this.#opts.idleTimeout);
      this.#idle.push(conn);
    }
  }

  /** A connection closed: a waiting request may open a new one. */
  #wakeOne(): void {
    const next = this.#waiting.shift();
    if (!next) return;
    this.#connect(NEVER).then(next, next);
  }
}

/** One connection to the upstream, carrying one request at a time. */
class Conn {
  readonly socket: Duplex;
  readonly #timeouts: Timeouts;
  readonly #done: (c: Conn, reusable: boolean) => void;
  #p: Pending | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(socket: Duplex, timeouts: Timeouts, done: (c: Conn, reusable: boolean) => void) {
    this.socket = socket;
    this.#timeouts = timeouts;
    this.#done = done;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("error", (err) => this.#fail(classify(err)));
    socket.on("close", () =>
      this.#fail(withCode(new UpstreamError("protocol", "upstream closed the connection"), "ECONNRESET")),
    );
  }

  idle(ms: number): void {
    this.#idleTimer = setTimeout(() => this.socket.destroy(), ms);
    this.#idleTimer.unref();
  }

  unidle(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  send(req: ClientRequest): Promise<ClientResponse> {
    return new Promise((resolve, reject) => {
      const p: Pending = {
        req,
        resolve,
        reject,
        head: undefined,
        body: undefined,
        framing: "none",
        left: 0,
        chunked: undefined,
        sent: false,
        keepAlive: true,
        timer: undefined,
        onAbort: undefined,
      };
      this.#p = p;
      p.onAbort = () => this.#fail(new UpstreamError("protocol", "the client went away"));
      req.signal.addEventListener("abort", p.onAbort, { once: true });
      this.#arm(this.#timeouts.header, `no response head within ${this.#timeouts.header} ms`);
      this.#writeRequest(p);
    });
  }

  #arm(ms: number, why: string): void {
    const p = this.#p;
    if (!p) return;
    if (p.timer) clearTimeout(p.timer);
    p.timer = setTimeout(() => this.#fail(new UpstreamError("timeout", why)), ms);
  }

  #writeRequest(p: Pending): void {
    const { req } = p;
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    let hasLength = false;
    for (const [k, v] of req.headers) {
      if (k.length === 14 && k.toLowerCase() === "content-length") hasLength = true;
      head += `${k}: ${v}\r\n`;
    }
    const body = req.body;
    const socket = this.socket;
    if (body === undefined) {
      if (!hasLength && (req.method === "POST" || req.method === "PUT" || req.method === "PATCH"))
        head += "Content-Length: 0\r\n";
      socket.write(`${head}\r\n`, "latin1");
      p.sent = true;
      return;
    }
    if (Buffer.isBuffer(body)) {
      if (!hasLength) head += `Content-Length: ${body.length}\r\n`;
      socket.cork();
      socket.write(`${head}\r\n`, "latin1");
      socket.write(body);
      socket.uncork();
      p.sent = true;
      return;
    }
    // A stream: with its length as given, else chunked; paced by the socket.
    const chunked = !hasLength && req.bodyLength === undefined;
    if (!hasLength && !chunked) head += `Content-Length: ${req.bodyLength}\r\n`;
    if (chunked) head += "Transfer-Encoding: chunked\r\n";
    socket.write(`${head}\r\n`, "latin1");
    const sink = {
      write: (chunk: Buffer): boolean => {
        if (this.#p !== p || chunk.length === 0) return true;
        if (!chunked) return socket.write(chunk);
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, "latin1");
        socket.write(chunk);
        const ok = socket.write("\r\n", "latin1");
        socket.uncork();
        return ok;
      },
      onDrain: (resume: () => void) => socket.once("drain", resume),
    };
    pump(body, sink, (err) => {
      if (this.#p !== p) return;
      // The client's body failed (too large, cut off): the request cannot be completed.
      if (err) return this.#fail(new UpstreamError("protocol", err.message, { cause: err }));
      if (chunked) socket.write("0\r\n\r\n", "latin1");
      p.sent = true;
    });
  }

  #onData(chunk: Buffer): void {
    const p = this.#p;
    if (!p) {
      // Bytes on an idle connection: nothing was asked; it cannot be trusted again.
      this.socket.destroy();
      return;
    }
    if (p.body === undefined) {
      const buf = p.head ? Buffer.concat([p.head, chunk]) : chunk;
      let parsed: ReturnType<typeof parseResponseHead>;
      try {
        parsed = parseResponseHead(buf, "http");
      } catch (err) {
        return this.#fail(new UpstreamError("protocol", (err as Error).message));
      }
      if (!parsed) {
        p.head = buf;
        return;
      }
      p.head = undefined;
      // Interim responses (100 Continue, 103 Early Hints) are not passed on; the final one follows.
      if (parsed.status >= 100 && parsed.status < 200 && parsed.status !== 101) {
        if (parsed.rest.length > 0) this.#onData(parsed.rest);
        return;
      }
      this.#frame(p, parsed.status, parsed.headers);
      const rest = parsed.rest;
      if (p.framing === "none" || (p.framing === "length" && rest.length >= p.left)) {
        // The whole body is here (or there is none): handed on as it is, the connection freed.
        const whole = p.framing === "none" ? EMPTY : rest.subarray(0, p.left);
        if (rest.length > whole.length) p.keepAlive = false;
        this.#detach(p);
        p.resolve({ status: parsed.status, headers: parsed.headers, body: whole });
        this.#done(this, p.keepAlive && p.sent);
        return;
      }
      this.#startBody(p, parsed.status, parsed.headers);
      if (rest.length > 0) this.#feed(p, rest);
      return;
    }
    this.#feed(p, chunk);
  }

  /** How the response body is framed (RFC 9112 §6.3), and whether the connection may be kept. */
  #frame(p: Pending, status: number, headers: [string, string][]): void {
    let length = -1;
    let chunked = false;
    for (const [k, v] of headers) {
      const l = k.toLowerCase();
      if (l === "content-length") length = Number(v);
      else if (l === "transfer-encoding") chunked = v.toLowerCase().includes("chunked");
      else if (l === "connection" && /\bclose\b/i.test(v)) p.keepAlive = false;
    }
    if (p.req.method === "HEAD" || status === 204 || status === 304) p.framing = "none";
    else if (chunked) {
      p.framing = "chunked";
      p.chunked = new ChunkedDecoder(64 * 1024);
    } else if (length >= 0) {
      p.framing = length === 0 ? "none" : "length";
      p.left = length;
    } else {
      p.framing = "close";
      p.keepAlive = false;
    }
  }

  #startBody(p: Pending, status: number, headers: [string, string][]): void {
    const body = new UpstreamBody({ highWaterMark: 256 * 1024 });
    body.wanted = () => this.socket.resume();
    p.body = body;
    this.#arm(this.#timeouts.read, `upstream silent for ${this.#timeouts.read} ms`);
    const decoder = p.chunked;
    p.resolve({ status, headers, body, ...(decoder ? { trailers: () => decoder.trailers } : {}) });
  }

  readonly #push = (data: Buffer): void => {
    const body = this.#p?.body;
    if (body && !body.push(data)) this.socket.pause();
  };

  #feed(p: Pending, chunk: Buffer): void {
    this.#arm(this.#timeouts.read, `upstream silent for ${this.#timeouts.read} ms`);
    if (p.framing === "close") return this.#push(chunk);
    if (p.framing === "length") {
      const n = Math.min(p.left, chunk.length);
      p.left -= n;
      this.#push(n === chunk.length ? chunk : chunk.subarray(0, n));
      // Bytes past the announced length: the connection cannot be trusted again.
      if (n < chunk.length) p.keepAlive = false;
      if (p.left === 0) this.#finish(p);
      return;
    }
    if (p.framing === "chunked") {
      try {
        const used = p.chunked!.feed(chunk, 0, chunk.length, this.#push);
        if (used < chunk.length) p.keepAlive = false;
      } catch (err) {
        return this.#fail(new UpstreamError("protocol", `bad chunked response: ${(err as Error).message}`));
      }
      if (p.chunked!.done) this.#finish(p);
      return;
    }
    // A bodiless response followed by bytes: not a connection to reuse.
    p.keepAlive = false;
    this.#finish(p);
  }

  #finish(p: Pending): void {
    this.#detach(p);
    p.body?.push(null);
    this.#done(this, p.keepAlive && p.sent);
  }

  #onEnd(): void {
    const p = this.#p;
    if (p?.body && p.framing === "close") {
      p.keepAlive = false;
      return this.#finish(p);
    }
    this.#fail(withCode(new UpstreamError("protocol", "upstream closed the connection"), "ECONNRESET"));
  }

  /** The exchange in progress (if any) fails; the connection is not used again. */
  #fail(err: UpstreamError): void {
    const p = this.#p;
    if (p) {
      this.#detach(p);
      if (p.body) p.body.destroy(err);
      else p.reject(err);
    }
    this.socket.destroy();
  }

  #detach(p: Pending): void {
    if (this.#p !== p) return;
    this.#p = undefined;
    if (p.timer) clearTimeout(p.timer);
    if (p.onAbort) p.req.signal.removeEventListener("abort", p.onAbort);
    this.socket.resume();
  }
}

function withCode(err: UpstreamError, code: string): UpstreamError {
  Object.assign(err, { cause: Object.assign(new Error(err.message), { code }) });
  return err;
}
