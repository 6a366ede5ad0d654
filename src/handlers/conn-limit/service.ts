/**
 * Requests in progress per limit and key, counted for the whole instance by the primary;
 * each worker's share is remembered, so a worker that dies gives its count back.
 */
export class ConnService {
  /** limit\0key → worker → count */
  readonly #counts = new Map<string, Map<string, number>>();

  handle(kind: string, body: unknown, from: string): boolean {
    const { limit, key, max } = body as { limit: string; key: string; max: number };
    const id = `${limit}\0${key}`;
    let byWorker = this.#counts.get(id);
    if (kind === "conn.acquire") {
      let total = 0;
      for (const n of byWorker?.values() ?? []) total += n;
      if (total >= max) return false;
      if (byWorker === undefined) {
        byWorker = new Map();
        this.#counts.set(id, byWorker);
      }
      byWorker.set(from, (byWorker.get(from) ?? 0) + 1);
      return true;
    }
    if (kind === "conn.release") {
      const n = byWorker?.get(from) ?? 0;
      if (n <= 1) byWorker?.delete(from);
      else byWorker!.set(from, n - 1);
      if (byWorker?.size === 0) this.#counts.delete(id);
      return true;
    }
    throw new Error(`unknown request ${kind}`);
  }

  /** A worker went away: what it held is free again. */
  forget(from: string): void {
    for (const [id, byWorker] of this.#counts) {
      byWorker.delete(from);
      if (byWorker.size === 0) this.#counts.delete(id);
    }
  }
}
