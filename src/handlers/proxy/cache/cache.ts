import { createHash } from "node:crypto";
import { type Readable, Transform } from "node:stream";
import type { Logger } from "../../../core/logger.ts";
import type { WorkerMetrics } from "../../../core/metrics.ts";
import { sendError } from "../../../http/error-page.ts";
import type { Exchange } from "../../../http/exchange.ts";
import type { ClientResponse } from "../../../http/upstream.ts";
import type { SharedState } from "../../handler.ts";
import { connectionListed, HOP_BY_HOP, requestAuthority } from "../forwarded.ts";
import type { Forwarded, Outgoing } from "../handler.ts";
import { readCookie } from "../request.ts";
import type { ProxyConfig } from "../schema.ts";
import { CacheClient } from "./client.ts";
import {
  ageFacts,
  currentAge,
  type Fields,
  freshnessLifetime,
  invalidates,
  parseCacheControl,
  staleIfErrorAllows,
  staleRules,
  verdict,
  whyNotStored,
} from "./policy.ts";
import { serveStored, storedField } from "./serve.ts";
import { type StoredResponse, varyValue } from "./zone.ts";

type CacheConfig = NonNullable<ProxyConfig["cache"]>;

/** What the cache needs from its proxy. */
export interface CacheDeps {
  forward(ex: Exchange, out: Outgoing, detached?: boolean): Promise<Forwarded>;
  relay(ex: Exchange, fwd: Extract<Forwarded, { kind: "response" }>): void | Promise<void>;
  log: Logger;
}

/** Request fields a cache fill does not pass on: the cache asks for the whole, current response. */
const CLIENT_CONDITIONALS = [
  "if-none-match",
  "if-modified-since",
  "if-match",
  "if-unmodified-since",
  "if-range",
  "range",
];

const nowSec = () => Date.now() / 1000;

/** Fields of an upstream response as the policy reads them. */
function fieldsOf(headers: readonly [string, string][]): Fields {
  return {
    get(name) {
      const values = headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
      return values.length === 0 ? undefined : values.join(", ");
    },
  };
}

/** The fields a stored response replays: without hop-by-hop ones, Date, Server, Age and framing. */
function storableFields(headers: readonly [string, string][]): [string, string][] {
  let listed = new Set<string>();
  for (const [k, v] of headers) if (k.toLowerCase() === "connection") listed = connectionListed(v);
  return headers.filter(([k]) => {
    const l = k.toLowerCase();
    return !(
      HOP_BY_HOP.has(l) ||
      listed.has(l) ||
      l === "date" ||
      l === "server" ||
      l === "age" ||
      l === "content-length" ||
      l.startsWith("x-accel-")
    );
  });
}

/** The metric label of a Cache-Status: hit, stale (served stale), or why it went upstream. */
function cacheResult(status: string): string {
  if (/; hit/.test(status)) return /stale/.test(status) ? "stale" : "hit";
  const fwd = /fwd=([a-z-]+)/.exec(status)?.[1];
  return fwd === "stale" ? "expired" : (fwd ?? "other");
}

/**
 * An RFC 9111 shared cache in front of a proxy's upstreams. GET (and HEAD, from the GET's
 * entry) is answered from storage while fresh; a stale entry is revalidated upstream with
 * its validators (a 304 freshens it), served while refreshed in the background within
 * stale-while-revalidate, or when the upstream fails within stale-if-error. Concurrent
 * misses for one key send one request upstream, whichever workers they land on. Unsafe
 * methods that succeed invalidate their URI (§4.4). Every response says what the cache did
 * (`Cache-Status`, RFC 9211).
 */
