import { readdirSync } from "node:fs";
import { parseListenAddress } from "../config/listen-address.ts";
import type { LimitsConfig, WharfConfig } from "../config/types.ts";
import { WharfError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { type Snapshot, WorkerMetrics } from "../core/metrics.ts";
import { loadHandlers, type SharedState, type UpstreamView } from "../handlers/index.ts";
import { addressMatcher, resolveClientIp } from "../http/client-address.ts";
import { sendError } from "../http/error-page.ts";
import type { Exchange, RequestListener } from "../http/exchange.ts";
import type { HttpLimits } from "../http/limits.ts";
import { ListenerPool } from "../http/listeners.ts";
import { normalizePath } from "../http/request-path.ts";
import type { OcspHandler, TlsSelection } from "../http/tls-policy.ts";
import { type CompiledSite, compileSite } from "../routing/compile.ts";
import { SiteTable } from "../routing/site-table.ts";
import { createOcspStapler } from "../tls/ocsp-stapler.ts";
import { buildTlsSelection } from "../tls/sni.ts";
import { CHALLENGE_PREFIX, type WorkerTls } from "../tls/worker-tls.ts";
import { formatAccessLine, type LineWriter, openLineWriter } from "./access-log.ts";
import { Upstreams } from "./upstreams.ts";

/** One config load, compiled: a request listener per listen address, and what to release. */
export interface Runtime {
  listeners: Map<string, RequestListener>;
  /** Certificates for the TLS addresses. */
  tls: Map<string, TlsSelection>;
  /** Addresses behind an L4 balancer (PROXY protocol), and the peers trusted to send it. */
  proxyProtocol: Map<string, (ip: string) => boolean>;
  /** Reopens the access-log files (SIGUSR1, after logrotate). */
  reopenLogs(): void;
  limits: HttpLimits;
  close(): Promise<void>;
}

export function toHttpLimits(l: LimitsConfig): HttpLimits {
  return {
    maxUriLength: l.max_uri_length,
    maxHeaderSize: l.max_header_size,
    maxBodySize: l.max_body_size,
    headerTimeout: l.header_timeout,
    requestTimeout: l.request_timeout,
    idleTimeout: l.idle_timeout,
    maxConnections: l.max_connections,
  };
}

/** Compiles a config into its request listeners (one per listen address) and certificates, without listening. */
/** A worker's state for the admin API and /metrics. */
export interface WorkerStats {
  pid: number;
  uptime: number;
  connections: number;
  rss: number;
  /** CPU seconds used. */
  cpu: number;
  /** Open file descriptors. */
  fds: number;
  metrics: Snapshot;
  upstreams: UpstreamView[];
}

/** Open file descriptors of this process (Linux's /proc), or 0 where that cannot be read. */
export function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}

/** The standard methods by name; anything else counts as "other" (labels stay few). */
const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"];

/**
 * The request counter of one site, by status and method: each counter cell is looked up
 * once (a number key), not built from a string per request.
 */
function requestCounter(requests: WorkerMetrics["requests"], site: string) {
  const cells = new Map<number, { value: number }>();
  return (status: number, method: string) => {
    let m = METHODS.indexOf(method);
    if (m === -1) m = METHODS.length - 1;
    const key = status * 8 + m;
    let c = cells.get(key);
    if (c === undefined) {
      c = requests.cell(`${site}\u0001${status}\u0001${METHODS[m]}`);
      cells.set(key, c);
    }
    c.value++;
  };
}

/** What a worker's runtimes share across config loads. */
export interface RuntimeContext {
  log: Logger;
  /** Ticket keys, challenge answers and on-demand certificates, fed by the primary. */
  tls: WorkerTls;
  /** What the workers share through the primary (or in process). */
  shared: SharedState;
  metrics: WorkerMetrics;
  upstreams: Upstreams;
}

