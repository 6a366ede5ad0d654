import type { Logger } from "../core/logger.ts";
import type { WorkerMetrics } from "../core/metrics.ts";
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

/** An upstream as the admin API shows it. */
export interface UpstreamView {
  url: string;
  healthy: boolean;
  inFlight: number;
  /**
   * Requests its proxy holds that may still go to it (reading a body, waiting to be sent,
   * or being answered): an app is retired only once this and `inFlight` are 0.
   */
  queued: number;
  /** Failures counted since start. */
  fails: number;
  lastError: string | undefined;
  drained: boolean;
}

/**
 * The worker's upstreams, across proxies: each proxy adds what it has (and removes it when
 * closed); `isDrained` says which ones an operator took out (no new requests).
 */
export interface UpstreamRegistry {
  add(views: () => UpstreamView[]): () => void;
  isDrained(url: string): boolean;
}

/** What a handler gets when it is created. */
export interface HandlerContext {
  log: Logger;
  shared: SharedState;
  /** The worker's metrics, counted where the events are. */
  metrics: WorkerMetrics;
  upstreams: UpstreamRegistry;
  /**
   * An internal redirect: the exchange goes through its site's routes again for `target`
   * (an origin-form path and query), as a GET (a HEAD stays a HEAD); routes marked
   * `internal` answer it. Used for X-Accel-Redirect.
   */
  reroute(ex: Exchange, target: string): void | Promise<void>;
}
