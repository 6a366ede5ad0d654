import type { Storage } from "../../../storage/storage.ts";
import { type Purge, SharedTier } from "./shared-tier.ts";
import { type StoredResponse, Zone } from "./zone.ts";

/** The answer to a lock request: fetch it yourself, or someone else did (or gave up). */
export type LockResult = "go" | "filled" | "released" | "timeout";

/** How long a lock is held at most (a worker that died holding one does not block forever). */
const LOCK_TTL_MS = 60_000;

interface Lock {
  until: number;
  waiters: ((r: LockResult) => void)[];
}

/**
 * The response cache shared by an instance's workers, kept by the primary: one Zone per
 * cache (its key is the zone's name), and the locks that collapse concurrent misses for one
 * key into one request upstream, whichever workers they land on. Purges are told to every
 * worker (`broadcast`), which drop their local copies.
 */
export class CacheService {
  readonly #zones = new Map<string, Zone>();
  readonly #locks = new Map<string, Lock>();
  readonly #broadcast: (kind: string, body: unknown) => Promise<void>;

  /** `broadcast` tells every worker, and resolves once each has acted on it. */
  constructor(broadcast: (kind: string, body: unknown) => Promise<void>) {
    this.#broadcast = broadcast;
  }

  /** The storage shared with other instances: zones marked `shared` keep their responses there too. */
  set storage(storage: () => Storage | undefined) {
    this.#tier?.stop();
    this.#tier = new SharedTier(storage, async (p) => {
      await this.#drop(p);
    });
  }
  #tier: SharedTier | undefined;
  /** The zones kept in the shared tier too (as their workers said). */
  readonly #tierZones = new Set<string>();

  /** Handles one request of kind `cache.*`. */
  handle(kind: string, body: unknown): unknown {
    const b = body as {
      zone: string;
      key?: string;
      prefix?: string;
      max?: number;
      wait?: number;
      entry?: StoredResponse;
      /** The zone is shared with other instances (`cache.shared`). */
      tier?: boolean;
    };
    if (b.tier) this.#tierZones.add(b.zone);
    switch (kind) {
      case "cache.get": {
        const here = this.#zones.get(b.zone)?.variants(b.key!) ?? [];
        if (here.length > 0 || !b.tier || !this.#tier) return here;
        return this.#fromTier(b.zone, b.key!, b.max!);
      }
      case "cache.lock":
        return this.#lock(`${b.zone}\0${b.key}`, b.wait ?? 5000);
      case "cache.put": {
        const zone = this.#zone(b.zone, b.max!);
        zone.put(b.key!, b.entry!);
        this.#unlock(`${b.zone}\0${b.key}`, "filled");
        if (b.tier) void this.#tier?.put(b.zone, b.key!, zone.variants(b.key!));
        return true;
      }
      case "cache.release":
        this.#unlock(`${b.zone}\0${b.key}`, "released");
        return true;
      case "cache.purge":
        return this.purge(b.zone, b.key, b.prefix);
      case "cache.stats":
        return [...this.#zones].map(([name, z]) => ({ zone: name, entries: z.size, bytes: z.bytes }));
      default:
        throw new Error(`unknown request ${kind}`);
    }
  }

  /**
   * Forgets `key` (or every key under `prefix`) in one zone or all, here and in every
   * worker; resolves once every worker has dropped its copy (so the next request, wherever
   * it lands, does not see it).
   */
  async purge(zone: string | undefined, key: string | undefined, prefix?: string): Promise<number> {
    const n = await this.#drop({ zone, key, prefix });
    // An operator's purge (every zone) goes to the tier too; an invalidation only for a shared zone.
    if (zone === undefined || this.#tierZones.has(zone)) await this.#tier?.purge({ zone, key, prefix });
    return n;
  }

  /** Forgets what `p` names in this instance: here and in every worker. */
  async #drop({ zone, key, prefix }: Purge): Promise<number> {
    let n = 0;
    for (const [name, z] of this.#zones) if (zone === undefined || name === zone) n += z.delete(key, prefix);
    await this.#broadcast("cache.drop", { zone, key, prefix });
    return n;
  }

  /** What another instance stored for `key`, kept here too. */
  async #fromTier(name: string, key: string, max: number): Promise<StoredResponse[]> {
    const variants = await this.#tier!.get(name, key);
    if (variants.length === 0) return [];
    const zone = this.#zone(name, max);
    for (const v of variants) zone.put(key, v);
    return zone.variants(key);
  }

  /** The zone `name`, made the first time, holding at most `maxBytes` (as its workers say). */
  #zone(name: string, maxBytes: number): Zone {
    let zone = this.#zones.get(name);
    if (zone === undefined) {
      zone = new Zone(maxBytes);
      this.#zones.set(name, zone);
    }
    zone.maxBytes = maxBytes;
    return zone;
  }

  #lock(id: string, wait: number): Promise<LockResult> | LockResult {
    const now = Date.now();
    const held = this.#locks.get(id);
    if (held === undefined || held.until < now) {
      if (held) for (const w of held.waiters.splice(0)) w("released");
      this.#locks.set(id, { until: now + LOCK_TTL_MS, waiters: [] });
      return "go";
    }
    return new Promise((resolve) => {
      const waiter = (r: LockResult) => {
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        const i = held.waiters.indexOf(waiter);
        if (i !== -1) held.waiters.splice(i, 1);
        resolve("timeout");
      }, wait);
      held.waiters.push(waiter);
    });
  }

  #unlock(id: string, result: LockResult): void {
    const held = this.#locks.get(id);
    if (held === undefined) return;
    this.#locks.delete(id);
    for (const w of held.waiters) w(result);
  }
}