export function buildRuntime(config: WharfConfig, ctx: RuntimeContext, ocsp?: OcspHandler): Runtime {
  const { log, tls: tlsState } = ctx;
  const sharedChallenge = config.server.storage
    ? (token: string) => ctx.shared.request("acme.http01", token)
    : undefined;
  const sites: CompiledSite[] = [];
  const writers = new Map<string, LineWriter>();
  const release = async () => {
    await Promise.allSettled(sites.map((s) => s.close()));
    for (const w of writers.values()) w.close();
  };
  try {
    const byAddress = new Map<string, CompiledSite[]>();
    config.sites.forEach((siteConfig, i) => {
      let site: CompiledSite;
      try {
        site = compileSite(siteConfig, {
          log: log.child({ site: i }),
          shared: ctx.shared,
          metrics: ctx.metrics,
          upstreams: ctx.upstreams,
        });
      } catch (err) {
        throw new WharfError("WHARF_ERR_CONFIG", `sites[${i}].${(err as Error).message}`, { cause: err });
      }
      sites.push(site);
      for (const addr of siteConfig.listen) byAddress.set(addr, [...(byAddress.get(addr) ?? []), site]);
    });
    // What happens once an exchange is over: the site's metrics and its access-log line.
    const finishers = new Map<CompiledSite, (ex: Exchange) => void>();
    sites.forEach((site, i) => {
      const name = site.config.hosts[0] ?? `site${i}`;
      const al = site.config.access_log;
      let writer: LineWriter | undefined;
      if (al) {
        writer = writers.get(al.output);
        if (!writer) {
          writer = openLineWriter(al.output);
          writers.set(al.output, writer);
        }
      }
      const duration = ctx.metrics.duration.get(name);
      const size = ctx.metrics.size.get(name);
      const count = requestCounter(ctx.metrics.requests, name);
      const m = ctx.metrics;
      const line = al && writer ? writer : undefined;
      finishers.set(site, (ex) => {
        m.inFlight--;
        count(ex.status, ex.method);
        duration.observe((performance.now() - ex.startedAt) / 1000);
        size.observe(ex.bytesSent);
        if (line) line.write(formatAccessLine(al!.format, ex, Date.now(), name));
      });
    });
    const listeners = new Map<string, RequestListener>();
    const tls = new Map<string, TlsSelection>();
    const trusted = addressMatcher(config.server.trusted_proxies);
    const clientIp =
      config.server.trusted_proxies.length > 0
        ? (ex: Exchange) => {
            ex.clientIp = resolveClientIp(ex, trusted, headerNames);
          }
        : undefined;
    const headerNames = config.server.client_ip_headers.map((h) => h.toLowerCase());
    const proxyProtocol = new Map<string, (ip: string) => boolean>();
    for (const s of config.sites) for (const addr of s.proxy_protocol) proxyProtocol.set(addr, trusted);
    for (const [addr, list] of byAddress) {
      listeners.set(
        addr,
        makeDispatcher(new SiteTable(list), finishers, log, tlsState, clientIp, ctx.metrics, sharedChallenge),
      );
      const selection = buildTlsSelection(
        list.map((s) => s.config),
        tlsState,
        config.server.ocsp_stapling ? ocsp : undefined,
      );
      if (selection) tls.set(addr, selection);
    }
    return {
      listeners,
      tls,
      proxyProtocol,
      limits: toHttpLimits(config.server.limits),
      reopenLogs: () => {
        for (const w of writers.values()) w.reopen();
      },
      close: release,
    };
  } catch (err) {
    void release();
    throw err;
  }
}

/** The entry point of every request: site by Host, path normalized, errors turned into 500s. */
function makeDispatcher(
  table: SiteTable,
  finishers: Map<CompiledSite, (ex: Exchange) => void>,
  log: Logger,
  tlsState: WorkerTls,
  clientIp: ((ex: Exchange) => void) | undefined,
  metrics: WorkerMetrics,
  sharedChallenge: ((token: string) => Promise<unknown>) | undefined,
): RequestListener {
  return (ex) => {
    // Who the client is, once, before anything (the access log included) asks.
    clientIp?.(ex);
    const site = table.lookup(ex.host);
    ex.errorPages = site.errorPages;
    if (site.hsts !== undefined && ex.scheme === "https")
      ex.setHeader("Strict-Transport-Security", site.hsts);
    metrics.inFlight++;
    ex.onDone(finishers.get(site)!);
    if (site.clientAuth && !ex.clientVerified) {
      return sendError(ex, 403, "this site needs a client certificate signed by its CA");
    }
    if (ex.target === "*") {
      // OPTIONS * asks about the server as a whole (RFC 9110 §9.3.7).
      ex.setHeader("Allow", "GET, HEAD, OPTIONS");
      return ex.send(204);
    }
    const path = normalizePath(ex.rawPath);
    if (path === undefined) return sendError(ex, 400);
    ex.path = path;
    if (ex.scheme === "http") {
      const keyAuth = tlsState.challengeFor(path);
      if (keyAuth !== undefined) {
        ex.setHeader("Content-Type", "text/plain");
        return ex.send(200, keyAuth);
      }
      // With a shared storage, the order may be another instance's: its answer is there.
      if (sharedChallenge !== undefined && path.startsWith(CHALLENGE_PREFIX)) {
        return sharedChallenge(path.slice(CHALLENGE_PREFIX.length)).then(
          (answer) => {
            if (typeof answer !== "string") return handle(ex, site);
            ex.setHeader("Content-Type", "text/plain");
            return ex.send(200, answer);
          },
          () => handle(ex, site),
        );
      }
    }
    handle(ex, site);
  };

  function handle(ex: Exchange, site: CompiledSite): void {
    const fail = (err: unknown) => {
      log.error("request failed", { request_id: ex.id, method: ex.method, uri: ex.target, err });
      if (!ex.answered) sendError(ex, 500);
    };
    try {
      const p = site.handle(ex);
      if (p) p.catch(fail);
    } catch (err) {
      fail(err);
    }
  }
}

