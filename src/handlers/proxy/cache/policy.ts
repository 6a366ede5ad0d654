import { parseHttpDate } from "../../../http/conditional.ts";

/**
 * RFC 9111 as pure functions, for a shared cache: what may be stored, for how long it is
 * fresh, how old it is, and what a request allows. Times are in seconds.
 */

/** Cache-Control directives: name (lower-case) → argument, or true for none. */
export type Directives = Map<string, string | true>;

/** Parses Cache-Control values (several fields joined by commas); quoted arguments unquoted. */
export function parseCacheControl(value: string | undefined): Directives {
  const out: Directives = new Map();
  if (!value) return out;
  const re = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,\s]*))?\s*(?:,|$)/gy;
  for (let m = re.exec(value); m !== null && m[0] !== ""; m = re.exec(value)) {
    const name = m[1]!.toLowerCase();
    let arg: string | true = true;
    if (m[2] !== undefined) arg = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\(.)/g, "$1") : m[2];
    // The first occurrence counts (a repeated directive is invalid; be conservative below).
    if (!out.has(name)) out.set(name, arg);
  }
  return out;
}

/** A delta-seconds argument (RFC 9111 §1.2.2), or undefined when missing or invalid. */
export function seconds(d: Directives, name: string): number | undefined {
  const v = d.get(name);
  if (typeof v !== "string" || !/^\d+$/.test(v)) return undefined;
  return Math.min(Number(v), 2 ** 31);
}

/** A response's fields as the policy reads them: first value by lower-case name, all for lists. */
export interface Fields {
  get(name: string): string | undefined;
}

/** Statuses a cache may store with heuristic freshness (RFC 9110 §15.1: heuristically cacheable). */
const HEURISTIC = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);
/** Statuses `default_ttl` micro-caching applies to. */
const MICRO = new Set([200, 301, 404]);
/** Statuses this cache stores at all (others pass through). */
const STORABLE = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501]);

export interface StoreOptions {
  /** Freshness for responses that state none (micro-caching), for 200/301/404; 0 for none. */
  defaultTtl: number;
}

/** Why a response is not stored (for Cache-Status `detail`), or undefined when it is. */
export function whyNotStored(
  method: string,
  requestHasAuthorization: boolean,
  requestCc: Directives,
  status: number,
  res: Fields,
  opts: StoreOptions,
): string | undefined {
  if (method !== "GET") return "method";
  if (!STORABLE.has(status)) return "status";
  const cc = parseCacheControl(res.get("cache-control"));
  if (requestCc.has("no-store") || cc.has("no-store")) return "no-store";
  // A shared cache never stores what is private to one user (§5.2.2.7).
  if (cc.has("private")) return "private";
  if ((res.get("vary") ?? "").split(",").some((v) => v.trim() === "*")) return "vary-star";
  // Cookies set for one user are not for the next one.
  if (res.get("set-cookie") !== undefined) return "set-cookie";
  // §3.5: a response to a request with Authorization only when the origin says it may be shared.
  if (requestHasAuthorization && !(cc.has("public") || cc.has("must-revalidate") || cc.has("s-maxage")))
    return "authorization";
  const explicit =
    cc.has("public") ||
    seconds(cc, "s-maxage") !== undefined ||
    seconds(cc, "max-age") !== undefined ||
    res.get("expires") !== undefined;
  if (explicit || cc.has("no-cache")) return undefined;
  if (opts.defaultTtl > 0 && MICRO.has(status)) return undefined;
  if (HEURISTIC.has(status) && res.get("last-modified") !== undefined) return undefined;
  return "no-freshness";
}

/**
 * A response's freshness lifetime (§4.2.1): s-maxage, max-age, Expires − Date; else the
 * configured default for micro-caching; else a heuristic (10 % of the time since
 * Last-Modified, at most a day, §4.2.2). `no-cache` makes it 0 (always revalidate).
 */
export function freshnessLifetime(
  status: number,
  res: Fields,
  responseTime: number,
  opts: StoreOptions,
): number {
  const cc = parseCacheControl(res.get("cache-control"));
  if (cc.has("no-cache")) return 0;
  const sMax = seconds(cc, "s-maxage");
  if (sMax !== undefined) return sMax;
  const max = seconds(cc, "max-age");
  if (max !== undefined) return max;
  const expiresText = res.get("expires");
  if (expiresText !== undefined) {
    // An invalid Expires (such as "0") means already expired (§5.3).
    const expires = parseHttpDate(expiresText);
    if (expires === undefined) return 0;
    const date = dateOf(res) ?? responseTime;
    return Math.max(0, expires - date);
  }
  if (opts.defaultTtl > 0 && MICRO.has(status)) return opts.defaultTtl;
  const lm = res.get("last-modified");
  if (HEURISTIC.has(status) && lm !== undefined) {
    const modified = parseHttpDate(lm);
    const date = dateOf(res) ?? responseTime;
    if (modified !== undefined && modified < date)
      return Math.min(86_400, Math.floor((date - modified) / 10));
  }
  return 0;
}

