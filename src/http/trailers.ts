/** Trailer fields to send after a streamed body (RFC 9110 §6.5): announced up front, known at the end. */
export interface Trailers {
  /** The field names announced in the head (`Trailer`). */
  names: readonly string[];
  /** The fields themselves, read once the body has ended. */
  get(): readonly (readonly [string, string])[];
}

/**
 * Fields that must not be sent as trailers: framing, routing, request modifiers,
 * authentication, response control and content handling (RFC 9110 §6.5.1).
 */
const FORBIDDEN = new Set([
  "content-length",
  "transfer-encoding",
  "trailer",
  "host",
  "connection",
  "keep-alive",
  "te",
  "upgrade",
  "content-type",
  "content-encoding",
  "content-range",
  "cache-control",
  "expect",
  "max-forwards",
  "pragma",
  "range",
  "authorization",
  "set-cookie",
  "www-authenticate",
  "proxy-authenticate",
  "proxy-authorization",
  "location",
  "retry-after",
  "date",
]);

/** The trailer fields that may go out, lower-cased names, in order. */
export function sendableTrailers(t: Trailers): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of t.get()) {
    const lower = name.toLowerCase();
    if (!FORBIDDEN.has(lower) && !/[\r\n\0]/.test(value)) out.push([lower, value]);
  }
  return out;
}

/** The announced names that may be trailers. */
export function announcedTrailers(t: Trailers): string[] {
  return t.names.map((n) => n.toLowerCase()).filter((n) => !FORBIDDEN.has(n));
}
