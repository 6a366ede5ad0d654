/** The validators of the selected representation. */
export interface Validators {
  /** Strong entity tag, quoted. */
  etag: string;
  /** Modification time in whole seconds since the epoch. */
  mtimeSec: number;
}

/** Request headers that take part in preconditions. */
export interface Conditions {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
  ifUnmodifiedSince?: string | undefined;
}

/**
 * Evaluates preconditions in the order of RFC 9110 §13.2.2: 200 (proceed), 304 or 412.
 * `safe` is true for GET and HEAD.
 */
export function evaluatePreconditions(c: Conditions, v: Validators, safe: boolean): 200 | 304 | 412 {
  if (c.ifMatch !== undefined) {
    if (!matchesTag(c.ifMatch, v.etag, true)) return 412;
  } else if (c.ifUnmodifiedSince !== undefined) {
    const t = parseHttpDate(c.ifUnmodifiedSince);
    if (t !== undefined && v.mtimeSec > t) return 412;
  }
  if (c.ifNoneMatch !== undefined) {
    if (matchesTag(c.ifNoneMatch, v.etag, false)) return safe ? 304 : 412;
  } else if (safe && c.ifModifiedSince !== undefined) {
    const t = parseHttpDate(c.ifModifiedSince);
    if (t !== undefined && v.mtimeSec <= t) return 304;
  }
  return 200;
}

/**
 * Whether If-Range allows a partial response (§13.1.5): an entity tag must match strongly
 * (a weak one never does); a date must equal the Last-Modified time exactly.
 */
export function ifRangeAllows(ifRange: string, v: Validators): boolean {
  const s = ifRange.trim();
  if (s.startsWith('"')) return s === v.etag;
  if (s.startsWith("W/")) return false;
  const t = parseHttpDate(s);
  return t !== undefined && t === v.mtimeSec;
}

/** Whether a list of entity tags (or `*`) matches `etag`; weak comparison unless `strong`. */
export function matchesTag(list: string, etag: string, strong: boolean): boolean {
  const value = list.trim();
  if (value === "*") return true;
  const bare = etag.startsWith("W/") ? etag.slice(2) : etag;
  if (strong && etag.startsWith("W/")) return false;
  const re = /\s*(W\/)?("[^"]*")\s*(?:,|$)/gy;
  for (let m = re.exec(value); m !== null && m[0] !== ""; m = re.exec(value)) {
    if (strong && m[1]) continue;
    if (m[2] === bare) return true;
  }
  return false;
}

/** Parses an HTTP-date (IMF-fixdate, and the obsolete RFC 850 and asctime forms) to seconds. */
export function parseHttpDate(text: string): number | undefined {
  // Revalidating clients send the same date again and again.
  if (text === lastDateText) return lastDate;
  const ms = Date.parse(text);
  lastDateText = text;
  lastDate = Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
  return lastDate;
}

let lastDateText = "";
let lastDate: number | undefined;
