import { matchesTag, parseHttpDate } from "../../../http/conditional.ts";
import type { Exchange } from "../../../http/exchange.ts";
import { parseRange } from "../../../http/range.ts";
import { currentAge } from "./policy.ts";
import type { StoredResponse } from "./zone.ts";

/** The value of a stored field (first, by lower-case name). */
export function storedField(r: StoredResponse, name: string): string | undefined {
  for (const [k, v] of r.headers) if (k.toLowerCase() === name) return v;
  return undefined;
}

/**
 * Answers from a stored response: its fields, `Age` (§4: a MUST for every response from a
 * cache, which nginx does not send) and `Cache-Status` (RFC 9211); the client's own
 * conditionals (304), a single range from a full 200 (206, or 416), HEAD without a body.
 * `changes` applies the route's response field changes.
 */
export function serveStored(
  ex: Exchange,
  r: StoredResponse,
  cacheStatus: string,
  now: number,
  changes: (ex: Exchange) => void,
): void {
  for (const [k, v] of r.headers) ex.appendHeader(k, v);
  changes(ex);
  ex.setHeader("Age", String(Math.max(0, currentAge(r.age, now))));
  ex.setHeader("Cache-Status", cacheStatus);
  if (r.status === 200 && ex.method === "GET") {
    const etag = storedField(r, "etag");
    const inm = ex.header("if-none-match");
    const ims = ex.header("if-modified-since");
    const lm = storedField(r, "last-modified");
    const notModified =
      inm !== undefined
        ? etag !== undefined && matchesTag(inm, etag, false)
        : ims !== undefined &&
          lm !== undefined &&
          (parseHttpDate(lm) ?? Infinity) <= (parseHttpDate(ims) ?? -1);
    if (notModified) return ex.send(304);
    const range = ex.header("range");
    const ifRange = ex.header("if-range");
    if (range !== undefined && (ifRange === undefined || (etag !== undefined && ifRange.trim() === etag))) {
      const size = r.body.length;
      const parsed = parseRange(range, size, 1);
      if (parsed.kind === "unsatisfiable") {
        ex.setHeader("Content-Range", `bytes */${size}`);
        return ex.send(416);
      }
      if (parsed.kind === "ranges" && parsed.ranges.length === 1) {
        const { start, end } = parsed.ranges[0]!;
        ex.setHeader("Content-Range", `bytes ${start}-${end}/${size}`);
        return ex.send(206, r.body.subarray(start, end + 1));
      }
    }
  }
  ex.send(r.status, r.body);
}
