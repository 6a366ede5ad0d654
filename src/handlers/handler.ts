import type { Logger } from "../core/logger.ts";
import type { Exchange } from "../http/exchange.ts";

/** Passes the exchange on to the next handler of the chain (or the next matching route). */
export type Next = () => void | Promise<void>;

/** Answers an exchange, or filters it and calls `next`. May be async; a rejection becomes a 500. */
export type Handle = (ex: Exchange, next: Next) => void | Promise<void>;

/** A handler built from its config for one config load. */
export interface HandlerInstance {
  handle: Handle;
  /** Releases what `create` acquired; safe after a partial `create`. */
  close?(): void | Promise<void>;
}

/**
 * State shared by the workers of one instance (response cache, rate-limit buckets): held
 * by the primary and reached over IPC, or in process where there are no workers.
 * `request` asks a service (`cache.get`…) and resolves with its answer; `on` hears what
 * the primary tells every worker (`cache.drop`…).
 */
export interface SharedState {
  request(kind: string, body: unknown): Promise<unknown>;
  on(kind: string, listener: (body: unknown) => void): void;
}

/** What a handler gets when it is created. */
export interface HandlerContext {
  log: Logger;
  shared: SharedState;
  /**
   * An internal redirect: the exchange goes through its site's routes again for `target`
   * (an origin-form path and query), as a GET (a HEAD stays a HEAD); routes marked
   * `internal` answer it. Used for X-Accel-Redirect.
   */
  reroute(ex: Exchange, target: string): void | Promise<void>;
}
