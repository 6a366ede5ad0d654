import type { Storage } from "./storage.ts";

/** A feed's sequence counter lives this long (it starts again at 1 after; readers follow). */
const SEQ_TTL_MS = 365 * 86_400_000;
/** Polls an event that is counted but not readable yet is waited for (its writer may have died). */
const PATIENCE = 3;

/**
 * Adds `value` to the feed `feed`: a sequence counter and one key per event, expiring after
 * `ttlMs`. Readers poll the counter alone (one cheap read) and fetch only what is new, so
 * instances learn of each other's events without scanning the storage.
 */
export async function postEvent(storage: Storage, feed: string, value: string, ttlMs: number): Promise<void> {
  const n = await storage.incr(`${feed}/seq`, 1, SEQ_TTL_MS);
  await storage.put(`${feed}/${n}`, value, ttlMs);
}

/** Reads a feed from the moment of its first poll on: each event once, in order. */
export class FeedReader {
  readonly #feed: string;
  #next: number | undefined;
  #waited = 0;

  constructor(feed: string) {
    this.#feed = feed;
  }

  /** The events posted since the last poll. */
  async poll(storage: Storage): Promise<string[]> {
    const head = await storage.counter(`${this.#feed}/seq`);
    // The first poll, or a counter that started again: from here on.
    if (this.#next === undefined || head < this.#next - 1) {
      this.#next = head + 1;
      return [];
    }
    const out: string[] = [];
    while (this.#next <= head) {
      const value = await storage.get(`${this.#feed}/${this.#next}`);
      if (value === undefined && ++this.#waited < PATIENCE) break;
      if (value !== undefined) out.push(value);
      this.#waited = 0;
      this.#next++;
    }
    return out;
  }
}