export function createCache(
  proxy: ProxyConfig,
  cfg: CacheConfig,
  shared: SharedState,
  deps: CacheDeps,
  metrics: WorkerMetrics,
) {
  const zone =
    cfg.zone ??
    createHash("sha256")
      .update(JSON.stringify([proxy.to.map((t) => t.url), proxy.add_prefix, proxy.strip_prefix]))
      .digest("hex")
      .slice(0, 12);
  const client = new CacheClient(zone, cfg.size, shared, cfg.lock_timeout, cfg.shared);
  const storeOpts = { defaultTtl: Math.floor(cfg.default_ttl / 1000) };
  const swr = Math.floor(cfg.stale_while_revalidate / 1000);
  const sie = Math.floor(cfg.stale_if_error / 1000);
  const changes = (ex: Exchange) => {
    for (const name of proxy.response_headers.remove) ex.removeHeader(name);
    for (const [k, v] of Object.entries(proxy.response_headers.set)) ex.setHeader(k, v);
  };
  /** Every answer through the cache is counted by what the cache did (from its Cache-Status). */
  const counted = (ex: Exchange) =>
    ex.onHead((e) => {
      const status = e.getHeader("cache-status");
      if (typeof status === "string") metrics.cacheRequests.inc(cacheResult(status));
    });
  const keyOf = (ex: Exchange) =>
    `${ex.scheme}://${requestAuthority(ex).toLowerCase()}${ex.rawPath}${ex.query}`;

  const bypassed = (ex: Exchange): boolean => {
    for (const h of cfg.bypass.headers) if (ex.header(h.toLowerCase()) !== undefined) return true;
    const cookie = ex.header("cookie");
    return cookie !== undefined && cfg.bypass.cookies.some((name) => readCookie(cookie, name) !== undefined);
  };

  /** Stores an upstream's answer when the policy allows; returns why not otherwise. */
  const storable = (ex: Exchange, res: ClientResponse, requestTime: number): StoredResponse | string => {
    const fields = fieldsOf(res.headers);
    if (fields.get("x-accel-redirect") !== undefined || fields.get("x-sendfile") !== undefined)
      return "accel";
    const why = whyNotStored(
      "GET",
      ex.header("authorization") !== undefined,
      parseCacheControl(ex.header("cache-control")),
      res.status,
      fields,
      storeOpts,
    );
    if (why !== undefined) return why;
    const varyNames = (fields.get("vary") ?? "")
      .split(",")
      .map((v) => v.trim().toLowerCase())
      .filter(Boolean);
    const responseTime = nowSec();
    return {
      status: res.status,
      headers: storableFields(res.headers),
      body: Buffer.alloc(0),
      age: ageFacts(fields, requestTime, responseTime),
      lifetime: freshnessLifetime(res.status, fields, responseTime, storeOpts),
      stale: staleRules(fields, swr, sie),
      varyNames,
      varyValues: varyNames.map((n) => varyValue(ex.header(n))),
    };
  };

  /**
   * Reads a response's body for storage (up to max_entry_size) while it goes on: a whole
   * body at once; a streamed one through a tee. `done(body)` gets the whole body, or
   * undefined when it was too large or broke off.
   */
  const capture = (res: ClientResponse, done: (body: Buffer | undefined) => void): ClientResponse => {
    if (Buffer.isBuffer(res.body)) {
      done(res.body.length <= cfg.max_entry_size ? res.body : undefined);
      return res;
    }
    const parts: Buffer[] = [];
    let size = 0;
    let over = false;
    const tee = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (!over) {
          size += chunk.length;
          if (size > cfg.max_entry_size) over = true;
          else parts.push(chunk);
        }
        cb(null, chunk);
      },
      flush(cb) {
        done(over ? undefined : Buffer.concat(parts, size));
        cb();
      },
    });
    const src = res.body;
    src.once("error", (err) => {
      done(undefined);
      tee.destroy(err);
    });
    tee.once("close", () => {
      if (!src.readableEnded) src.destroy();
    });
    return { ...res, body: src.pipe(tee) };
  };

  /**
   * Asks the upstream for `key` (conditionally when `stale` has validators), stores what
   * may be stored, and answers the client: from storage, or by relaying. Holds the key's
   * lock: stores or releases it on every path.
   */
  async function fetchAndAnswer(
    ex: Exchange,
    out: Outgoing,
    key: string,
    stale: StoredResponse | undefined,
    quiet: boolean,
  ): Promise<void> {
    const headers = out.headers.filter(([k]) => !CLIENT_CONDITIONALS.includes(k.toLowerCase()));
    const etag = stale ? storedField(stale, "etag") : undefined;
    const lastModified = stale ? storedField(stale, "last-modified") : undefined;
    if (etag !== undefined) headers.push(["If-None-Match", etag]);
    if (lastModified !== undefined) headers.push(["If-Modified-Since", lastModified]);
    const requestTime = nowSec();
    const fwd = await deps.forward(ex, { ...out, headers, method: "GET" }, quiet);
    if (fwd.kind !== "response") {
      client.release(key);
      if (quiet) return;
      if (stale && staleIfErrorAllows(currentAgeOf(stale), stale.lifetime, stale.stale))
        return serveStored(ex, stale, "wharf; hit; detail=stale-if-error", nowSec(), changes);
      if (fwd.kind === "failed") sendError(ex, fwd.status);
      return;
    }
    const res = fwd.res;
    if (res.status === 304 && stale) {
      // Freshened (§4.3.4): the stored response with the 304's fields, and a new age.
      discard(fwd);
      const fields = fieldsOf(res.headers);
      const updated: StoredResponse = {
        ...stale,
        headers: mergeFields(stale.headers, storableFields(res.headers)),
        age: ageFacts(fields, requestTime, nowSec()),
        lifetime: freshnessLifetime(
          stale.status,
          fieldsOf(mergeFields(stale.headers, res.headers)),
          nowSec(),
          storeOpts,
        ),
      };
      client.store(key, updated, cfg.size);
      if (quiet) return;
      return serveStored(ex, updated, "wharf; fwd=stale; fwd-status=304; stored", nowSec(), changes);
    }
    if (
      res.status >= 500 &&
      stale &&
      !quiet &&
      staleIfErrorAllows(currentAgeOf(stale), stale.lifetime, stale.stale)
    ) {
      discard(fwd);
      client.release(key);
      return serveStored(
        ex,
        stale,
        `wharf; hit; fwd-status=${res.status}; detail=stale-if-error`,
        nowSec(),
        changes,
      );
    }
    const entry = storable(ex, res, requestTime);
    const fwdWhy = stale ? "stale" : "miss";
    if (typeof entry === "string") {
      client.release(key);
      if (quiet) return discard(fwd);
      ex.setHeader("Cache-Status", `wharf; fwd=${fwdWhy}; fwd-status=${res.status}; detail=${entry}`);
      return deps.relay(ex, fwd);
    }
    const keep = (body: Buffer | undefined) => {
      if (body === undefined) client.release(key);
      else client.store(key, { ...entry, body }, cfg.size);
    };
    // The client's conditionals, ranges or HEAD are answered from the stored response, so it
    // needs the whole body first; otherwise the body streams to the client as it is stored.
    const needsWhole =
      quiet || CLIENT_CONDITIONALS.some((h) => ex.header(h) !== undefined) || Buffer.isBuffer(res.body);
    if (needsWhole) {
      const body = await readWhole(fwd, cfg.max_entry_size);
      if (body === undefined) {
        client.release(key);
        if (quiet) return;
        // Too large to keep: the response is gone (read and dropped); ask again, uncached.
        ex.setHeader("Cache-Status", `wharf; fwd=${fwdWhy}; detail=too-large`);
        const again = await deps.forward(ex, out);
        if (again.kind === "response") return deps.relay(ex, again);
        if (again.kind === "failed") sendError(ex, again.status);
        return;
      }
      const stored = { ...entry, body };
      client.store(key, stored, cfg.size);
      if (quiet) return;
      return serveStored(
        ex,
        stored,
        `wharf; fwd=${fwdWhy}; fwd-status=${res.status}; stored`,
        nowSec(),
        changes,
      );
    }
    ex.setHeader("Cache-Status", `wharf; fwd=${fwdWhy}; fwd-status=${res.status}; stored`);
    return deps.relay(ex, { ...fwd, res: capture(res, keep) });
  }

  async function handle(ex: Exchange, out: Outgoing): Promise<void> {
    const method = ex.method;
    if (method === "GET" || method === "HEAD") counted(ex);
    if (method !== "GET" && method !== "HEAD") {
      const fwd = await deps.forward(ex, out);
      if (fwd.kind === "failed") return sendError(ex, fwd.status);
      if (fwd.kind !== "response") return;
      // Dropped everywhere before the client hears the answer: its next GET sees the change.
      if (invalidates(method, fwd.res.status)) await invalidateTargets(ex, fwd.res);
      return deps.relay(ex, fwd);
    }
    if (bypassed(ex)) {
      ex.setHeader("Cache-Status", "wharf; fwd=bypass");
      const fwd = await deps.forward(ex, out);
      if (fwd.kind === "response") return deps.relay(ex, fwd);
      if (fwd.kind === "failed") sendError(ex, fwd.status);
      return;
    }
    const key = keyOf(ex);
    const header = (name: string) => ex.header(name);
    const reqCc = parseCacheControl(ex.header("cache-control"));
    const pragmaNoCache = /no-cache/i.test(ex.header("pragma") ?? "");
    for (let round = 0; round < 3; round++) {
      let stored = await client.lookup(key, header);
      if (stored !== undefined) {
        let v = verdict(currentAgeOf(stored), stored.lifetime, stored.stale, reqCc, pragmaNoCache);
        if (v.use !== "fresh" && round === 0) {
          // Another worker may have refreshed it already.
          const fresher = await client.lookup(key, header, false);
          if (fresher !== undefined) {
            stored = fresher;
            v = verdict(currentAgeOf(fresher), fresher.lifetime, fresher.stale, reqCc, pragmaNoCache);
          }
        }
        if (v.use === "fresh")
          return serveStored(ex, stored, `wharf; hit; ttl=${ttlOf(stored)}`, nowSec(), changes);
        if (v.use === "stale-while-revalidate") {
          serveStored(
            ex,
            stored,
            `wharf; hit; ttl=${ttlOf(stored)}; detail=stale-while-revalidate`,
            nowSec(),
            changes,
          );
          // One refresh in the background, whichever request asks first.
          const got = await client.lock(key);
          if (got === "go") await fetchAndAnswer(ex, out, key, stored, true);
          return;
        }
      }
      if (reqCc.has("only-if-cached")) return sendError(ex, 504);
      // A HEAD fills nothing: it goes upstream as it is.
      if (method === "HEAD") break;
      const got = await client.lock(key);
      if (got === "go") return fetchAndAnswer(ex, out, key, stored, false);
      // Another request fetched it (or gave up): look again, then go ourselves if need be.
      if (got === "timeout" || got === "released") break;
    }
    // Not collapsed: ask the upstream for this request alone, uncached.
    ex.setHeader("Cache-Status", `wharf; fwd=miss; detail=${method === "HEAD" ? "method" : "lock"}`);
    const fwd = await deps.forward(ex, out);
    if (fwd.kind === "response") return deps.relay(ex, fwd);
    if (fwd.kind === "failed") sendError(ex, fwd.status);
  }

  /** An unsafe method succeeded: its target, and its Location / Content-Location on this host, are stale (§4.4). */
  async function invalidateTargets(ex: Exchange, res: ClientResponse): Promise<void> {
    const key = keyOf(ex);
    const done = [client.invalidate(key)];
    const base = key.slice(0, key.indexOf("/", key.indexOf("//") + 2));
    for (const [k, v] of res.headers) {
      const l = k.toLowerCase();
      if (l !== "location" && l !== "content-location") continue;
      try {
        const u = new URL(v, `${base}/`);
        if (`${u.protocol}//${u.host}` === base)
          done.push(client.invalidate(`${base}${u.pathname}${u.search}`));
      } catch {}
    }
    await Promise.all(done);
  }

  return { handle, zone };
}

