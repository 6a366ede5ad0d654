import type { Http2Session, ServerHttp2Stream } from "node:http2";
import type { HttpLimits } from "./limits.ts";

/** Streams a client may have open at once on one connection. */
const MAX_STREAMS = 128;

/**
 * The HTTP/2 server options every engine uses: concurrent streams and the header list
 * bounded, and a client that resets streams faster than it may (rapid reset,
 * CVE-2023-44487) cut off with a GOAWAY.
 */
export function h2ServerOptions(limits: HttpLimits) {
  const headerList = limits.maxUriLength + limits.maxHeaderSize + 1024;
  return {
    settings: { maxConcurrentStreams: MAX_STREAMS, maxHeaderListSize: headerList },
    maxHeaderListPairs: 256,
    streamResetBurst: 1000,
    streamResetRate: 33,
  };
}

/**
 * The HTTP/2 sessions of one listener and their open streams: once draining, a session
 * whose last stream is done is closed outright rather than left to the client (which
 * may keep a GOAWAY'd connection open).
 */
export class H2Tracker {
  readonly #open = new Map<Http2Session, number>();
  #draining = false;

  /** Sessions open now. */
  get size(): number {
    return this.#open.size;
  }

  /** Follows a new session (one that arrives while draining gets its GOAWAY at once). */
  session(s: Http2Session): void {
    this.#open.set(s, 0);
    s.once("close", () => this.#open.delete(s));
    if (this.#draining) s.close();
  }

  /** Counts a stream until it closes. */
  stream(stream: ServerHttp2Stream): void {
    const s = stream.session;
    if (!s) return;
    this.#open.set(s, (this.#open.get(s) ?? 0) + 1);
    stream.once("close", () => {
      this.#open.set(s, (this.#open.get(s) ?? 1) - 1);
      this.#closeIfIdle(s);
    });
  }

  #closeIfIdle(s: Http2Session): void {
    if (this.#draining && (this.#open.get(s) ?? 0) === 0 && !s.destroyed) s.destroy();
  }

  /** GOAWAY to every client: streams in flight finish, then each session closes. */
  drain(): void {
    this.#draining = true;
    for (const s of this.#open.keys()) {
      s.close();
      this.#closeIfIdle(s);
    }
  }

  destroyAll(): void {
    for (const s of this.#open.keys()) s.destroy();
  }
}
