import { type Readable, Readable as ReadableStream } from "node:stream";
import { pump } from "../../core/pump.ts";
import { Spool } from "../../core/spool.ts";
import { sendError } from "../../http/error-page.ts";
import type { Exchange } from "../../http/exchange.ts";
import type { ClientResponse } from "../../http/upstream.ts";
import { connectionListed, HOP_BY_HOP } from "./forwarded.ts";
import type { ProxyConfig } from "./schema.ts";
import { stickyId } from "./select.ts";
import type { Upstream } from "./upstream.ts";

/** What relaying a response needs besides the response. */
export interface RelayContext {
  cfg: ProxyConfig;
  /** An internal redirect through the site's routes (X-Accel-Redirect). */
  reroute(ex: Exchange, target: string): void | Promise<void>;
  /** Serves a file an app named by X-Sendfile; false when it lies outside `sendfile_roots`. */
  sendfile(ex: Exchange, path: string): false | void | Promise<void>;
  /** The upstream's part is over: its body read to the end (ok), or broken off. */
  finished(ok: boolean): void;
}

/** Fields an app's answer keeps when X-Accel-Redirect hands the body to another route (as nginx). */
const KEPT_ON_REDIRECT = [
  "content-type",
  "content-disposition",
  "cache-control",
  "expires",
  "content-language",
];

/** The upstream's head, sorted: what goes to the client, and what is for wharf. */
interface Head {
  fields: [string, string][];
  length: number | undefined;
  trailerNames: string[];
  accelRedirect: string | undefined;
  sendfile: string | undefined;
  /** `X-Accel-Buffering: no`: this response streams unbuffered. */
  unbuffered: boolean;
}

function readHead(headers: readonly [string, string][]): Head {
  let listed: Set<string> | undefined;
  // Trailer is hop-by-hop for the head, but it says which trailer fields to pass on.
  const trailerNames: string[] = [];
  for (const [k, v] of headers) {
    const lower = k.toLowerCase();
    if (lower === "connection") listed = connectionListed(v);
    else if (lower === "trailer") trailerNames.push(...connectionListed(v));
  }
  const head: Head = {
    fields: [],
    length: undefined,
    trailerNames,
    accelRedirect: undefined,
    sendfile: undefined,
    unbuffered: false,
  };
  for (const [k, v] of headers) {
    const lower = k.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    if (lower === "content-length") head.length = Number(v);
    else if (lower === "date" || lower === "server") continue;
    // The X-Accel family and X-Sendfile are instructions to wharf: never the client's.
    else if (lower === "x-accel-redirect") head.accelRedirect = v.trim();
    else if (lower === "x-sendfile") head.sendfile = v.trim();
    else if (lower === "x-accel-buffering") head.unbuffered = v.trim().toLowerCase() === "no";
    else if (lower.startsWith("x-accel-")) continue;
    else head.fields.push([canonical(k), v]);
  }
  return head;
}

/**
 * Relays an upstream's response to the client: its fields without hop-by-hop ones (and
 * without Date and Server, which are wharf's), the route's changes, the sticky cookie,
 * then the body (a whole one at once, a streamed one with backpressure, through the
 * response buffer unless the route or the app turned it off) and its trailers. An
 * X-Accel-Redirect or X-Sendfile answer is served from the files it names instead; with
 * `intercept_errors`, a 5xx gets the site's error page.
 */