function currentAgeOf(r: StoredResponse): number {
  return currentAge(r.age, nowSec());
}

function ttlOf(r: StoredResponse): number {
  return Math.floor(r.lifetime - currentAgeOf(r));
}

/** Stored fields updated by a 304's (§3.2): same names replaced, new ones added. */
function mergeFields(
  old: readonly [string, string][],
  update: readonly [string, string][],
): [string, string][] {
  const names = new Set(update.map(([k]) => k.toLowerCase()));
  const skip = new Set(["content-length", "content-encoding", "transfer-encoding", "content-range"]);
  return [
    ...old.filter(([k]) => !names.has(k.toLowerCase()) || skip.has(k.toLowerCase())),
    ...update.filter(([k]) => !skip.has(k.toLowerCase())),
  ];
}

/** Reads an upstream body to its end (undefined past `max` bytes, or on failure), and releases the upstream. */
async function readWhole(
  fwd: Extract<Forwarded, { kind: "response" }>,
  max: number,
): Promise<Buffer | undefined> {
  const body = fwd.res.body;
  if (Buffer.isBuffer(body)) {
    fwd.finished(true);
    return body.length <= max ? body : undefined;
  }
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as Readable) {
      size += (chunk as Buffer).length;
      if (size <= max) parts.push(chunk as Buffer);
    }
  } catch {
    fwd.finished(false);
    return undefined;
  }
  fwd.finished(true);
  return size <= max ? Buffer.concat(parts, size) : undefined;
}

/** An upstream body not passed on: read to its end (the connection stays reusable). */
function discard(fwd: Extract<Forwarded, { kind: "response" }>): void {
  const body = fwd.res.body;
  if (Buffer.isBuffer(body)) return fwd.finished(true);
  body.once("end", () => fwd.finished(true));
  body.once("error", () => fwd.finished(false));
  body.resume();
}
