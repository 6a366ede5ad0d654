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

/** What a handler gets when it is created. */
export interface HandlerContext {
  log: Logger;
}