/**
 * What a worker runs: a listener pool and the current runtime. `apply` builds a new runtime
 * and swaps it in; if building or listening fails, the old one keeps serving.
 */
export class ServerHost {
  readonly #pool: ListenerPool;
  readonly #log: Logger;
  #current: Runtime | undefined;
  #config: WharfConfig | undefined;
  /** OCSP answers outlive config loads. */
  #ocsp: OcspHandler | undefined;
  /** What every config load of this worker shares: TLS state, shared state, metrics, upstreams. */
  readonly ctx: RuntimeContext;

  constructor(log: Logger, tls: WorkerTls, shared: SharedState) {
    this.#log = log;
    this.#pool = new ListenerPool(log);
    this.ctx = { log, tls, shared, metrics: new WorkerMetrics(), upstreams: new Upstreams() };
  }

  get tls(): WorkerTls {
    return this.ctx.tls;
  }

  /** The grace period of the running config for in-flight requests on stop. */
  get shutdownTimeout(): number {
    return this.#config?.server.shutdown_timeout ?? 10_000;
  }

  async apply(config: WharfConfig): Promise<void> {
    this.#ocsp ??= createOcspStapler(this.#log, {
      get: async (id) => {
        const der = await this.ctx.shared.request("ocsp.get", { id });
        return typeof der === "string" ? Buffer.from(der, "base64") : undefined;
      },
      put: async (id, der, ttlMs) => {
        await this.ctx.shared.request("ocsp.put", { id, der: der.toString("base64"), ttlMs });
      },
    });
    await loadHandlers(
      config.sites.flatMap((site) => site.routes.flatMap((r) => r.handle.flatMap(Object.keys))),
    );
    const next = buildRuntime(config, this.ctx, this.#ocsp);
    this.#pool.engine = config.server.engine;
    this.#pool.h2c = config.server.h2c;
    const opened: string[] = [];
    try {
      for (const addr of next.listeners.keys()) {
        const tls = next.tls.get(addr);
        if (this.#pool.has(addr)) {
          if (this.#pool.isTls(addr) !== (tls !== undefined))
            throw new WharfError(
              "WHARF_ERR_CONFIG",
              `${addr} cannot switch between HTTP and HTTPS on reload`,
            );
          if (this.#pool.isProxied(addr) !== next.proxyProtocol.has(addr))
            throw new WharfError("WHARF_ERR_CONFIG", `${addr} cannot switch proxy_protocol on reload`);
          continue;
        }
        const a = parseListenAddress(addr)!;
        await this.#pool.open(addr, a.host, a.port, next.limits, tls, next.proxyProtocol.get(addr));
        opened.push(addr);
      }
    } catch (err) {
      await this.#pool.closeExcept(new Set(this.#current?.listeners.keys() ?? []));
      await next.close();
      throw err;
    }
    for (const [addr, listener] of next.listeners)
      this.#pool.route(addr, listener, next.limits, next.tls.get(addr), next.proxyProtocol.get(addr));
    const old = this.#current;
    this.#current = next;
    this.#config = config;
    await this.#pool.closeExcept(new Set(next.listeners.keys()));
    // In-flight requests still use the old handlers and logs: release them once those are done.
    if (old) setTimeout(() => void old.close(), next.limits.requestTimeout).unref();
  }

  /** Reopens the log files the running config writes (SIGUSR1). */
  reopenLogs(): void {
    this.#current?.reopenLogs();
  }

  /** What the primary sums for /metrics and shows in the admin API. */
  stats(): WorkerStats {
    const upstreams = this.ctx.upstreams.views();
    const connections = this.#pool.connections();
    const usage = process.resourceUsage();
    const gauges: Snapshot = {
      wharf_connections_open: connections,
      wharf_upstream_healthy: Object.fromEntries(
        upstreams.map((u) => [u.url, u.healthy && !u.drained ? 1 : 0]),
      ),
      wharf_upstream_requests_in_flight: Object.fromEntries(upstreams.map((u) => [u.url, u.inFlight])),
    };
    return {
      pid: process.pid,
      uptime: process.uptime(),
      connections: Object.values(connections).reduce((a, b) => a + b, 0),
      rss: process.memoryUsage.rss(),
      cpu: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
      fds: openFds(),
      metrics: this.ctx.metrics.snapshot(gauges),
      upstreams,
    };
  }

  setTicketKeys(keys: Buffer): void {
    this.ctx.tls.ticketKeys = keys;
    this.#pool.setTicketKeys(keys);
  }

  boundAddresses(): string[] {
    return this.#pool.boundAddresses();
  }

  /** Graceful stop: drains listeners, waits up to `timeoutMs` for in-flight requests, then cuts. */
  async shutdown(timeoutMs: number): Promise<void> {
    const timer = setTimeout(() => this.#pool.destroyAll(), timeoutMs);
    await this.#pool.drainAll();
    clearTimeout(timer);
    await this.#current?.close();
  }
}
