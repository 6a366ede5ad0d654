import { Buckets, type TakeResult } from "./buckets.ts";

/** One take request from a worker. */
export interface TakeRequest {
  /** The limit (its rate, capacity and queue make it; workers name it the same). */
  limit: string;
  key: string;
  perSecond: number;
  capacity: number;
  queue: number;
  want: number;
  maxKeys: number;
}

/**
 * The rate limits shared by an instance's workers, kept by the primary: one set of buckets
 * per limit, so the number of requests let through across all workers stays within the
 * rate plus the burst.
 */
export class RateService {
  readonly #limits = new Map<string, Buckets>();

  handle(kind: string, body: unknown): TakeResult {
    if (kind !== "rate.take") throw new Error(`unknown request ${kind}`);
    const r = body as TakeRequest;
    let b = this.#limits.get(r.limit);
    if (b === undefined) {
      b = new Buckets(r.maxKeys);
      this.#limits.set(r.limit, b);
    }
    return b.take(r.key, r.perSecond, r.capacity, r.want, r.queue);
  }
}