function dateOf(res: Fields): number | undefined {
  const d = res.get("date");
  return d === undefined ? undefined : parseHttpDate(d);
}

/** What a stored response's age is computed from (§4.2.3). */
export interface AgeFacts {
  /** The Date field's value, or undefined when there was none. */
  date: number | undefined;
  /** The Age field's value the response arrived with (0 when none). */
  age: number;
  /** When the request that got it was sent, and when its response arrived. */
  requestTime: number;
  responseTime: number;
}

export function ageFacts(res: Fields, requestTime: number, responseTime: number): AgeFacts {
  const ageText = res.get("age");
  const age = ageText !== undefined && /^\d+$/.test(ageText.trim()) ? Number(ageText.trim()) : 0;
  return { date: dateOf(res), age, requestTime, responseTime };
}

/** The current age of a stored response (RFC 9111 §4.2.3), whole seconds. */
export function currentAge(a: AgeFacts, now: number): number {
  const apparent = Math.max(0, a.responseTime - (a.date ?? a.responseTime));
  const responseDelay = a.responseTime - a.requestTime;
  const correctedAge = a.age + responseDelay;
  const initial = Math.max(apparent, correctedAge);
  return Math.floor(initial + (now - a.responseTime));
}

/** What the stored response's own directives allow once it is stale (RFC 9111 §4.2.4, RFC 5861). */
export interface StaleRules {
  /** must-revalidate, proxy-revalidate or s-maxage: never served stale (§5.2.2.2, .8, .10). */
  forbidden: boolean;
  /** stale-while-revalidate / stale-if-error windows, seconds (the response's, else the config's). */
  whileRevalidate: number;
  ifError: number;
}

export function staleRules(res: Fields, configWhileRevalidate: number, configIfError: number): StaleRules {
  const cc = parseCacheControl(res.get("cache-control"));
  const forbidden = cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage");
  return {
    forbidden,
    whileRevalidate: forbidden ? 0 : (seconds(cc, "stale-while-revalidate") ?? configWhileRevalidate),
    ifError: forbidden ? 0 : (seconds(cc, "stale-if-error") ?? configIfError),
  };
}

/** How a stored response may answer a request now. */
export type Verdict =
  | { use: "fresh" }
  /** Serve it, and refresh it in the background (stale-while-revalidate). */
  | { use: "stale-while-revalidate" }
  /** Ask the origin (conditionally); serve it only if the origin fails and stale-if-error allows. */
  | { use: "revalidate" };

/**
 * Whether a stored response of `age` and `lifetime` answers a request with these
 * Cache-Control directives (§4, §5.2.1): request no-cache (or Pragma: no-cache) and
 * max-age=0 force revalidation; min-fresh and max-age narrow freshness; max-stale widens
 * it (unless the response forbids stale use).
 */
export function verdict(
  age: number,
  lifetime: number,
  rules: StaleRules,
  req: Directives,
  pragmaNoCache: boolean,
): Verdict {
  if (req.has("no-cache") || (pragmaNoCache && req.size === 0)) return { use: "revalidate" };
  const reqMaxAge = seconds(req, "max-age");
  if (reqMaxAge !== undefined && age > reqMaxAge) return { use: "revalidate" };
  const minFresh = seconds(req, "min-fresh") ?? 0;
  const fresh = lifetime - age;
  if (fresh > minFresh) return { use: "fresh" };
  if (fresh > 0 && minFresh > 0) return { use: "revalidate" };
  const staleness = age - lifetime;
  if (!rules.forbidden && req.has("max-stale")) {
    const maxStale = req.get("max-stale");
    if (maxStale === true || staleness <= Number(maxStale)) return { use: "fresh" };
  }
  if (!rules.forbidden && lifetime > 0 && rules.whileRevalidate > 0 && staleness <= rules.whileRevalidate)
    return { use: "stale-while-revalidate" };
  return { use: "revalidate" };
}

/** Whether a stale response may be served because the origin failed (stale-if-error). */
export function staleIfErrorAllows(age: number, lifetime: number, rules: StaleRules): boolean {
  return !rules.forbidden && age - lifetime <= rules.ifError;
}

/** Methods whose success invalidates the stored responses of their target (§4.4). */
export function invalidates(method: string, status: number): boolean {
  if (status < 200 || status >= 400) return false;
  return method !== "GET" && method !== "HEAD" && method !== "OPTIONS" && method !== "TRACE";
}
