import { Readable } from "node:stream";
import type { Exchange } from "../../http/exchange.ts";
import type { ClientResponse } from "../../http/upstream.ts";
import { connectionListed, HOP_BY_HOP } from "./forwarded.ts";
import type { ProxyConfig } from "./schema.ts";
import { stickyId } from "./select.ts";
import type { Upstream } from "./upstream.ts";

/**
 * Relays an upstream's response to the client: its fields without hop-by-hop ones (and
 * without Date and Server, which are wharf's), the route's changes, the sticky cookie,
 * then the body (a whole one at once, a streamed one with backpressure) and its trailers.
 * `finished(ok)` is called once the upstream's part is over: its body read to the end
 * (ok), or broken off.
 */
export function relayResponse(
  ex: Exchange,
  res: ClientResponse,
  u: Upstream,
  cfg: ProxyConfig,
  finished: (ok: boolean) => void,
): void {
  let listed: Set<string> | undefined;
  let length: number | undefined;
  // Trailer is hop-by-hop for the head, but it says which trailer fields to pass on.
  let announced: string[] = [];
  for (const [k, v] of res.headers) {
    const lower = k.toLowerCase();
    if (lower === "connection") listed = connectionListed(v);
    else if (lower === "trailer") announced = [...announced, ...connectionListed(v)];
  }
  for (const [k, v] of res.headers) {
    const lower = k.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    if (lower === "content-length") {
      length = Number(v);
      continue;
    }
    if (lower === "date" || lower === "server") continue;
    ex.appendHeader(canonical(k), v);
  }
  for (const name of cfg.response_headers.remove) ex.removeHeader(name);
  for (const [k, v] of Object.entries(cfg.response_headers.set)) ex.setHeader(k, v);
  if (cfg.policy === "cookie")
    ex.appendHeader("Set-Cookie", `${cfg.cookie_name}=${stickyId(u)}; Path=/; HttpOnly; SameSite=Lax`);
  const bodyless = ex.method === "HEAD" || res.status === 204 || res.status === 304;
  const body = res.body;
  if (Buffer.isBuffer(body) && !bodyless) {
    // The whole body came with the head: one response, no stream.
    finished(true);
    ex.send(res.status, body);
    return;
  }
  const stream = Buffer.isBuffer(body) ? Readable.from([]) : body;
  let done = false;
  const finish = (ok: boolean) => {
    if (done) return;
    done = true;
    finished(ok);
  };
  stream.once("end", () => finish(true));
  stream.once("error", () => finish(false));
  stream.once("close", () => finish(stream.readableEnded));
  if (bodyless && length !== undefined) ex.setHeader("Content-Length", String(length));
  const getTrailers = res.trailers;
  const trailers = announced.length > 0 && getTrailers ? { names: announced, get: getTrailers } : undefined;
  ex.stream(res.status, stream, bodyless ? undefined : length, trailers);
}

/** `content-type` → `Content-Type`, for header names that arrive lower-cased. */
const canonicalNames = new Map<string, string>();
function canonical(name: string): string {
  let out = canonicalNames.get(name);
  if (out === undefined) {
    out = name.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
    // Bounded: names are few in practice, but an upstream could invent many.
    if (canonicalNames.size < 1000) canonicalNames.set(name, out);
  }
  return out;
}
