import { readFileSync, realpathSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { WharfError } from "../../core/errors.ts";
import { addressMatcher } from "../../http/client-address.ts";
import { sendError } from "../../http/error-page.ts";
import type { Exchange } from "../../http/exchange.ts";
import { type ClientResponse, classify, type UpstreamError } from "../../http/upstream.ts";
import { parseUpstreamAddress, type UpstreamAddress } from "../../http/upstream-address.ts";
import type { HandlerContext, HandlerInstance, Next } from "../handler.ts";
import { prefixMatcher } from "../path-prefix.ts";
import { createStatic } from "../static/handler.ts";
import { createCache } from "./cache/cache.ts";
import { startHealthChecks } from "./health.ts";
import {
  cgiInfo,
  type RequestBody,
  readCookie,
  requestBody,
  requestFields,
  type UpstreamPath,
  upstreamPath,
  withHost,
} from "./request.ts";
import { relayResponse } from "./response.ts";
import { afterFailure } from "./retry.ts";
import type { ProxyConfig } from "./schema.ts";
import { makeSelector } from "./select.ts";
import type { Transport, UpstreamRequest } from "./transport.ts";
import { fastcgiTransport } from "./transport-fastcgi.ts";
import { httpTransport } from "./transport-http.ts";
import { uwsgiTransport } from "./transport-uwsgi.ts";
import { proxyUpgrade, type UpgradeContext } from "./upgrade.ts";
import { Upstream } from "./upstream.ts";

/** How often a request waiting for a restarting app tries again. */
const APP_RETRY_MS = 250;

/**
 * The reverse proxy handler, as Caddy's reverseproxy is laid out: this file provisions
 * (upstreams, their transports, health checks) and closes, and runs the attempts of a
 * request; `request.ts` prepares what goes upstream, `retry.ts` decides after a failure,
 * `response.ts` relays the answer, `upgrade.ts` tunnels protocol switches.
 */
export function createProxy(cfg: ProxyConfig, ctx: HandlerContext): HandlerInstance {
  const log = ctx.log;
  const upstreams = cfg.to.map(
    (t, i) => new Upstream(parseUpstreamAddress(t.url) as UpstreamAddress, t.weight, i),
  );
  const transports = new Map<Upstream, Transport>();
  for (const u of upstreams) transports.set(u, transportFor(u.address, cfg, log));
  const select = makeSelector(cfg.policy);
  const trusted = addressMatcher(cfg.trusted_proxies);
  const strip = cfg.strip_prefix?.replace(/\/$/, "");
  const stripMatch = strip ? prefixMatcher(strip) : undefined;
  const stopChecks = cfg.health_check
    ? startHealthChecks(upstreams, transports, cfg.health_check, log)
    : () => {};
  const unregister = ctx.upstreams.add(() =>
    upstreams.map((u) => ({
      url: u.address.text,
      healthy: u.available(Date.now()),
      inFlight: u.active,
      queued: held,
      fails: u.failures,
      lastError: u.lastError,
      drained: ctx.upstreams.isDrained(u.address.text),
    })),
  );
  const metrics = ctx.metrics;
  /** Exchanges this proxy answers now (from their head on: a retired app waits for them). */
  let held = 0;
  const release = () => {
    held--;
  };
  // uwsgi and FastCGI need a body's length up front: such a body is read in full first.
  const needsLength = upstreams.some((u) => u.address.protocol !== "http");

  const markFailed = (u: Upstream, why: string) => {
    if (u.fail(Date.now(), cfg.max_fails, cfg.fail_window, cfg.fail_timeout, why)) {
      log.warn("upstream marked down", { upstream: u.address.text, for_ms: cfg.fail_timeout, reason: why });
    }
  };

  /**
   * Candidates not yet tried, preferring available ones; when none is available, all
   * untried (self-healing). A drained upstream is never a candidate.
   */
  const candidates = (tried: ReadonlySet<Upstream>): Upstream[] => {
    const now = Date.now();
    const untried = upstreams.filter((u) => !tried.has(u) && !ctx.upstreams.isDrained(u.address.text));
    const up = untried.filter((u) => u.available(now));
    return up.length > 0 ? up : untried;
  };

  const upgrades: UpgradeContext = {
    cfg,
    log,
    tls: {
      verify: cfg.tls.verify,
      ca: cfg.tls.ca ? readFileSync(cfg.tls.ca) : undefined,
      serverName: cfg.tls.server_name,
    },
    select,
    candidates: () => candidates(new Set()),
    markFailed,
  };

  // X-Sendfile: files under the configured roots, served by a static handler per root.
  const sendfileRoots = cfg.sendfile_roots.map((files) => ({
    root: realpathSync(files.root),
    files: createStatic(files, ctx),
  }));
  const sendfile = (ex: Exchange, file: string): false | void | Promise<void> => {
    const abs = resolve(file);
    // Under a root, as written or through the root's real path (the static handler then
    // refuses symlinks that lead out of it).
    const at = sendfileRoots.find((r) => abs.startsWith(r.root.endsWith(sep) ? r.root : r.root + sep));
    if (!isAbsolute(file) || at === undefined) {
      log.warn("X-Sendfile outside sendfile_roots", { file, request_id: ex.id });
      return false;
    }
    if (ex.method !== "HEAD") ex.method = "GET";
    ex.path = `/${relative(at.root, abs).split(sep).join("/")}`;
    return at.files.handle(ex, () => sendError(ex, 404));
  };

  async function handle(ex: Exchange, _next: Next): Promise<void> {
    held++;
    ex.onDone(release);
    const where = upstreamPath(ex, strip, stripMatch, cfg.add_prefix);
    const headers = requestFields(ex, cfg, trusted);
    const cookie = cfg.policy === "cookie" ? readCookie(ex.header("cookie"), cfg.cookie_name) : undefined;
    if (ex.upgradeable && ex.header("upgrade") !== undefined)
      return proxyUpgrade(ex, where.path, headers, cookie, upgrades);

    let body: RequestBody;
    try {
      const buffer = cfg.buffer_requests || (needsLength && ex.header("content-length") === undefined);
      body = await requestBody(ex, buffer, cfg.buffer_memory, cfg.temp_dir, headers);
    } catch (err) {
      // Too large, or cut off: the rest stays unread, and the connection cannot carry another request.
      ex.closeConnection();
      return sendError(ex, err instanceof WharfError ? err.status : 400);
    }
    if (body.kind === "buffered") {
      const spooled = body.body;
      ex.onDone(() => void spooled.dispose());
    }
    const request: Outgoing = { where, headers, body, cookie };
    if (cache !== undefined) return cache.handle(ex, request);
    const fwd = await forward(ex, request);
    if (fwd.kind === "response") return relay(ex, fwd);
    if (fwd.kind === "failed") sendError(ex, fwd.status);
  }

  /**
   * Sends a request upstream, with balancing, retries and waits for a restarting app, until
   * an upstream answers (its response, and the hook to call once its body is over), or it
   * gives up (502, or 504 after a timeout), or the client's own body failed (answered).
   * A `detached` request (a background refresh) is not cut when the client's exchange ends.
   */
  async function forward(ex: Exchange, out: Outgoing, detached = false): Promise<Forwarded> {
    const started = Date.now();
    const { where, body, cookie } = out;
    const abort = new AbortController();
    let upstreamDone = false;
    // Aborting builds an AbortError; do it only when the client left before the upstream finished.
    if (!detached)
      ex.onDone(() => {
        if (!upstreamDone) abort.abort();
      });
    const tried = new Set<Upstream>();
    let lastError: UpstreamError | undefined;
    let resetRetried = false;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && Date.now() - started > cfg.try_duration) break;
      let list = candidates(tried);
      if (list.length === 0 || attempt >= cfg.tries) {
        // A supervised app refuses connections while it restarts: wait for it, within
        // try_duration, rather than answer 502 (as Caddy's lb_try_interval does).
        const restarting = cfg.app !== undefined && lastError?.kind === "connect";
        if (!restarting || Date.now() - started + APP_RETRY_MS > cfg.try_duration) break;
        await new Promise((r) => setTimeout(r, APP_RETRY_MS));
        if (abort.signal.aborted) return { kind: "answered" };
        tried.clear();
        list = candidates(tried);
      }
      const u = select(list, { clientIp: ex.clientIp, cookie });
      tried.add(u);
      const req: UpstreamRequest = {
        method: out.method ?? ex.method,
        path: where.path,
        headers: withHost(out.headers, u, cfg.preserve_host),
        body: bodyFor(body),
        bodyLength:
          body.kind === "buffered" ? body.body.length : body.kind === "stream" ? body.length : undefined,
        cgi: cgiInfo(ex, where),
        signal: abort.signal,
      };
      u.active++;
      const sent = performance.now();
      let res: ClientResponse;
      try {
        res = await transports.get(u)!.request(req);
      } catch (err) {
        u.active--;
        const e = classify(err);
        lastError = e;
        if (abort.signal.aborted) return { kind: "answered" };
        // The client's body broke the limit while streaming: that is the client's error.
        if (e.cause instanceof WharfError) {
          ex.closeConnection();
          sendError(ex, e.cause.status);
          return { kind: "answered" };
        }
        const next = afterFailure({
          kind: e.kind,
          code: e.code,
          method: req.method,
          replayable: body.kind !== "stream",
          bodyTouched: body.kind === "stream" && body.stream.readableDidRead,
          resetRetried,
        });
        if (next !== "stop") metrics.upstreamRetries.inc(u.address.text);
        if (next === "same") {
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
        if (next === "next") continue;
        break;
      }
      u.succeed();
      return {
        kind: "response",
        res,
        u,
        finished: (ok) => {
          upstreamDone = true;
          u.active--;
          metrics.upstreamDuration.get(u.address.text).observe((performance.now() - sent) / 1000);
          if (!ok) markFailed(u, "response body interrupted");
        },
      };
    }
    const status = lastError?.kind === "timeout" ? 504 : 502;
    log.error("proxy gave up", { status, tries: tried.size, error: lastError?.message, request_id: ex.id });
    return { kind: "failed", status };
  }

  /** Relays an upstream's answer to the client (or what it points to: X-Accel-Redirect, X-Sendfile). */
  function relay(ex: Exchange, fwd: Extract<Forwarded, { kind: "response" }>): void | Promise<void> {
    return relayResponse(ex, fwd.res, fwd.u, { cfg, reroute: ctx.reroute, sendfile, finished: fwd.finished });
  }

  const cache = cfg.cache
    ? createCache(cfg, cfg.cache, ctx.shared, { forward, relay, log }, ctx.metrics)
    : undefined;

  return {
    handle,
    async close() {
      stopChecks();
      unregister();
      await Promise.allSettled([...transports.values()].map((t) => t.close()));
    },
  };
}

