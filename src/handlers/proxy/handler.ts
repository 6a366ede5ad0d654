import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { WharfError } from "../../core/errors.ts";
import { sendError } from "../../http/error-page.ts";
import type { Exchange } from "../../http/exchange.ts";
import type { HandlerContext, HandlerInstance, Next } from "../handler.ts";
import { prefixMatcher } from "../path-prefix.ts";
import { parseUpstreamAddress, type UpstreamAddress } from "./address.ts";
import { type BufferedBody, bufferBody } from "./buffer-body.ts";
import { connectionListed, HOP_BY_HOP, trustedMatcher, upstreamHeaders } from "./forwarded.ts";
import { startHealthChecks } from "./health.ts";
import type { ProxyConfig } from "./schema.ts";
import { makeSelector, stickyId } from "./select.ts";
import { type Transport, UpstreamError, type UpstreamRequest, type UpstreamResponse } from "./transport.ts";
import { fastcgiTransport } from "./transport-fastcgi.ts";
import { httpTransport } from "./transport-http.ts";
import { uwsgiTransport } from "./transport-uwsgi.ts";
import { tunnel } from "./tunnel.ts";
import { Upstream } from "./upstream.ts";

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

/** The reverse proxy handler: balancing, health, retries, forwarding headers, streaming, tunnels. */
export function createProxy(cfg: ProxyConfig, ctx: HandlerContext): HandlerInstance {
  const log = ctx.log;
  const upstreams = cfg.to.map(
    (t, i) => new Upstream(parseUpstreamAddress(t.url) as UpstreamAddress, t.weight, i),
  );
  const transports = new Map<Upstream, Transport>();
  const ca = cfg.tls.ca ? readFileSync(cfg.tls.ca) : undefined;
  for (const u of upstreams) {
    const a = u.address;
    const timeouts = { connect: cfg.timeouts.connect, header: cfg.timeouts.header, read: cfg.timeouts.read };
    transports.set(
      u,
      a.protocol === "uwsgi"
        ? uwsgiTransport(a, timeouts)
        : a.protocol === "fastcgi"
          ? fastcgiTransport(a, timeouts, (text) => log.warn("fastcgi stderr", { upstream: a.text, text }))
          : httpTransport(a, {
              timeouts,
              maxConnections: cfg.max_connections,
              tls: { verify: cfg.tls.verify, ca: cfg.tls.ca, serverName: cfg.tls.server_name },
            }),
    );
  }
  const select = makeSelector(cfg.policy);
  const trusted = trustedMatcher(cfg.trusted_proxies);
  const strip = cfg.strip_prefix?.replace(/\/$/, "");
  const stripMatch = strip ? prefixMatcher(strip) : undefined;
  const stopChecks = cfg.health_check
    ? startHealthChecks(upstreams, transports, cfg.health_check, log)
    : () => {};
  const needsLength = upstreams.some((u) => u.address.protocol !== "http");

  const markFailed = (u: Upstream, why: string) => {
    if (u.fail(Date.now(), cfg.max_fails, cfg.fail_window, cfg.fail_timeout)) {
      log.warn("upstream marked down", { upstream: u.address.text, for_ms: cfg.fail_timeout, reason: why });
    }
  };

  /** Candidates not yet tried, preferring available ones; when none is available, all untried (self-healing). */
  const candidates = (tried: Set<Upstream>): Upstream[] => {
    const now = Date.now();
    const untried = upstreams.filter((u) => !tried.has(u));
    const up = untried.filter((u) => u.available(now));
    return up.length > 0 ? up : untried;
  };

  /** The path sent upstream (still encoded), and the CGI script name / path info split. */
  const upstreamPath = (ex: Exchange): { path: string; scriptName: string; pathInfo: string } => {
    let raw = ex.rawPath;
    let pathInfo = ex.path;
    let scriptName = "";
    if (strip && stripMatch?.(ex.path)) {
      raw = raw.slice(strip.length) || "/";
      if (!raw.startsWith("/")) raw = `/${raw}`;
      pathInfo = ex.path.slice(strip.length) || "/";
      scriptName = strip;
    }
    if (cfg.add_prefix) {
      const p = cfg.add_prefix.replace(/\/$/, "");
      raw = p + raw;
      scriptName = p + scriptName;
    }
    return { path: raw + ex.query, scriptName, pathInfo };
  };

  async function handle(ex: Exchange, _next: Next): Promise<void> {
    const started = Date.now();
    const { path, scriptName, pathInfo } = upstreamPath(ex);
    const headers = upstreamHeaders(ex, ex.rawHeaders(), { trusted, forwarded: cfg.forwarded });
    for (const name of cfg.request_headers.remove) removePair(headers, name);
    for (const [k, v] of Object.entries(cfg.request_headers.set)) {
      removePair(headers, k);
      headers.push([k, v]);
    }
    const cookie = cfg.policy === "cookie" ? readCookie(ex.header("cookie"), cfg.cookie_name) : undefined;

    if (ex.upgradeable && ex.header("upgrade") !== undefined) return proxyUpgrade(ex, path, headers, cookie);

    const declared = ex.header("content-length");
    const hasBody = ex.hasBody;
    let buffered: BufferedBody | undefined;
    let stream: Readable | undefined;
    try {
      if (hasBody && (cfg.buffer_requests || (needsLength && declared === undefined))) {
        buffered = await bufferBody(ex.body(), cfg.buffer_memory);
      } else if (hasBody) stream = ex.body();
    } catch (err) {
      ex.closeConnection();
      return sendError(ex, err instanceof WharfError ? err.status : 400);
    }
    // Unknown for a body streamed without a declared length (chunked, or HTTP/2 without one).
    const bodyLength = buffered ? buffered.length : declared !== undefined ? Number(declared) : undefined;
    if (buffered) {
      removePair(headers, "content-length");
      removePair(headers, "transfer-encoding");
      headers.push(["Content-Length", String(bodyLength)]);
    }

    const abort = new AbortController();
    let upstreamDone = false;
    // Aborting builds an AbortError; do it only when the client left before the upstream finished.
    ex.onDone(() => {
      if (!upstreamDone) abort.abort();
    });
    const tried = new Set<Upstream>();
    let lastError: UpstreamError | undefined;
    let resetRetried = false;
    try {
      for (let attempt = 0; attempt < cfg.tries; attempt++) {
        if (attempt > 0 && Date.now() - started > cfg.try_duration) break;
        const list = candidates(tried);
        if (list.length === 0) break;
        const u = select(list, { clientIp: ex.remoteAddress, cookie });
        tried.add(u);
        const t = transports.get(u)!;
        const body = buffered ? (buffered.buffer ?? buffered.open()) : stream;
        const req: UpstreamRequest = {
          method: ex.method,
          path,
          headers: withHost(headers, u, cfg.preserve_host),
          body,
          bodyLength: hasBody ? bodyLength : undefined,
          cgi: {
            scriptName,
            pathInfo,
            serverName: ex.host,
            serverPort: serverPort(ex),
            remoteAddr: ex.remoteAddress,
            remotePort: ex.remotePort,
            https: ex.scheme === "https",
            protocol: `HTTP/${ex.httpVersion}`,
          },
          signal: abort.signal,
        };
        u.active++;
        let res: Awaited<ReturnType<Transport["request"]>>;
        try {
          res = await t.request(req);
        } catch (err) {
          u.active--;
          const e = err instanceof UpstreamError ? err : new UpstreamError("protocol", String(err));
          lastError = e;
          if (abort.signal.aborted) return;
          // The client's body broke the limit while streaming: that is the client's error.
          const cause = e.cause;
          if (cause instanceof WharfError) {
            // The rest of the body stays unread: the connection cannot carry another request.
            ex.closeConnection();
            return sendError(ex, cause.status);
          }
          // A kept-alive connection the upstream closed just as it was reused is reset before
          // any answer: try once more (on the same upstream, which is not at fault) when the
          // body can be replayed, whatever the method, as browsers and Go's HTTP client do.
          if (!resetRetried && !stream && e.kind === "protocol" && isReset(e)) {
            resetRetried = true;
            tried.delete(u);
            continue;
          }
          markFailed(u, e.message);
          log.warn("upstream failed", {
            upstream: u.address.text,
            kind: e.kind,
            error: e.message,
            request_id: ex.id,
          });
          // Retry where it is safe: nothing reached the app (connect), or an idempotent request
          // whose body was not consumed yet.
          const bodyUntouched = !stream || !stream.readableDidRead;
          const safe = e.kind === "connect" ? bodyUntouched : IDEMPOTENT.has(ex.method) && bodyUntouched;
          if (safe && e.kind !== "timeout") continue;
          break;
        }
        u.succeed();
        if (Buffer.isBuffer(res.body)) upstreamDone = true;
        else {
          // Done at "end" (the exchange may finish, and run onDone, before the body's "close").
          const done = () => {
            upstreamDone = true;
          };
          res.body.once("end", done);
          res.body.once("close", done);
        }
        respond(ex, res, u);
        return;
      }
      const status = lastError?.kind === "timeout" ? 504 : 502;
      log.error("proxy gave up", { status, tries: tried.size, error: lastError?.message, request_id: ex.id });
      sendError(ex, status);
    } finally {
      if (buffered) void buffered.dispose();
    }
  }

  function respond(ex: Exchange, res: UpstreamResponse, u: Upstream): void {
    let listed: Set<string> | undefined;
    let length: number | undefined;
    // Trailer is hop-by-hop for the head, but it says which trailer fields to pass on.
    let announced: string[] = [];
    for (const [k, v] of res.headers) {
      const lower = k.toLowerCase();
      if (lower === "connection") listed = connectionListed(v);
      else if (lower === "trailer") announced = [...announced, ...[...connectionListed(v)]];
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
      u.active--;
      ex.send(res.status, body);
      return;
    }
    const stream = Buffer.isBuffer(body) ? Readable.from([]) : body;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      u.active--;
      if (!ok) markFailed(u, "response body interrupted");
    };
    stream.once("end", () => finish(true));
    stream.once("error", () => finish(false));
    stream.once("close", () => finish(stream.readableEnded));
    if (bodyless && length !== undefined) ex.setHeader("Content-Length", String(length));
    const getTrailers = res.trailers;
    const trailers = announced.length > 0 && getTrailers ? { names: announced, get: getTrailers } : undefined;
    ex.stream(res.status, stream, bodyless ? undefined : length, trailers);
  }

  async function proxyUpgrade(
    ex: Exchange,
    path: string,
    headers: [string, string][],
    cookie: string | undefined,
  ) {
    const list = candidates(new Set()).filter((u) => u.address.protocol === "http");
    if (list.length === 0) return sendError(ex, 501, "this upstream cannot switch protocols");
    const u = select(list, { clientIp: ex.remoteAddress, cookie });
    try {
      await tunnel(ex, u.address, path, withHost(headers, u, cfg.preserve_host), {
        connectTimeout: cfg.timeouts.connect,
        headerTimeout: cfg.timeouts.header,
        idleTimeout: cfg.timeouts.tunnel_idle,
        tls: { verify: cfg.tls.verify, ca, serverName: cfg.tls.server_name },
      });
    } catch (err) {
      const e = err as UpstreamError;
      markFailed(u, e.message);
      log.warn("upgrade failed", { upstream: u.address.text, error: e.message, request_id: ex.id });
      sendError(ex, e.kind === "timeout" ? 504 : 502);
    }
  }

  return {
    handle,
    async close() {
      stopChecks();
      await Promise.allSettled([...transports.values()].map((t) => t.close()));
    },
  };
}

function isReset(e: UpstreamError): boolean {
  const code = (e.cause as NodeJS.ErrnoException | undefined)?.code ?? "";
  return code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET";
}

function removePair(headers: [string, string][], name: string): void {
  const lower = name.toLowerCase();
  for (let i = headers.length - 1; i >= 0; i--)
    if (headers[i]![0].toLowerCase() === lower) headers.splice(i, 1);
}

/** The header list with the Host the upstream should see. */
function withHost(headers: [string, string][], u: Upstream, preserve: boolean): [string, string][] {
  if (preserve && headers.some(([k]) => k === "Host")) return headers;
  const a = u.address;
  const own = a.socketPath ? "localhost" : `${a.host!.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
  return [...headers.filter(([k]) => k !== "Host"), ["Host", own]];
}

function serverPort(ex: Exchange): string {
  const m = /:(\d+)$/.exec(ex.header("host") ?? "");
  return m ? m[1]! : ex.scheme === "https" ? "443" : "80";
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
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
