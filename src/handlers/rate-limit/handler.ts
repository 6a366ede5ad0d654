import { createHash } from "node:crypto";
import { sendError } from "../../http/error-page.ts";
import type { Exchange } from "../../http/exchange.ts";
import type { TakeResult } from "../../storage/buckets.ts";
import type { HandlerContext, HandlerInstance } from "../handler.ts";
import { compileKeyTemplate } from "../key-template.ts";
import type { RateLimitConfig } from "./schema.ts";
import type { TakeRequest } from "./service.ts";

/** How long tokens a worker leased stay usable (unused ones are then given up). */
const LEASE_MS = 1000;
/** A lease covers about this much of the rate, so a busy key asks the primary seldom. */
const LEASE_SECONDS = 0.05;

interface Lease {
  tokens: number;
  expires: number;
  remaining: number;
}

/**
 * The `rate_limit` guard: a token bucket per key (`rate` per second/minute/hour, `burst`
 * at once), one per instance: the buckets live in the primary and the workers lease
 * tokens from them (a few at a time for a busy key, one at a time for a slow one), so the
 * requests let through across all workers stay within rate × time + burst. Excess gets
 * 429 with Retry-After and the IETF RateLimit-Policy / RateLimit fields; with `delay`,
 * it waits its turn instead (within `burst`). `dry_run` only logs. No timer per key.
 */
export function createRateLimit(cfg: RateLimitConfig, ctx: HandlerContext): HandlerInstance {
  const keyOf = compileKeyTemplate(cfg.key);
  const { perSecond, count, window } = cfg.rate;
  const capacity = cfg.delay ? 1 : Math.max(1, cfg.burst);
  const queue = cfg.delay ? cfg.burst : 0;
  const leaseSize = cfg.delay ? 1 : Math.max(1, Math.min(capacity, Math.floor(perSecond * LEASE_SECONDS)));
  const name =
    cfg.name ??
    `r${createHash("sha256").update(`${cfg.key}|${perSecond}|${capacity}|${queue}`).digest("hex").slice(0, 8)}`;
  const policy = `"${name}";q=${count};w=${window}`;
  const leases = new Map<string, Lease>();
  const asking = new Map<string, Promise<TakeResult>>();
  const log = ctx.log;

  const take = (key: string): Promise<TakeResult> => {
    let pending = asking.get(key);
    if (pending === undefined) {
      const req: TakeRequest = {
        limit: name,
        key,
        perSecond,
        capacity,
        queue,
        want: leaseSize,
        maxKeys: cfg.max_keys,
      };
      pending = (ctx.shared.request("rate.take", req) as Promise<TakeResult>).finally(() =>
        asking.delete(key),
      );
      asking.set(key, pending);
    }
    return pending;
  };

  const refuse = (ex: Exchange, retryMs: number) => {
    const seconds = Math.max(1, Math.ceil(retryMs / 1000));
    ctx.metrics.ratelimitRejected.inc(name);
    if (cfg.dry_run) {
      log.info("rate limit would refuse", { key: cfg.key, client_ip: ex.clientIp, request_id: ex.id });
      return false;
    }
    ex.setHeader("Retry-After", String(seconds));
    ex.setHeader("RateLimit-Policy", policy);
    ex.setHeader("RateLimit", `"${name}";r=0;t=${seconds}`);
    sendError(ex, 429);
    return true;
  };

  /** Uses a leased token of `key`: false when none is left (or the lease expired). */
  const useLease = (key: string, now: number): boolean => {
    const l = leases.get(key);
    if (l === undefined || l.tokens <= 0) return false;
    if (l.expires < now) {
      leases.delete(key);
      return false;
    }
    l.tokens--;
    return true;
  };

  /** Results whose tokens went into the lease already (several waiters share one result). */
  const banked = new WeakSet<TakeResult>();
  const bank = (key: string, r: TakeResult) => {
    if (banked.has(r)) return;
    banked.add(r);
    if (leases.size >= cfg.max_keys) leases.delete(leases.keys().next().value!);
    leases.set(key, { tokens: r.granted, expires: Date.now() + LEASE_MS, remaining: r.remaining });
  };

  return {
    handle(ex, next) {
      const key = keyOf(ex);
      const admitted = () => {
        ex.setHeader("RateLimit-Policy", policy);
        return next();
      };
      const attempt = (): void | Promise<void> => {
        if (useLease(key, Date.now())) return admitted();
        return take(key).then(
          (r) => {
            if (r.granted === 0) return refuse(ex, r.retryMs) ? undefined : next();
            bank(key, r);
            // Another request of this worker took the last token of this answer: ask again.
            if (!useLease(key, Date.now())) return attempt();
            if (r.waitMs > 0) return new Promise<void>((res) => setTimeout(res, r.waitMs)).then(admitted);
            return admitted();
          },
          (err: unknown) => {
            // The shared state is out of reach: let it through rather than refuse everyone.
            log.warn("rate limit unavailable: request let through", { err: String(err) });
            return next();
          },
        );
      };
      return attempt();
    },
  };
}
