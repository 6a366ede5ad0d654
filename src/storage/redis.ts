import { readFileSync } from "node:fs";
import { createClient } from "@redis/client";
import type { BucketRule, TakeResult } from "./buckets.ts";
import { lockToken, RenewedLock } from "./lock.ts";
import type { Lock, RedisOptions, Storage } from "./storage.ts";

// Compare-and-act scripts: a lock is renewed or released only by the holder whose token it holds.
const RENEW =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const RELEASE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
// A counter gets its expiry when it is made (INCRBY keeps an existing one).
const INCR =
  "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return v";

// A token bucket (as src/storage/buckets.ts) on the server's clock, so instances whose clocks
// differ count alike. Fractions go back as strings (Lua numbers would be cut to integers).
const TAKE = `
local rate, cap, want, queue = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated = tonumber(b[1]), tonumber(b[2])
if tokens == nil or updated == nil then tokens, updated = cap, now end
tokens = math.min(cap, tokens + math.max(0, now - updated) / 1000 * rate)
local granted, wait = 0, 0
if tokens >= 1 then
  granted = math.min(want, math.floor(tokens))
  tokens = tokens - granted
elseif queue > 0 and tokens - 1 >= -queue then
  tokens = tokens - 1
  granted = 1
  wait = math.ceil(-tokens / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((cap - tokens) / rate * 1000) + 1000)
return {granted, wait, tostring(tokens)}`;

/** How long `open` waits for a first connection before going on without one. */
const FIRST_CONNECT_MS = 3000;
/** How long a command may go unanswered (a Redis that hangs) before it fails like a lost connection. */
const COMMAND_TIMEOUT_MS = 5000;

/**
 * The storage in Redis, through node-redis (`@redis/client`). Commands fail at once while
 * the connection is down (no offline queue: callers fall back to what they hold), and the
 * client reconnects by itself with a backoff of up to 5 s. A command unanswered for 5 s
 * (a Redis that hangs) fails too, so no order or renewal waits on it for ever.
 */
export class RedisStorage implements Storage {
  readonly kind = "redis";
  readonly where: string;
  readonly #client: ReturnType<typeof createClient>;
  readonly #prefix: string;
  readonly #listeners: ((up: boolean) => void)[] = [];
  #up = false;
  lastError: string | undefined;

  private constructor(opts: RedisOptions) {
    const url = new URL(opts.url);
    url.password = url.password ? "***" : "";
    this.where = url.toString();
    this.#prefix = opts.prefix ? `${opts.prefix}:` : "";
    const tls = opts.url.startsWith("rediss:") || opts.tls !== undefined;
    this.#client = createClient({
      url: opts.url,
      disableOfflineQueue: true,
      commandOptions: { timeout: COMMAND_TIMEOUT_MS, rejectInFlight: true },
      socket: {
        connectTimeout: 2000,
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 6), 5000),
        ...(tls
          ? {
              tls: true as const,
              ...(opts.tls?.ca ? { ca: readFileSync(opts.tls.ca) } : {}),
              rejectUnauthorized: !opts.tls?.insecure_skip_verify,
            }
          : {}),
      },
    });
    this.#client.on("ready", () => this.#status(true));
    this.#client.on("end", () => this.#status(false));
    this.#client.on("reconnecting", () => this.#status(false));
    // Errors are reported as status changes; the client reconnects by itself.
    this.#client.on("error", (err: Error) => {
      this.lastError = err.message;
      this.#status(false);
    });
  }

  /** Connects (waiting up to 3 s: a Redis that is down now may come back; serving starts anyway). */
  static async open(opts: RedisOptions): Promise<RedisStorage> {
    const s = new RedisStorage(opts);
    const connected = s.#client.connect().then(
      () => true,
      () => false,
    );
    await Promise.race([connected, new Promise((r) => setTimeout(r, FIRST_CONNECT_MS).unref())]);
    return s;
  }

  get up(): boolean {
    return this.#up;
  }

  onStatus(listener: (up: boolean) => void): void {
    this.#listeners.push(listener);
  }

  #status(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    for (const l of this.#listeners) l(up);
  }

  #key(key: string): string {
    return this.#prefix + key;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#client.get(this.#key(key))) ?? undefined;
  }

  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.#client.set(
      this.#key(key),
      value,
      ttlMs === undefined ? undefined : { PX: Math.max(1, ttlMs) },
    );
  }

  async delete(key: string): Promise<void> {
    await this.#client.del(this.#key(key));
  }

  async list(prefix: string): Promise<string[]> {
    const match = `${escapeGlob(this.#key(prefix))}*`;
    const out: string[] = [];
    for await (const batch of this.#client.scanIterator({ MATCH: match, COUNT: 500 })) {
      for (const k of batch) out.push(k.slice(this.#prefix.length));
    }
    return [...new Set(out)].sort();
  }

  async lock(name: string, ttlMs: number): Promise<Lock | undefined> {
    const key = this.#key(`locks/${name}`);
    const token = lockToken();
    const ok = await this.#client.set(key, token, { NX: true, PX: ttlMs });
    if (ok !== "OK") return undefined;
    return new RenewedLock(
      ttlMs,
      async () =>
        Number(await this.#client.eval(RENEW, { keys: [key], arguments: [token, String(ttlMs)] })) === 1,
      async () => {
        await this.#client.eval(RELEASE, { keys: [key], arguments: [token] });
      },
    );
  }

  async incr(key: string, by: number, ttlMs: number): Promise<number> {
    return Number(
      await this.#client.eval(INCR, { keys: [this.#key(key)], arguments: [String(by), String(ttlMs)] }),
    );
  }

  async counter(key: string): Promise<number> {
    return Number((await this.#client.get(this.#key(key))) ?? 0);
  }
  async take(key: string, rule: BucketRule, want: number): Promise<TakeResult> {
    const [granted, waitMs, left] = (await this.#client.eval(TAKE, {
      keys: [this.#key(key)],
      arguments: [String(rule.perSecond), String(rule.capacity), String(want), String(rule.queue)],
    })) as [number, number, string];
    const tokens = Number(left);
    return {
      granted: Number(granted),
      waitMs: Number(waitMs),
      remaining: Math.max(0, Math.floor(tokens)),
      retryMs: tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / rule.perSecond) * 1000),
    };
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
