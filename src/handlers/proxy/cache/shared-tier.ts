import { randomBytes } from "node:crypto";
import { FeedReader, postEvent } from "../../../storage/feed.ts";
import { inTime } from "../../../storage/in-time.ts";
import { pollStorage } from "../../../storage/poll.ts";
import type { Storage } from "../../../storage/storage.ts";
import { currentAge } from "./policy.ts";
import type { StoredResponse } from "./zone.ts";

/** A shared storage slower than this (hung, not down) is not waited for: the request goes upstream. */
const TIER_TIMEOUT_MS = 250;
/** How often purges made by other instances are looked for. */
const PURGE_POLL_MS = 1000;
/** How long a purge stays readable by other instances. */
const PURGE_TTL_MS = 60_000;
/** How long past its last usable second a stored response stays (for revalidation with its validators). */
const KEEP_EXTRA_S = 60;
const PURGE_FEED = "cache-purges";

/** What a purge names: a zone (or all), a key or a prefix of keys (or everything). */
export interface Purge {
  zone: string | undefined;
  key: string | undefined;
  prefix: string | undefined;
}

type Wire = Omit<StoredResponse, "body"> & { body: string };

/**
 * The response cache's shared tier (`cache.shared` with `server.storage` on Redis): what
 * one instance stores is there for the others, each key's variants under
 * `cache/<zone>/<key>`, expiring when no longer usable. Purges are deleted there and
 * posted to the `cache-purges` feed, from which the other instances drop their copies
 * within a second.
 */
export class SharedTier {
  readonly #storage: () => Storage | undefined;
  readonly #dropLocal: (p: Purge) => Promise<void>;
  readonly #me = randomBytes(6).toString("hex");
  #timer: NodeJS.Timeout | undefined;

  /** `dropLocal`: forgets what a purge names in this instance (its store and its workers' copies). */
  constructor(storage: () => Storage | undefined, dropLocal: (p: Purge) => Promise<void>) {
    this.#storage = storage;
    this.#dropLocal = dropLocal;
  }

  #open(): Storage | undefined {
    const s = this.#storage();
    if (s === undefined || s.kind === "file") return undefined;
    this.#watch();
    return s.up ? s : undefined;
  }

  /** The variants another instance stored for `key` (none when the storage is away or late). */
  async get(zone: string, key: string): Promise<StoredResponse[]> {
    const s = this.#open();
    if (!s) return [];
    try {
      const text = await inTime(s.get(keyOf(zone, key)), TIER_TIMEOUT_MS);
      if (text === undefined) return [];
      return (JSON.parse(text) as Wire[]).map((w) => ({ ...w, body: Buffer.from(w.body, "base64") }));
    } catch {
      return [];
    }
  }

  /** Stores `key`'s variants for the other instances, for as long as one of them is usable. */
  async put(zone: string, key: string, variants: StoredResponse[]): Promise<void> {
    const s = this.#open();
    if (!s || variants.length === 0) return;
    const now = Date.now() / 1000;
    const keepS = Math.max(
      ...variants.map(
        (v) =>
          v.lifetime +
          (v.stale.forbidden ? 0 : Math.max(v.stale.whileRevalidate, v.stale.ifError)) -
          currentAge(v.age, now),
      ),
    );
    if (keepS + KEEP_EXTRA_S <= 0) return;
    const wire: Wire[] = variants.map((v) => ({ ...v, body: v.body.toString("base64") }));
    await inTime(s.put(keyOf(zone, key), JSON.stringify(wire), (keepS + KEEP_EXTRA_S) * 1000), 2000).catch(
      () => {},
    );
  }

  /** Deletes what `p` names from the storage and tells the other instances. */
  async purge(p: Purge): Promise<void> {
    const s = this.#open();
    if (!s) return;
    try {
      if (p.zone !== undefined && p.key !== undefined) await s.delete(keyOf(p.zone, p.key));
      else {
        const from = p.zone === undefined ? "cache/" : `cache/${encodeURIComponent(p.zone)}/`;
        for (const k of await s.list(from)) if (matches(k, p)) await s.delete(k);
      }
      await postEvent(s, PURGE_FEED, JSON.stringify({ ...p, from: this.#me }), PURGE_TTL_MS);
    } catch {
      // The storage is away: what it holds expires by itself.
    }
  }

  /** Looks for other instances' purges every second, once the tier is in use. */
  #watch(): void {
    if (this.#timer) return;
    const feed = new FeedReader(PURGE_FEED);
    // The first look, at once, marks where this instance starts reading; purges made while
    // the storage is away are read when it answers again.
    this.#timer = pollStorage(
      PURGE_POLL_MS,
      async () => {
        const s = this.#storage();
        if (s === undefined || !s.up) return;
        for (const text of await feed.poll(s)) {
          const p = JSON.parse(text) as Purge & { from: string };
          if (p.from !== this.#me) await this.#dropLocal(p);
        }
      },
      true,
    );
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function keyOf(zone: string, key: string): string {
  return `cache/${encodeURIComponent(zone)}/${encodeURIComponent(key)}`;
}

/** Whether the storage key `k` (cache/<zone>/<key>) is one `p` names. */
function matches(k: string, p: Purge): boolean {
  const [, zone, key] = k.split("/") as [string, string, string];
  if (p.zone !== undefined && decodeURIComponent(zone) !== p.zone) return false;
  const stored = decodeURIComponent(key);
  if (p.key !== undefined) return stored === p.key;
  return p.prefix === undefined || stored.startsWith(p.prefix);
}
