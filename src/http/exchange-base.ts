import { type Readable, Transform } from "node:stream";
import { WharfError } from "../core/errors.ts";
import type { BodyFilter, BodyTransform, ErrorPages, Exchange, HeaderValue, HeadHook } from "./exchange.ts";
import { isBodiless } from "./exchange.ts";
import type { FieldBlock, PreparedBody } from "./field-block.ts";
import { nextRequestId } from "./request-id.ts";
import { ResponseHeaders } from "./response-headers.ts";
import { announcedTrailers, type Trailers } from "./trailers.ts";

/**
 * What every engine's Exchange does the same way: the request-target split, the request
 * id, the response's header fields with the filters that change them just before the
 * head goes out, and the response calls (`send`, `sendPrepared`, `stream`) with their
 * guards. An engine writes what they decide through three primitives.
 */
export abstract class BaseExchange {
  method: string;
  target = "";
  rawPath = "";
  query = "";
  readonly host: string;
  readonly startedAt: number;
  path = "/";
  internalRedirects = 0;
  errorPages: ErrorPages | undefined = undefined;
  answered = false;
  bytesSent = 0;
  status = 200;
  protected readonly out = new ResponseHeaders();
  #hooks: HeadHook[] | undefined;
  #bodyFilters: BodyFilter[] | undefined;
  #id: string | undefined;
  /** Request fields changed by handlers (lower-case name → value; undefined: removed). */
  #requestFields: Map<string, string | undefined> | undefined;
  #clientIp: string | undefined;

  abstract readonly remoteAddress: string;

  constructor(method: string, target: string, host: string, startedAt: number) {
    this.method = method;
    this.host = host;
    this.startedAt = startedAt;
    this.retarget(target);
  }

  /** Points the exchange at another origin-form target (internal redirects and rewrites). */
  retarget(target: string): void {
    this.target = target;
    const q = target.indexOf("?");
    this.rawPath = q === -1 ? target : target.slice(0, q);
    this.query = q === -1 ? "" : target.slice(q);
  }

  get id(): string {
    this.#id ??= nextRequestId();
    return this.#id;
  }

  /** The client's address: the peer's (an IPv4-mapped IPv6 one as IPv4), unless a trusted proxy said otherwise. */
  get clientIp(): string {
    if (this.#clientIp === undefined) {
      const peer = this.remoteAddress;
      this.#clientIp = peer.startsWith("::ffff:") ? peer.slice(7) : peer;
    }
    return this.#clientIp;
  }
  set clientIp(ip: string) {
    this.#clientIp = ip;
  }

  header(name: string): string | undefined {
    const changed = this.#requestFields;
    if (changed?.has(name)) return changed.get(name);
    return this.readHeader(name);
  }

  rawHeaders(): readonly string[] {
    const changed = this.#requestFields;
    if (changed === undefined) return this.readRawHeaders();
    const raw = this.readRawHeaders();
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2)
      if (!changed.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
    for (const [name, value] of changed) if (value !== undefined) out.push(name, value);
    return out;
  }

  /** Sets a request field for the handlers after this one (forward_auth's copied fields). */
  setRequestHeader(name: string, value: string): void {
    this.#requestFields ??= new Map();
    this.#requestFields.set(name.toLowerCase(), value);
  }

  /** Removes a request field for the handlers after this one. */
  removeRequestHeader(name: string): void {
    this.#requestFields ??= new Map();
    this.#requestFields.set(name.toLowerCase(), undefined);
  }

  /** A request field as the engine received it (lower-case name; repeats joined). */
  protected abstract readHeader(name: string): string | undefined;
  /** The request's field lines as the engine received them. */
  protected abstract readRawHeaders(): readonly string[];

  getHeader(name: string): HeaderValue | undefined {
    return this.out.get(name);
  }
  setHeader(name: string, value: HeaderValue): void {
    this.out.set(name, value);
  }
  appendHeader(name: string, value: string): void {
    this.out.append(name, value);
  }
  removeHeader(name: string): void {
    this.out.remove(name);
  }
  onHead(hook: HeadHook): void {
    if (this.#hooks) this.#hooks.push(hook);
    else this.#hooks = [hook];
  }
  onBody(filter: BodyFilter): void {
    if (this.#bodyFilters) this.#bodyFilters.push(filter);
    else this.#bodyFilters = [filter];
  }

  /** Whether the response for the current status carries a body. */
  protected withBody(): boolean {
    return !isBodiless(this.status) && this.method !== "HEAD";
  }

  /**
   * Marks the exchange answered, sets the status and runs the head hooks, once; returns
   * the status they leave.
   */
  #settle(status: number): number {
    this.answered = true;
    this.status = status;
    const hooks = this.#hooks;
    if (hooks) {
      this.#hooks = undefined;
      for (const h of hooks) h(this as unknown as Exchange);
    }
    return this.status;
  }

  /** The body transforms the filters ask for, now that status and fields are final. */
  #transforms(length: number | undefined): BodyTransform[] | undefined {
    const filters = this.#bodyFilters;
    if (filters === undefined || !this.withBody()) return undefined;
    this.#bodyFilters = undefined;
    const out: BodyTransform[] = [];
    for (const f of filters) {
      const t = f(this as unknown as Exchange, length);
      if (t !== undefined) {
        out.push(t);
        length = undefined;
      }
    }
    return out.length > 0 ? out : undefined;
  }

