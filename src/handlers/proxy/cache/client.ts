import type { SharedState } from "../../handler.ts";
import type { LockResult } from "./service.ts";
import { type StoredResponse, Zone } from "./zone.ts";

/**
 * Each worker's copies of the shared zones, by name, kept across reloads: a reload that
 * keeps a cache keeps what it holds.
 */
const localZones = new Map<string, Zone>();

/** Buffers sent over IPC arrive as plain byte arrays: make them Buffers again. */
function revive(r: StoredResponse): StoredResponse {
  const b = r.body as Buffer | Uint8Array;
  return Buffer.isBuffer(b) ? r : { ...r, body: Buffer.from(b.buffer, b.byteOffset, b.byteLength) };
}

/**
 * A worker's view of one cache zone: a local LRU copy in front of the shared store, and
 * the collapsing of concurrent misses (first within the worker, then across workers
 * through the primary's locks). Purges heard from the primary drop the local copies.
 */
export class CacheClient {
  readonly zone: string;
  readonly #local: Zone;
  readonly #shared: SharedState;
  readonly #lockWait: number;
  readonly #inflight = new Map<string, Promise<LockResult>>();
  readonly #maxBytes: number;
  /** Whether the zone is shared with other instances through the storage (`cache.shared`). */
  readonly #tier: boolean;

  constructor(zone: string, maxBytes: number, shared: SharedState, lockWait: number, tier = false) {
    this.zone = zone;
    this.#maxBytes = maxBytes;
    this.#tier = tier;
    this.#shared = shared;
    this.#lockWait = lockWait;
    let local = localZones.get(zone);
    if (local === undefined) {
      local = new Zone(maxBytes);
      localZones.set(zone, local);
    }
    local.maxBytes = maxBytes;
    this.#local = local;
    listen(shared);
  }

  /** The stored variant for a request: the local copy, else the shared store's. */
  async lookup(
    key: string,
    header: (name: string) => string | undefined,
    local = true,
  ): Promise<StoredResponse | undefined> {
    if (local) {
      const here = this.#local.select(key, header);
      if (here !== undefined) return here;
    }
    const variants = (await this.#shared.request("cache.get", {
      zone: this.zone,
      key,
      max: this.#maxBytes,
      tier: this.#tier,
    })) as StoredResponse[];
    for (const v of variants) this.#local.put(key, revive(v));
    return variants.length > 0 ? this.#local.select(key, header) : undefined;
  }

  /**
   * The right to fetch `key` from upstream: "go" (this request fetches, then `store` or
   * `release`), or the outcome of the fetch another request made ("filled", "released",
   * or "timeout" when it took longer than the lock wait).
   */
  lock(key: string): Promise<LockResult> | "go" {
    const pending = this.#inflight.get(key);
    // Within this worker, one asks the primary; the others wait for the same answer.
    if (pending !== undefined) return pending.then((r) => (r === "go" ? "filled" : r));
    let settle: (r: LockResult) => void = () => {};
    const mine = new Promise<LockResult>((r) => {
      settle = r;
    });
    this.#inflight.set(key, mine);
    const ask = this.#shared.request("cache.lock", {
      zone: this.zone,
      key,
      wait: this.#lockWait,
    }) as Promise<LockResult>;
    return ask.then(
      (r) => {
        if (r !== "go") this.#settle(key, settle, r);
        else this.#owners.set(key, settle);
        return r;
      },
      () => {
        this.#settle(key, settle, "released");
        return "released" as const;
      },
    );
  }

  readonly #owners = new Map<string, (r: LockResult) => void>();

  #settle(key: string, settle: (r: LockResult) => void, r: LockResult): void {
    this.#inflight.delete(key);
    settle(r);
  }

  /** Stores a response (here at once, in the shared store for every worker) and frees the lock. */
  store(key: string, r: StoredResponse, maxBytes: number): void {
    this.#local.put(key, r);
    void this.#shared
      .request("cache.put", { zone: this.zone, key, max: maxBytes, entry: r, tier: this.#tier })
      .catch(() => {});
    this.#finish(key, "filled");
  }

  /** Frees the lock without storing (the response was not one to keep). */
  release(key: string): void {
    void this.#shared.request("cache.release", { zone: this.zone, key }).catch(() => {});
    this.#finish(key, "released");
  }

  #finish(key: string, r: LockResult): void {
    const settle = this.#owners.get(key);
    if (settle === undefined) return;
    this.#owners.delete(key);
    this.#settle(key, settle, r);
  }

  /**
   * Forgets what is stored for `key`, everywhere (an unsafe method changed it, §4.4);
   * resolves once every worker has dropped it.
   */
  async invalidate(key: string): Promise<void> {
    this.#local.delete(key);
    await this.#shared.request("cache.purge", { zone: this.zone, key }).catch(() => {});
  }
}

/** Purges heard from the primary drop the local copies (one listener per process). */
let listening = false;
function listen(shared: SharedState): void {
  if (listening) return;
  listening = true;
  shared.on("cache.drop", (body) => {
    const { zone, key, prefix } = body as { zone?: string; key?: string; prefix?: string };
    for (const [name, z] of localZones) if (zone === undefined || zone === name) z.delete(key, prefix);
  });
}
