import { parseListenAddress } from "../config/listen-address.ts";
import type { LimitsConfig, WharfConfig } from "../config/types.ts";
import { WharfError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { loadHandlers, type SharedState } from "../handlers/index.ts";
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
import type { WorkerTls } from "../tls/worker-tls.ts";
import { formatAccessLine, type LineWriter, openLineWriter } from "./access-log.ts";

/** One config load, compiled: a request listener per listen address, and what to release. */
export interface Runtime {
  listeners: Map<string, RequestListener>;
  /** Certificates for the TLS addresses. */
  tls: Map<string, TlsSelection>;
  /** Addresses behind an L4 balancer (PROXY protocol), and the peers trusted to send it. */
  proxyProtocol: Map<string, (ip: string) => boolean>;
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
export function buildRuntime(
  config: WharfConfig,
  log: Logger,
  tlsState: WorkerTls,
  shared: SharedState,
  ocsp?: OcspHandler,
): Runtime {
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
        site = compileSite(siteConfig, log.child({ site: i }), shared);
      } catch (err) {
        throw new WharfError("WHARF_ERR_CONFIG", `sites[${i}].${(err as Error).message}`, { cause: err });
      }
      sites.push(site);
      for (const addr of siteConfig.listen) byAddress.set(addr, [...(byAddress.get(addr) ?? []), site]);
    });
    const accessLogs = new Map<CompiledSite, (ex: Exchange) => void>();
    sites.forEach((site, i) => {
      const al = site.config.access_log;
      if (!al) return;
      let w = writers.get(al.output);
      if (!w) {
        w = openLineWriter(al.output);
        writers.set(al.output, w);
      }
      const writer = w;
      const name = site.config.hosts[0] ?? `site${i}`;
      accessLogs.set(site, (ex) => writer.write(formatAccessLine(al.format, ex, Date.now(), name)));
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
      listeners.set(addr, makeDispatcher(new SiteTable(list), accessLogs, log, tlsState, clientIp));
      const selection = buildTlsSelection(
        list.map((s) => s.config),
        tlsState,
        config.server.ocsp_stapling ? ocsp : undefined,
      );
      if (selection) tls.set(addr, selection);
    }
    return { listeners, tls, proxyProtocol, limits: toHttpLimits(config.server.limits), close: release };
  } catch (err) {
    void release();
    throw err;
  }
}

/** The entry point of every request: site by Host, path normalized, errors turned into 500s. */
function makeDispatcher(
  table: SiteTable,
  accessLogs: Map<CompiledSite, (ex: Exchange) => void>,
  log: Logger,
  tlsState: WorkerTls,
  clientIp: ((ex: Exchange) => void) | undefined,
): RequestListener {
  return (ex) => {
    // Who the client is, once, before anything (the access log included) asks.
    clientIp?.(ex);
    const site = table.lookup(ex.host);
    ex.errorPages = site.errorPages;
    if (site.hsts !== undefined && ex.scheme === "https")
      ex.setHeader("Strict-Transport-Security", site.hsts);
    const logLine = accessLogs.get(site);
    if (logLine) ex.onDone(logLine);
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
    }
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
  };
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
  /** Ticket keys, challenge answers and on-demand certificates, fed by the primary. */
  readonly tls: WorkerTls;
  /** What the workers share through the primary (or in process). */
  readonly #shared: SharedState;

  constructor(log: Logger, tls: WorkerTls, shared: SharedState) {
    this.#log = log;
    this.tls = tls;
    this.#shared = shared;
    this.#pool = new ListenerPool(log);
  }

  /** The grace period of the running config for in-flight requests on stop. */
  get shutdownTimeout(): number {
    return this.#config?.server.shutdown_timeout ?? 10_000;
  }

  async apply(config: WharfConfig): Promise<void> {
    this.#ocsp ??= createOcspStapler(this.#log);
    await loadHandlers(
      config.sites.flatMap((site) => site.routes.flatMap((r) => r.handle.flatMap(Object.keys))),
    );
    const next = buildRuntime(config, this.#log, this.tls, this.#shared, this.#ocsp);
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

  setTicketKeys(keys: Buffer): void {
    this.tls.ticketKeys = keys;
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
