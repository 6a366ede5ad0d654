/**
 * Token buckets by key, with no timer: a bucket's tokens are topped up from the time
 * passed whenever it is touched. At most `maxKeys` kept (the least recently used go).
 */
export interface Bucket {
  tokens: number;
  /** ms */
  updated: number;
}

/** A token bucket: `capacity` tokens, filling at `perSecond`; `queue` tokens may be borrowed ahead (delay mode). */
export interface BucketRule {
  perSecond: number;
  capacity: number;
  queue: number;
}

export interface TakeResult {
  /** Tokens handed out (0: refused). */
  granted: number;
  /** For delayed requests: how long to wait before going on, ms. */
  waitMs: number;
  /** Tokens left after this take (for RateLimit). */
  remaining: number;
  /** ms until the next token. */
  retryMs: number;
}

export class Buckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxKeys: number;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes up to `want` tokens for `key` from a bucket of `capacity` filling at `perSecond`.
   * With `queue` (delay mode), one token may be borrowed ahead, down to `-queueSize`: the
   * request then waits until its token would have come.
   */
  take(
    key: string,
    perSecond: number,
    capacity: number,
    want: number,
    queue: number,
    now = Date.now(),
  ): TakeResult {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: capacity, updated: now };
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    } else this.#buckets.delete(key);
    this.#buckets.set(key, b);
    b.tokens = Math.min(capacity, b.tokens + ((now - b.updated) / 1000) * perSecond);
    b.updated = now;
    const retry = (tokens: number) => Math.ceil(((1 - tokens) / perSecond) * 1000);
    if (b.tokens >= 1) {
      const granted = Math.min(want, Math.floor(b.tokens));
      b.tokens -= granted;
      return {
        granted,
        waitMs: 0,
        remaining: Math.floor(b.tokens),
        retryMs: b.tokens >= 1 ? 0 : retry(b.tokens),
      };
    }
    if (queue > 0 && b.tokens - 1 >= -queue) {
      b.tokens -= 1;
      return {
        granted: 1,
        waitMs: Math.ceil((-b.tokens / perSecond) * 1000),
        remaining: 0,
        retryMs: retry(b.tokens),
      };
    }
    return { granted: 0, waitMs: 0, remaining: 0, retryMs: retry(b.tokens) };
  }
}
