import type { BucketRule, TakeResult } from "./buckets.ts";

/**
 * What wharf persists or coordinates through: certificates and keys, the ACME account,
 * order locks, challenge answers, OCSP staples, ticket keys, rate-limit counters. Keys are
 * slash-separated paths ("certificates/<ca>/<name>/cert.pem"); values are text.
 *
 * Every method may reject when the storage cannot be reached (Redis down): callers keep
 * what they hold in memory and try again later.
 */
export interface Storage {
  /** "file" or "redis": for logs, metrics and `wharf storage`. */
  readonly kind: string;
  /** Where it lives, without secrets (a directory, or a Redis URL without its password). */
  readonly where: string;
  get(key: string): Promise<string | undefined>;
  /** Stores `value` under `key`; with `ttlMs`, the key goes away after that long. */
  put(key: string, value: string, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every key that starts with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /**
   * Takes the lock `name` for `ttlMs`, renewed while held: a holder that dies releases it
   * when the ttl runs out. Resolves to undefined when somebody else holds it.
   */
  lock(name: string, ttlMs: number): Promise<Lock | undefined>;
  /**
   * Adds `by` to the counter `key` and returns its new value; a new counter expires
   * `ttlMs` after it was made. Counters are for rate limits: they need not outlive a restart.
   */
  incr(key: string, by: number, ttlMs: number): Promise<number>;
  /** The counter's value (0 when it is not there). */
  counter(key: string): Promise<number>;
  /**
   * Takes up to `want` tokens from the token bucket `key` (made full when new; gone once
   * it would be full again), atomically across clients: what rate limits count with.
   */
  take(key: string, rule: BucketRule, want: number): Promise<TakeResult>;
  /** Whether the storage answers now (a file storage always does). */
  readonly up: boolean;
  /** Why it last failed to connect (a refused password, an untrusted certificate…), for the logs. */
  readonly lastError?: string | undefined;
  /** Called with true/false when the storage goes away or comes back. */
  onStatus(listener: (up: boolean) => void): void;
  close(): Promise<void>;
}

/** A held lock: renewed by a timer until released; `lost` when a renewal found it taken. */
export interface Lock {
  readonly lost: boolean;
  release(): Promise<void>;
}

/** The storage's configuration (`server.storage`): the filesystem unless Redis is named. */
export interface StorageOptions {
  /** The data directory of the file storage. */
  dir: string;
  redis?: RedisOptions | undefined;
}

export interface RedisOptions {
  url: string;
  /** Prepended to every key, with a colon: several deployments can share one Redis. */
  prefix: string;
  /** TLS to Redis (rediss:// turns it on too): a CA bundle to trust, and whether to verify. */
  tls?: { ca?: string | undefined; insecure_skip_verify?: boolean | undefined } | undefined;
}

/** Opens the configured storage; the Redis client loads only when Redis is configured. */
export async function openStorage(opts: StorageOptions): Promise<Storage> {
  if (opts.redis) {
    const { RedisStorage } = await import("./redis.ts");
    return RedisStorage.open(opts.redis);
  }
  const { FileStorage } = await import("./file.ts");
  return new FileStorage(opts.dir);
}
