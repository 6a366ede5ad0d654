/** Counters with expiry kept in this process's memory: the file storage's `incr`. */
export class MemoryCounters {
  readonly #counters = new Map<string, { value: number; expires: number }>();

  incr(key: string, by: number, ttlMs: number, now = Date.now()): number {
    let c = this.#counters.get(key);
    if (c === undefined || c.expires <= now) {
      if (this.#counters.size > 10_000) this.#sweep(now);
      c = { value: 0, expires: now + ttlMs };
      this.#counters.set(key, c);
    }
    c.value += by;
    return c.value;
  }

  get(key: string, now = Date.now()): number {
    const c = this.#counters.get(key);
    return c === undefined || c.expires <= now ? 0 : c.value;
  }

  #sweep(now: number): void {
    for (const [k, c] of this.#counters) if (c.expires <= now) this.#counters.delete(k);
  }
}
