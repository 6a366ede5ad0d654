import { Buckets, type TakeResult } from "../../storage/buckets.ts";
import { inTime } from "../../storage/in-time.ts";
import type { Storage } from "../../storage/storage.ts";

/** A shared storage that answers slower than this (hung, not down) is not waited for. */
const SHARED_TIMEOUT_MS = 250;

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
 * rate plus the burst. With a storage shared by several instances (Redis), the limits are
 * counted there, across instances; while it is away, here again (and counted as such).
 */
export class RateService {
  readonly #limits = new Map<string, Buckets>();
  /** The storage shared with other instances, if any. */
  storage: (() => Storage | undefined) | undefined;
  /** Takes answered here although a shared storage is configured (it was away). */
  localFallbacks = 0;

  async handle(kind: string, body: unknown): Promise<TakeResult> {
    if (kind !== "rate.take") throw new Error(`unknown request ${kind}`);
    const r = body as TakeRequest;
    const shared = this.storage?.();
    if (shared !== undefined) {
      if (shared.up) {
        try {
          return await inTime(
            shared.take(
              `rate/${r.limit}/${r.key}`,
              { perSecond: r.perSecond, capacity: r.capacity, queue: r.queue },
              r.want,
            ),
            SHARED_TIMEOUT_MS,
          );
        } catch {}
      }
      this.localFallbacks++;
    }
    let b = this.#limits.get(r.limit);
    if (b === undefined) {
      b = new Buckets(r.maxKeys);
      this.#limits.set(r.limit, b);
    }
    return b.take(r.key, r.perSecond, r.capacity, r.want, r.queue);
  }
}
