import type { Storage } from "../../storage/storage.ts";
import type { TakeResult } from "./buckets.ts";
import type { TakeRequest } from "./service.ts";

/**
 * A take from a limit shared by several instances, on the storage's atomic counters: a
 * sliding window of `capacity / perSecond` seconds that lets `capacity` requests through,
 * estimated from the current window's count and the previous one's, weighted by how much
 * of it still overlaps (as Cloudflare's limiter does). From idle, a burst of `capacity`
 * passes; sustained, `perSecond`: within rate × time + burst, as the per-instance buckets.
 *
 * The tokens are added first and what went over is given back, so two instances taking at
 * once cannot both take the last token.
 */
export async function takeShared(s: Storage, r: TakeRequest, now = Date.now()): Promise<TakeResult> {
  const windowMs = Math.max(1, Math.round((r.capacity / r.perSecond) * 1000));
  const n = Math.floor(now / windowMs);
  const overlap = 1 - (now - n * windowMs) / windowMs;
  const base = `rate/${r.limit}/${r.key}/`;
  const [count, previous] = await Promise.all([
    s.incr(`${base}${n}`, r.want, windowMs * 2),
    s.counter(`${base}${n - 1}`),
  ]);
  const estimate = previous * overlap + count;
  const over = Math.ceil(estimate - r.capacity - 1e-9);
  let granted = r.want - Math.min(r.want, Math.max(0, over));
  let waitMs = 0;
  // Delay mode: one request may book a place up to `queue` ahead and wait for it.
  if (granted === 0 && r.queue > 0 && over <= r.queue) {
    granted = 1;
    waitMs = Math.ceil((over / r.perSecond) * 1000);
  }
  if (granted < r.want) await s.incr(`${base}${n}`, granted - r.want, windowMs * 2);
  const left = Math.max(0, Math.floor(r.capacity - (estimate - (r.want - granted))));
  // The estimate falls by `previous / windowMs` per ms as the old window slides out, and
  // jumps back only at the next window: a token is back within one period of the rate.
  const retryMs = left >= 1 ? 0 : Math.ceil(1000 / r.perSecond);
  return { granted, waitMs, remaining: left, retryMs };
}