export function relayResponse(
  ex: Exchange,
  res: ClientResponse,
  u: Upstream,
  rc: RelayContext,
): void | Promise<void> {
  const cfg = rc.cfg;
  const head = readHead(res.headers);
  if (head.accelRedirect !== undefined || (head.sendfile !== undefined && cfg.sendfile_roots.length > 0)) {
    discard(res, rc.finished);
    return internally(ex, res.status, head, rc);
  }
  if (cfg.intercept_errors && res.status >= 500) {
    discard(res, rc.finished);
    return sendError(ex, res.status);
  }
  for (const [k, v] of head.fields) ex.appendHeader(k, v);
  for (const name of cfg.response_headers.remove) ex.removeHeader(name);
  for (const [k, v] of Object.entries(cfg.response_headers.set)) ex.setHeader(k, v);
  if (cfg.policy === "cookie")
    ex.appendHeader("Set-Cookie", `${cfg.cookie_name}=${stickyId(u)}; Path=/; HttpOnly; SameSite=Lax`);
  const bodyless = ex.method === "HEAD" || res.status === 204 || res.status === 304;
  const body = res.body;
  if (Buffer.isBuffer(body) && !bodyless) {
    // The whole body came with the head: one response, no stream.
    rc.finished(true);
    ex.send(res.status, body);
    return;
  }
  const upstream = Buffer.isBuffer(body) ? ReadableStream.from([]) : body;
  watch(upstream, rc.finished);
  if (bodyless && head.length !== undefined) ex.setHeader("Content-Length", String(head.length));
  const getTrailers = res.trailers;
  const trailers =
    head.trailerNames.length > 0 && getTrailers ? { names: head.trailerNames, get: getTrailers } : undefined;
  const buffered = cfg.buffer_responses && !head.unbuffered && !bodyless;
  ex.stream(
    res.status,
    buffered ? spooled(upstream, cfg) : upstream,
    bodyless ? undefined : head.length,
    trailers,
  );
}

/**
 * The upstream's body read as fast as it comes into a spool, which the client drains at
 * its own pace: what it can take now passes straight through.
 */
function spooled(upstream: Readable, cfg: ProxyConfig): Readable {
  const spool = new Spool({ memory: cfg.buffer_memory, maxFile: cfg.max_temp_file_size, dir: cfg.temp_dir });
  pump(upstream, spool, (err) => (err ? spool.destroy(err) : spool.end()));
  // The client went away: the upstream's body is not wanted any more.
  spool.once("close", () => {
    if (!upstream.readableEnded) upstream.destroy();
  });
  return spool;
}

/** Calls `finished` once, when the upstream's body has ended (ok) or broken off. */
function watch(stream: Readable, finished: (ok: boolean) => void): void {
  let done = false;
  const finish = (ok: boolean) => {
    if (done) return;
    done = true;
    finished(ok);
  };
  stream.once("end", () => finish(true));
  stream.once("error", () => finish(false));
  stream.once("close", () => finish(stream.readableEnded));
}

/** A body wharf does not pass on: read to its end (the connection stays reusable), or none. */
function discard(res: ClientResponse, finished: (ok: boolean) => void): void {
  if (Buffer.isBuffer(res.body)) return finished(true);
  watch(res.body, finished);
  res.body.resume();
}

/**
 * X-Accel-Redirect (a URI, through the site's routes: `internal` ones answer it) or
 * X-Sendfile (an absolute path under `sendfile_roots`): the file is served with all the
 * static handler does (ranges, validators, compression). The app's status (when not
 * 200), Content-Type, Content-Disposition, Cache-Control, Expires and cookies are kept.
 */
function internally(ex: Exchange, appStatus: number, head: Head, rc: RelayContext): void | Promise<void> {
  const kept = head.fields.filter(([k]) => KEPT_ON_REDIRECT.includes(k.toLowerCase()));
  for (const [k, v] of head.fields) if (k.toLowerCase() === "set-cookie") ex.appendHeader(k, v);
  ex.onHead((ex) => {
    if (ex.status >= 400) return;
    for (const [k] of kept) ex.removeHeader(k);
    for (const [k, v] of kept) ex.appendHeader(k, v);
    if (appStatus !== 200 && appStatus < 300 && ex.status === 200) ex.status = appStatus;
  });
  if (head.accelRedirect !== undefined) {
    const target = head.accelRedirect;
    if (!target.startsWith("/")) return sendError(ex, 502, "X-Accel-Redirect must be a path");
    return rc.reroute(ex, target);
  }
  const served = rc.sendfile(ex, head.sendfile!);
  if (served === false) return sendError(ex, 404);
  return served;
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
