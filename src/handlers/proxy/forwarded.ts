import { isIPv6 } from "node:net";
import type { Exchange } from "../../http/exchange.ts";

/** Hop-by-hop fields (RFC 9110 §7.6.1) never forwarded, in either direction. */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-authenticate",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** The set of fields a message's own `Connection` header declares hop-by-hop. */
export function connectionListed(value: string | string[] | undefined): Set<string> {
  const out = new Set<string>();
  if (value === undefined) return out;
  for (const v of Array.isArray(value) ? value : [value]) {
    for (const token of v.split(",")) {
      const t = token.trim().toLowerCase();
      if (t) out.add(t);
    }
  }
  return out;
}

export interface ForwardOptions {
  trusted: (ip: string) => boolean;
  forwarded: boolean;
}

/**
 * The header list for the upstream request: the client's fields minus hop-by-hop ones,
 * plus X-Forwarded-For/Proto/Host, Via, X-Request-Id and (optionally) Forwarded. A client's
 * own X-Forwarded-* and Forwarded values are kept only when the peer is a trusted proxy.
 */
export function upstreamHeaders(
  ex: Exchange,
  raw: readonly string[],
  opts: ForwardOptions,
): [string, string][] {
  const peer = ex.remoteAddress.startsWith("::ffff:") ? ex.remoteAddress.slice(7) : ex.remoteAddress;
  const trusted = opts.trusted(peer);
  const listed = connectionListed(ex.header("connection"));
  const out: [string, string][] = [];
  let xff: string | undefined;
  let xfProto: string | undefined;
  let xfHost: string | undefined;
  let fwd: string | undefined;
  let requestId: string | undefined;
  let cookie: string | undefined;
  let sawHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    const value = raw[i + 1]!;
    if (lower.charCodeAt(0) === 58 /* : */) {
      // HTTP/2 pseudo-headers: only the authority goes on, as Host (RFC 9113 §8.3.1).
      if (lower === ":authority" && !sawHost) out.push(["Host", value]);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    if (lower === "x-forwarded-for") {
      if (trusted) xff = xff ? `${xff}, ${value}` : value;
      continue;
    }
    if (lower === "x-forwarded-proto") {
      if (trusted) xfProto = value;
      continue;
    }
    if (lower === "x-forwarded-host") {
      if (trusted) xfHost = value;
      continue;
    }
    if (lower === "forwarded") {
      if (trusted) fwd = fwd ? `${fwd}, ${value}` : value;
      continue;
    }
    if (lower === "x-request-id") {
      requestId = value;
      continue;
    }
    if (lower === "cookie") {
      // HTTP/2 clients send each cookie as its own field (RFC 9113 §8.2.3); an HTTP/1.1
      // upstream must get them as one, joined with "; " (a WSGI server joins repeats with
      // ", ", which breaks every cookie after the first).
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    }
    if (lower === "host") {
      if (sawHost) continue;
      sawHost = true;
      const authority = out.findIndex(([n]) => n === "Host");
      if (authority !== -1) out.splice(authority, 1);
      out.push(["Host", value]);
      continue;
    }
    // Via is rebuilt below; Expect was answered here (100-continue) and is not sent on.
    if (lower === "via" || lower === "expect") continue;
    out.push([name, value]);
  }
  if (cookie !== undefined) out.push(["Cookie", cookie]);
  const clientHost = requestAuthority(ex);
  out.push(["X-Forwarded-For", xff ? `${xff}, ${peer}` : peer]);
  out.push(["X-Forwarded-Proto", xfProto ?? ex.scheme]);
  out.push(["X-Forwarded-Host", xfHost ?? clientHost]);
  if (opts.forwarded) {
    const forNode = isIPv6(peer) ? `"[${peer}]"` : peer;
    const own = `for=${forNode};proto=${ex.scheme};host="${clientHost.replace(/["\\]/g, "")}"`;
    out.push(["Forwarded", fwd ? `${fwd}, ${own}` : own]);
  }
  const via = ex.header("via");
  out.push(["Via", via ? `${via}, ${ex.httpVersion} wharf` : `${ex.httpVersion} wharf`]);
  out.push(["X-Request-Id", requestId ?? ex.id]);
  return out;
}

/**
 * The authority the client asked for, port included: Host on HTTP/1.1, `:authority` on
 * HTTP/2 (which has no Host field), else the routed host name.
 */
export function requestAuthority(ex: Exchange): string {
  return ex.header("host") ?? ex.header(":authority") ?? ex.host;
}