/** What goes upstream for one request (the same for each attempt). */
export interface Outgoing {
  where: UpstreamPath;
  headers: [string, string][];
  body: RequestBody;
  cookie: string | undefined;
  /** Another method than the client's (a cache fill of a HEAD asks with GET). */
  method?: string;
}

/** How forwarding ended. */
export type Forwarded =
  | { kind: "response"; res: ClientResponse; u: Upstream; finished: (ok: boolean) => void }
  | { kind: "failed"; status: 502 | 504 }
  | { kind: "answered" };

/** The body for one attempt: a buffered body is sent again from its start each time. */
function bodyFor(body: RequestBody): Buffer | Readable | undefined {
  if (body.kind === "none") return undefined;
  if (body.kind === "stream") return body.stream;
  return body.body.buffer ?? body.body.open();
}

/** The transport that speaks an upstream's protocol. */
function transportFor(a: UpstreamAddress, cfg: ProxyConfig, log: HandlerContext["log"]): Transport {
  const timeouts = { connect: cfg.timeouts.connect, header: cfg.timeouts.header, read: cfg.timeouts.read };
  if (a.protocol === "uwsgi") return uwsgiTransport(a, timeouts);
  if (a.protocol === "fastcgi")
    return fastcgiTransport(a, timeouts, (text) => log.warn("fastcgi stderr", { upstream: a.text, text }));
  return httpTransport(a, {
    timeouts,
    maxConnections: cfg.max_connections,
    tls: { verify: cfg.tls.verify, ca: cfg.tls.ca, serverName: cfg.tls.server_name },
  });
}