  send(status: number, body?: Buffer | string): void {
    if (this.answered) return;
    let buf = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
    status = this.#settle(status);
    if (buf !== undefined && buf.length > 0) {
      const transforms = this.#transforms(buf.length);
      if (transforms !== undefined) {
        for (const t of transforms) {
          const whole: Buffer | undefined = t.buffer?.(buf);
          if (whole === undefined) return this.#streamThrough(status, buf, transforms);
          buf = whole;
        }
      }
    }
    const length = buf ? buf.length : isBodiless(status) ? undefined : 0;
    this.writeWhole(status, length, buf !== undefined && buf.length > 0 && this.withBody() ? buf : undefined);
  }

  /** A whole body that a filter wants to stream: it goes through every transform as a stream. */
  #streamThrough(status: number, buf: Buffer, transforms: BodyTransform[]): void {
    let body: Readable = oneChunk(buf);
    for (const t of transforms) body = chain(body, t.stream());
    this.writeStream(status, body, undefined, undefined);
  }

  sendPrepared(status: number, fields: FieldBlock, body: PreparedBody | undefined): void {
    if (this.answered) return;
    // Filters run on the head, and fields set elsewhere would be duplicated: the long way then.
    if (this.#hooks !== undefined || this.#bodyFilters !== undefined || this.out.clashes(fields.keys)) {
      for (let i = 0; i < fields.names.length; i++) this.setHeader(fields.names[i]!, fields.values[i]!);
      return this.send(status, body?.bytes);
    }
    status = this.#settle(status);
    const size = body === undefined ? (isBodiless(status) ? undefined : 0) : body.bytes.length;
    const withBody = body !== undefined && body.bytes.length > 0 && this.withBody();
    this.writeWhole(
      status,
      size,
      withBody ? body.bytes : undefined,
      fields,
      withBody ? body.latin1 : undefined,
    );
  }

  stream(status: number, body: Readable, length?: number, trailers?: Trailers): void {
    if (this.answered) {
      body.destroy();
      return;
    }
    status = this.#settle(status);
    const transforms = this.#transforms(length);
    if (transforms !== undefined) {
      for (const t of transforms) body = chain(body, t.stream());
      length = undefined;
    }
    // Trailers go where the protocol can carry them, announced in the head.
    const names = trailers && this.canTrail(length) ? announcedTrailers(trailers) : [];
    if (names.length > 0) this.out.set("Trailer", names.join(", "));
    if (!this.withBody()) {
      body.destroy();
      this.writeWhole(status, isBodiless(status) ? undefined : length, undefined);
      return;
    }
    this.writeStream(status, body, length, names.length > 0 ? trailers : undefined);
  }

  /**
   * Writes the head for `status` (its fields, `prepared` after them) with `length` as the
   * Content-Length (undefined for none), then `body` when given, and completes the
   * response. `latin1` is the body as a string, for engines that write strings.
   */
  protected abstract writeWhole(
    status: number,
    length: number | undefined,
    body: Buffer | undefined,
    prepared?: FieldBlock,
    latin1?: string,
  ): void;

  /** Writes the head, then `body` as it comes, with backpressure; `trailers` after it. */
  protected abstract writeStream(
    status: number,
    body: Readable,
    length: number | undefined,
    trailers: Trailers | undefined,
  ): void;

  /** Whether trailer fields can follow a body of this length on this protocol. */
  protected abstract canTrail(length: number | undefined): boolean;
}

/** A stream of one buffer. */
function oneChunk(buf: Buffer): Readable {
  const t = new Transform();
  t.end(buf);
  return t;
}

/** `src` piped into `next`, with an error of `src` passed on. */
function chain(src: Readable, next: Transform): Readable {
  src.once("error", (err) => next.destroy(err));
  next.once("close", () => src.destroy());
  return src.pipe(next);
}

/**
 * A request body held to `limit` bytes where no Content-Length was declared (one is
 * checked before dispatch): over it, the stream fails with a 413 WharfError.
 */
export function limitBody(body: Readable, declared: boolean, limit: number): Readable {
  if (declared || !Number.isFinite(limit)) return body;
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) done(new WharfError("WHARF_ERR_BODY_TOO_LARGE"));
      else done(null, chunk);
    },
  });
  body.on("error", (err) => counter.destroy(err));
  return body.pipe(counter);
}
