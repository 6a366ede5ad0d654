import type { Duplex, Readable } from "node:stream";
import type { FieldBlock, PreparedBody } from "./field-block.ts";
import type { Trailers } from "./trailers.ts";

/** Response header values as wharf keeps them: one string, or several for repeated fields. */
export type HeaderValue = string | string[];

/** Called just before the response head is written; filters change headers here. */
export type HeadHook = (ex: Exchange) => void;

/** How a body filter changes a response body: a stream transform, and optionally a whole-buffer one. */
export interface BodyTransform {
  /** The whole body at once, or undefined to go the stream's way. */
  buffer?(body: Buffer): Buffer | undefined;
  stream(): import("node:stream").Transform;
}

/**
 * Called once the head is final (after the head hooks), for a response with a body of
 * `length` bytes (undefined: unknown); it may change the head's fields and return a
 * transform for the body (the Content-Length then goes), or undefined to leave it.
 */
export type BodyFilter = (ex: Exchange, length: number | undefined) => BodyTransform | undefined;

/**
 * One request and its response, independent of the protocol engine underneath.
 * Handlers see only this; the engines (wharf's HTTP/1.1, node:http, HTTP/2 streams)
 * implement it on {@link BaseExchange}.
 */
export interface Exchange {
  /** The method; an internal redirect makes it GET. */
  method: string;
  /** The request-target (origin-form; for absolute-form, its path and query); rewrites change it. */
  readonly target: string;
  /** The target's path before `?`, still percent-encoded. */
  readonly rawPath: string;
  /** The query including its `?`, or "" when there is none. */
  readonly query: string;
  /** Points the exchange at another origin-form target (`rawPath` and `query` follow). */
  retarget(target: string): void;
  /** How many internal redirects led here (0 for a request from outside). */
  internalRedirects: number;
  /** Host name from the Host header (or the absolute-form target), lower-case, no port. */
  readonly host: string;
  readonly httpVersion: string;
  readonly scheme: "http" | "https";
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * The client's address, `{client_ip}`: the peer's, or what a trusted proxy said
   * (X-Forwarded-For, PROXY protocol), set once when the request is dispatched.
   */
  clientIp: string;
  /** The decoded, dot-segment-free path used for routing; set when the request is dispatched. */
  path: string;
  /** Request id: appears in error bodies and the log line. */
  readonly id: string;
  /** `performance.now()` when the request head was complete. */
  readonly startedAt: number;

  /** A request header by lower-case name; repeated fields are joined with ", ". */
  header(name: string): string | undefined;
  /** The request's header lines as received (with handlers' changes): name, value, name, value… */
  rawHeaders(): readonly string[];
  /** Sets or removes a request field for the handlers after this one (a filter's addition). */
  setRequestHeader(name: string, value: string): void;
  removeRequestHeader(name: string): void;
  /**
   * Whether the request carries a body: a Content-Length above zero or chunked framing on
   * HTTP/1.1; DATA frames to come (no END_STREAM on its HEADERS) on HTTP/2.
   */
  readonly hasBody: boolean;
  /** The request body as a stream (empty for requests without one); over the body limit it errors with a 413 WharfError. */
  body(): Readable;
  /** True for a request asking for a protocol switch (`Upgrade`) whose connection can be taken over. */
  readonly upgradeable: boolean;
  /**
   * Takes the connection over for a protocol switch (after the head, with any bytes that
   * followed it). The exchange is answered from then on; the caller owns the socket.
   */
  takeOver(): { socket: Duplex; head: Buffer };

  /** Response status, set by whoever answers. */
  status: number;
  getHeader(name: string): HeaderValue | undefined;
  setHeader(name: string, value: HeaderValue): void;
  appendHeader(name: string, value: string): void;
  removeHeader(name: string): void;
  /** Registers a hook run once just before the head goes out (response filters). */
  onHead(hook: HeadHook): void;
  /** Registers a body filter (compression), run after the head hooks. */
  onBody(filter: BodyFilter): void;

  /** Over TLS: whether the client presented a certificate the site's CA verified. */
  readonly clientVerified: boolean;
  /**
   * Closes the connection after this response (HTTP/1.1), e.g. when the rest of a request
   * body will not be read; on HTTP/2 only the stream ends, so there is nothing to do.
   */
  closeConnection(): void;
  /**
   * Ends the exchange without an answer (nginx's `return 444`): the connection is closed on
   * HTTP/1.1, the stream reset on HTTP/2 (with `http2Code`, CANCEL by default).
   */
  abort(http2Code?: number): void;
  /** Calls `cb` once the exchange is over: response sent, or connection gone. */
  onDone(cb: (ex: Exchange) => void): void;

  /** Sends a whole response; `body` is left out for HEAD and for bodiless statuses. */
  send(status: number, body?: Buffer | string): void;
  /**
   * Sends a whole response with prepared fields: the same as setting each of `fields` and
   * calling `send`, but engines write the prepared form when nothing clashes with it.
   */
  sendPrepared(status: number, fields: FieldBlock, body: PreparedBody | undefined): void;
  /**
   * Sends a response whose body comes from a stream, with backpressure; `length` sets
   * Content-Length; `trailers` follow the body where the protocol can carry them (chunked
   * HTTP/1.1, HTTP/2).
   */
  stream(status: number, body: Readable, length?: number, trailers?: Trailers): void;

  /** True once the head is written (or the exchange has been answered). */
  readonly answered: boolean;
  /** Body bytes written so far (for the access log). */
  readonly bytesSent: number;
  /** Site-specific pages for errors that wharf generates; set by the site dispatcher. */
  errorPages: ErrorPages | undefined;
}

/** Custom bodies for generated errors, by status. */
export type ErrorPages = ReadonlyMap<number, { body: Buffer; type: string }>;

/** What an engine calls with each request; the runtime provides it. */
export type RequestListener = (ex: Exchange) => void;

/** Bodiless statuses (RFC 9110 §6.4.1). */
export function isBodiless(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}
