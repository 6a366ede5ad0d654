import { performance } from "node:perf_hooks";
import type { Duplex, Readable } from "node:stream";
import { WharfError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { RequestListener } from "./exchange.ts";
import { RequestBody } from "./h1-body.ts";
import { ChunkedDecoder } from "./h1-chunked.ts";
import { bodyTooLarge, H1Exchange, type H1Link } from "./h1-exchange.ts";
import { HeadError, HeadScan, parseHead, scanHead } from "./h1-parse.ts";
import type { HttpLimits } from "./limits.ts";
import { rawResponse } from "./raw-response.ts";
import { routeTarget } from "./target.ts";

/** What every connection of one listener shares. */
export interface H1Shared {
  limits: HttpLimits;
  onRequest: RequestListener;
  log: Logger;
  scheme: "http" | "https";
  /** Set when the listener drains: responses say `Connection: close`, idle connections close. */
  draining: boolean;
}

type Socket = Duplex & {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  authorized?: boolean;
  setNoDelay?: (on: boolean) => unknown;
};

/** Bytes of an unread request body wharf reads and drops to keep a connection (as nginx does). */
const MAX_DISCARD = 1024 * 1024;
/** Pipelined bytes held while a response is in progress before the socket is paused. */
const MAX_AHEAD = 64 * 1024;
/** Where a head ends. */
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
/** Slack over the head limits for the request-line's method, version and line ends. */
const HEAD_SLACK = 1024;

/**
 * A clock that the deadline sweep advances each tick: setting a deadline on the hot path
 * reads a field instead of the system clock.
 */
export interface CoarseClock {
  now: number;
  tick: number;
}

/** Why a connection has a deadline, which decides what happens when it passes. */
type DeadlineKind = "none" | "head" | "idle" | "body" | "send";

/**
 * One HTTP/1.1 connection: parses requests from the socket's bytes one at a time (later
 * pipelined ones wait in the buffer, so responses keep their order), frames request
 * bodies, answers malformed input with a 4xx and closes, and keeps the connection alive
 * where it may. Idle, it holds no buffer and no exchange.
 */
export class H1Connection implements H1Link {
  readonly socket: Socket;
  readonly #shared: H1Shared;
  #buf: Buffer | undefined;
  #start = 0;
  readonly #scan = new HeadScan();
  #ex: H1Exchange | undefined;
  #keepAlive = true;
  /** No further request will be read: the connection ends after the current response. */
  #last = false;
  /** The client half-closed: buffered requests are answered, then the connection ends. */
  #inputEnded = false;
  #closed = false;
  #released = false;

  // The current request's body.
  #bodyDone = true;
  #bodyLeft = 0;
  #chunked: ChunkedDecoder | undefined;
  #body: RequestBody | undefined;
  #bodyWanted = false;
  #bodySeen = 0;
  #bodyPaused = false;
  #discarding = false;
  #continueAsked = false;
  #continueSent = false;

  #driving = false;
  #again = false;
  #readPaused = false;

  /** The coarse clock's time after which `timeout()` acts; 0 for none. */
  deadline = 0;
  #deadlineKind: DeadlineKind = "none";

  constructor(socket: Socket, shared: H1Shared, clock: CoarseClock) {
    this.#clock = clock;
    this.socket = socket;
    this.#shared = shared;
    this.#setDeadline("head", shared.limits.headerTimeout);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("close", () => this.#onClose());
    socket.on("error", () => {});
    socket.on("drain", () => this.#onDrainEvent());
  }

  get scheme(): "http" | "https" {
    return this.#shared.scheme;
  }
  get clientVerified(): boolean {
    return this.socket.authorized === true;
  }
  /** True when no request is in progress: a drain may close it now. */
  get idle(): boolean {
    return (
      this.#ex === undefined && this.#bodyDone && (this.#buf === undefined || this.#start >= this.#buf.length)
    );
  }

  // --- input ---

  #onData(chunk: Buffer): void {
    if (this.#closed || this.#released) return;
    const buf = this.#buf;
    if (buf === undefined || this.#start >= buf.length) {
      // Nothing unread: no head was in progress, so its scan starts afresh.
      this.#buf = chunk;
      this.#start = 0;
      this.#scan.reset(0);
      if (this.#deadlineKind === "idle") this.#setDeadline("head", this.#shared.limits.headerTimeout);
    } else {
      // Keep only what is unread: the head scan's positions move with it.
      const rest = buf.length - this.#start;
      const merged = Buffer.allocUnsafe(rest + chunk.length);
      buf.copy(merged, 0, this.#start);
      chunk.copy(merged, rest);
      this.#scan.from -= this.#start;
      this.#scan.lineStart -= this.#start;
      this.#buf = merged;
      this.#start = 0;
    }
    // Responses made while this chunk is processed (pipelining) leave in one write. Only
    // when the chunk holds more than one head's worth: corking a lone response costs more
    // than it saves (Node buffers the write, then flushes it on uncork). Body bytes, and
    // bytes that wait behind a response in progress, answer nothing now: not scanned.
    if (this.#bodyDone && this.#ex === undefined && this.#holdsMoreThanOneHead()) {
      this.socket.cork();
      this.#drive();
      this.socket.uncork();
    } else this.#drive();
  }

  #holdsMoreThanOneHead(): boolean {
    const buf = this.#buf!;
    const end = buf.indexOf(HEAD_END, this.#start);
    return end !== -1 && end + HEAD_END.length < buf.length;
  }

  #onEnd(): void {
    // The client sent all it will: answer what is in progress or buffered, then close.
    this.#inputEnded = true;
    if (this.#closed || this.#released) return;
    if (!this.#bodyDone) {
      if (this.#ex === undefined) return this.#destroy();
      this.#failBody(
        Object.assign(new Error("the client closed before sending the whole body"), { code: "ECONNRESET" }),
      );
    } else if (this.idle) this.#endSoon();
    else this.#drive();
  }

  #onClose(): void {
    this.#closed = true;
    this.deadline = 0;
    if (!this.#bodyDone) this.#body?.destroy(Object.assign(new Error("aborted"), { code: "ECONNRESET" }));
    const ex = this.#ex;
    this.#ex = undefined;
    ex?.aborted();
    this.#buf = undefined;
    this.onClosed?.();
  }

  /** Called once when the socket has closed (the engine forgets the connection). */
  onClosed: (() => void) | undefined;

  /** Processes what is buffered until it needs more bytes or a response. Re-entrant calls loop. */
  #drive(): void {
    if (this.#driving) {
      this.#again = true;
      return;
    }
    this.#driving = true;
    try {
      do {
        this.#again = false;
        this.#step();
      } while (this.#again && !this.#closed);
    } finally {
      this.#driving = false;
    }
  }

  #step(): void {
    if (this.#closed || this.#released) return;
    if (!this.#bodyDone) {
      this.#feedBody();
      if (!this.#bodyDone) return;
    }
    if (this.#ex !== undefined) {
      this.#holdAhead();
      return;
    }
    if (!this.#last) this.#nextHead();
  }

  /** While a response is in progress, pipelined bytes wait; too many, and reading pauses. */
  #holdAhead(): void {
    const buf = this.#buf;
    const ahead = buf === undefined ? 0 : buf.length - this.#start;
    this.#setReading(ahead < MAX_AHEAD && !this.#bodyPaused);
  }

  #nextHead(): void {
    const buf = this.#buf;
    const limits = this.#shared.limits;
    if (buf === undefined || this.#start >= buf.length) {
      this.#buf = undefined;
      this.#start = 0;
      if (this.#inputEnded) this.#endSoon();
      else this.#setReading(true);
      return;
    }
    // Body bytes were consumed since the scan last ran: it starts here.
    if (this.#scan.lineStart < this.#start) this.#scan.reset(this.#start);
    const end = scanHead(buf, buf.length, this.#scan);
    if (end === -1) {
      const pending = buf.length - this.#start;
      if (!this.#scan.sawLine && pending > limits.maxUriLength + HEAD_SLACK)
        return this.#refuse(414, "request-line too long");
      if (pending > limits.maxUriLength + limits.maxHeaderSize + HEAD_SLACK)
        return this.#refuse(431, "head too large");
      return;
    }
    const parsed = parseHead(buf, this.#start, end === -2 ? buf.length : end, limits);
    if (parsed instanceof HeadError) return this.#refuse(parsed.status, parsed.reason);
    this.#start = end;
    this.#scan.reset(end);

    const routed = routeTarget(parsed.method, parsed.target, parsed.host);
    this.#keepAlive = parsed.keepAlive && !parsed.upgrade;
    if (parsed.method === "CONNECT") return this.#refuse(405, "CONNECT", ["Allow: GET, HEAD, OPTIONS"]);
    if (typeof routed === "number") return this.#refuse(routed, "invalid request-target or Host");
    if (parsed.contentLength > limits.maxBodySize) return this.#refuse(413, "body too large");

    // The body's framing (RFC 9112 §6.3): chunked, Content-Length, or none.
    this.#bodySeen = 0;
    this.#body = undefined;
    this.#bodyWanted = false;
    this.#bodyPaused = false;
    this.#discarding = false;
    this.#continueAsked = parsed.expectContinue && parsed.minor === 1;
    this.#continueSent = false;
    if (parsed.chunked) {
      this.#chunked = new ChunkedDecoder(limits.maxHeaderSize);
      this.#bodyDone = false;
    } else if (parsed.contentLength > 0) {
      this.#chunked = undefined;
      this.#bodyLeft = parsed.contentLength;
      this.#bodyDone = false;
    } else this.#bodyDone = true;
    if (this.#bodyDone) this.#clearDeadline();
    else this.#setDeadline("body", limits.requestTimeout);

    const ex = new H1Exchange(this, parsed, routed.target, routed.host, performance.now());
    this.#ex = ex;
    try {
      this.#shared.onRequest(ex);
    } catch (err) {
      this.#shared.log.error("request handler threw", { err });
      if (!ex.answered) this.abort();
    }
    this.#again = true;
  }

  // --- request body ---

  body(): Readable | undefined {
    if (this.#bodyDone && this.#body === undefined && !this.#bodyWanted) return undefined;
    this.#bodyWanted = true;
    if (this.#continueAsked && !this.#continueSent && !this.#bodyDone && this.#ex?.answered === false) {
      // The client waits for this before it sends the body (RFC 9110 §10.1.1).
      this.#continueSent = true;
      this.write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (this.#body === undefined) {
      this.#body = new RequestBody(() => this.#wantBody());
      if (this.#bodyDone) this.#body.push(null);
    }
    return this.#body;
  }

  #wantBody(): void {
    if (!this.#bodyPaused) return;
    this.#bodyPaused = false;
    this.#setDeadline("body", this.#shared.limits.requestTimeout);
    this.#setReading(true);
    this.#drive();
  }

  readonly #onBodyData = (data: Buffer): void => {
    this.#bodySeen += data.length;
    if (this.#discarding) {
      if (this.#bodySeen > MAX_DISCARD) this.#destroy();
      return;
    }
    if (this.#bodySeen > this.#shared.limits.maxBodySize) {
      // Over the limit (a chunked body): the handler's read fails with 413; the rest is never read.
      this.#failBody(bodyTooLarge());
      return;
    }
    this.#body ??= new RequestBody(() => this.#wantBody());
    if (!this.#body.push(data)) this.#bodyPaused = true;
  };

  #feedBody(): void {
    const buf = this.#buf;
    while (!this.#bodyDone && !this.#bodyPaused && buf !== undefined && this.#start < buf.length) {
      if (this.#chunked !== undefined) {
        let used: number;
        try {
          used = this.#chunked.feed(buf, this.#start, buf.length, this.#onBodyData);
        } catch (err) {
          this.#failBody(new WharfError("WHARF_ERR_BAD_REQUEST", (err as HeadError).reason));
          return;
        }
        this.#start += used;
        if (this.#chunked.done) this.#bodyComplete();
      } else {
        const n = Math.min(this.#bodyLeft, buf.length - this.#start);
        const slice = buf.subarray(this.#start, this.#start + n);
        this.#start += n;
        this.#bodyLeft -= n;
        if (this.#bodyLeft === 0) this.#bodyDone = true;
        this.#onBodyData(slice);
        if (this.#bodyDone) this.#bodyComplete();
      }
      if (this.#closed) return;
    }
    if (this.#bodyPaused) {
      this.#clearDeadline();
      this.#setReading(false);
    }
  }

  #bodyComplete(): void {
    this.#bodyDone = true;
    this.#clearDeadline();
    if (this.#discarding) {
      this.#discarding = false;
      this.#setDeadline("head", this.#shared.limits.headerTimeout);
      this.#again = true;
      return;
    }
    this.#body?.push(null);
  }

  /** The body cannot be read to its end: the stream fails, and the connection ends after the response. */
  #failBody(err: Error): void {
    this.#bodyDone = true;
    this.#last = true;
    this.#keepAlive = false;
    this.#clearDeadline();
    if (this.#discarding || this.#ex === undefined) {
      this.#destroy();
      return;
    }
    this.#body ??= new RequestBody(() => this.#wantBody());
    this.#body.destroy(err);
  }

  // --- output ---

  keepAlive(): boolean {
    return this.#keepAlive && !this.#last && !this.#shared.draining;
  }

  closeAfter(): void {
    this.#keepAlive = false;
  }

  write(data: Buffer | string): boolean {
    if (this.#closed) return true;
    const ok = typeof data === "string" ? this.socket.write(data, "latin1") : this.socket.write(data);
    if (!ok) this.#setDeadline("send", this.#shared.limits.requestTimeout);
    return ok;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  #drainWaiters: (() => void)[] | undefined;

  onDrain(cb: () => void): void {
    if (this.#drainWaiters) this.#drainWaiters.push(cb);
    else this.#drainWaiters = [cb];
  }

  #onDrainEvent(): void {
    if (this.#deadlineKind === "send") this.#clearDeadline();
    const waiters = this.#drainWaiters;
    if (!waiters) return;
    this.#drainWaiters = undefined;
    for (const cb of waiters) cb();
  }

  finished(ex: H1Exchange): void {
    if (ex !== this.#ex) return;
    this.#ex = undefined;
    if (this.#closed) return;
    if (!this.keepAlive()) {
      this.#endSoon();
      return;
    }
    if (!this.#bodyDone) {
      // The handler answered without reading the whole body: read and drop the rest, as
      // long as that is cheap and the client is sending it (it may wait for a 100 Continue
      // that was never sent, and then the connection cannot be reused).
      const unread = this.#chunked ? 0 : this.#bodyLeft;
      const waitsForContinue = this.#continueAsked && !this.#continueSent && this.#bodySeen === 0;
      if (waitsForContinue || unread > MAX_DISCARD) {
        this.#endSoon();
        return;
      }
      this.#body?.destroy();
      this.#body = undefined;
      this.#bodyPaused = false;
      this.#discarding = true;
      this.#setDeadline("body", this.#shared.limits.requestTimeout);
    } else if (this.#buf === undefined || this.#start >= this.#buf.length) {
      if (this.#inputEnded) return this.#endSoon();
      this.#setDeadline("idle", this.#shared.limits.idleTimeout);
    } else this.#setDeadline("head", this.#shared.limits.headerTimeout);
    this.#setReading(true);
    this.#drive();
  }

  abort(): void {
    this.#destroy();
  }

  /** Called when the socket is handed over (protocol switch). */
  onReleased: ((socket: Duplex) => void) | undefined;

  release(): { socket: Duplex; head: Buffer } {
    this.#released = true;
    this.deadline = 0;
    const socket = this.socket;
    socket.removeAllListeners("data");
    socket.removeAllListeners("end");
    socket.removeAllListeners("drain");
    const head = this.#buf ? this.#buf.subarray(this.#start) : Buffer.alloc(0);
    this.#buf = undefined;
    this.#ex = undefined;
    // Paused until the new owner reads (a pipe resumes it): no byte is lost in between.
    socket.pause();
    this.onReleased?.(socket);
    return { socket, head };
  }

  // --- closing ---

  /** Answers a request the engine refuses (before any handler saw it) and closes. */
  #refuse(status: number, reason: string, extra: string[] = []): void {
    this.#shared.log.debug("request refused", { status, reason, remote: this.socket.remoteAddress });
    this.#last = true;
    this.#keepAlive = false;
    this.#buf = undefined;
    this.#send(rawResponse(status, extra));
    this.#endSoon();
  }

  #send(bytes: Buffer): void {
    if (!this.#closed) this.socket.write(bytes);
  }

  /** Ends the connection once what was written is flushed. */
  #endSoon(): void {
    this.#last = true;
    this.#clearDeadline();
    this.#setDeadline("send", this.#shared.limits.requestTimeout);
    // Once only: ending an ended stream makes Node build an error object every time.
    if (!this.#closed && !this.socket.writableEnded) this.socket.end();
  }

  #destroy(): void {
    if (!this.#closed) this.socket.destroy();
  }

  /** Closes the connection if nothing is in progress (for a drain); else after the response. */
  closeIfIdle(): void {
    if (this.idle && !this.#released) this.#destroy();
  }

  #setReading(on: boolean): void {
    if (on === !this.#readPaused) return;
    this.#readPaused = !on;
    if (on) this.socket.resume();
    else this.socket.pause();
  }

  // --- deadlines ---

  readonly #clock: CoarseClock;

  #setDeadline(kind: DeadlineKind, ms: number): void {
    this.#deadlineKind = kind;
    // The clock lags by up to a tick: add one, so a deadline is never early.
    this.deadline = this.#clock.now + ms + this.#clock.tick;
  }

  #clearDeadline(): void {
    this.#deadlineKind = "none";
    this.deadline = 0;
  }

  /** The deadline passed: a slow head gets 408, an idle or stuck connection is closed. */
  timeout(): void {
    const kind = this.#deadlineKind;
    this.#clearDeadline();
    if (this.#closed || this.#released) return;
    const partial = this.#buf !== undefined && this.#start < this.#buf.length;
    if (kind === "head" && partial && this.#ex === undefined) return this.#refuse(408, "head timeout");
    if (kind === "body" && this.#ex !== undefined && !this.#ex.answered) {
      this.#failBody(new WharfError("WHARF_ERR_TIMEOUT"));
      return;
    }
    this.#destroy();
  }
}
