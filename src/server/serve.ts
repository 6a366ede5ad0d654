import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { WharfConfig } from "../config/types.ts";
import { createLogger, type Logger } from "../core/logger.ts";
import { METRICS, mergeSnapshots, type Snapshot, toPrometheus } from "../core/metrics.ts";
import type { Quiesce } from "./apps.ts";
import { Certificates } from "./certificates.ts";
import type { CertificateInfo, ServerControl } from "./control.ts";
import { abandonPrefork, type Prefork, Primary } from "./primary.ts";
import { openFds } from "./runtime.ts";
import { SharedStorage } from "./storage.ts";
import { SharedTicketKeys } from "./ticket-keys.ts";
import { mergeUpstreamViews } from "./upstreams.ts";

export interface ServeOptions {
  /** Loads the config again (SIGHUP); absent when there is no file to re-read. */
  reload?: (() => Promise<WharfConfig>) | undefined;
  /** Worker 1, forked while the config was built. */
  prefork?: Prefork | undefined;
  /** Overrides `server.engine` (WHARF_ENGINE, for the test suite). */
  engine?: WharfConfig["server"]["engine"] | undefined;
  /** Overrides `server.log_level` (WHARF_LOG_LEVEL). */
  logLevel?: WharfConfig["server"]["log_level"] | undefined;
  /** Told why the server could not start. */
  onFatal?: (message: string) => void;
  /** Called once every worker listens, with the means to steer the server (the admin API). */
  onListening?: (control: ServerControl, log: Logger) => void | Promise<void>;
}

/**
 * Runs a server for `config` until it is stopped: the apps it supervises started, its
 * certificates in place, then the primary and its workers. Every config the workers get
 * (at start, on reload, after a renewal, on a deploy) goes through the same preparation,
 * and apps the new config no longer uses stop only once the workers run it (blue-green).
 * Resolves with the exit code.
 */
export async function serve(config: WharfConfig, opts: ServeOptions = {}): Promise<number> {
  const log = createLogger({
    level: opts.logLevel ?? config.server.log_level,
    fields: { pid: process.pid, role: "primary" },
  });
  let primary: Primary | undefined;
  // The config as loaded; apps and certificates fill in upstreams and certificate paths from it.
  let loaded = config;
  const apps = new (await import("./apps.ts")).AppSupervisor(log);
  const storage = new SharedStorage(log);
  const certs = new Certificates(
    log,
    () => primary,
    () => loaded,
    (what) => void apply(loaded).catch((err: unknown) => log.error(`cannot apply ${what}`, { err })),
    () => storage.current,
  );
  const prepare = async (c: WharfConfig, deploy = false) => {
    const { config: withApps, retire } = await apps.prepare(c, deploy);
    let out = withApps;
    if (opts.engine !== undefined) out = { ...out, server: { ...out.server, engine: opts.engine } };
    if (opts.logLevel !== undefined) out = { ...out, server: { ...out.server, log_level: opts.logLevel } };
    await storage.update(out);
    return { config: await certs.prepare(out), retire };
  };
  /** Prepares a config, hands it to the workers, then retires the apps it no longer uses. */
  const apply = async (c: WharfConfig, deploy = false): Promise<string[]> => {
    const { config: ready, retire } = await prepare(c, deploy);
    loaded = c;
    const failed = (await primary?.push(ready)) ?? [];
    await retire(quiesce);
    return failed;
  };
  let first: Awaited<ReturnType<typeof prepare>>;
  try {
    first = await prepare(config);
  } catch (err) {
    abandonPrefork(opts.prefork);
    await apps.stopAll();
    await storage.close();
    throw err;
  }
  apps.onCodeChange = () => {
    log.info("app code changed: deploying");
    void apply(loaded, true).catch((err: unknown) =>
      log.error("deploy failed: the running app stays", { err }),
    );
  };
  const reload = opts.reload;
  const w = config.server.workers;
  const startedAt = Date.now();
  primary = new Primary({
    config: first.config,
    workers: w === "auto" ? availableParallelism() : w,
    prefork: opts.prefork,
    log,
    afterStop: async () => {
      certs.stop();
      tickets.stop();
      await apps.stopAll();
      await storage.close();
    },
    ...(opts.onFatal ? { onFatal: opts.onFatal } : {}),
    onCertRequest: (name) => certs.request(name),
    sharedTicketKeys: () => tickets.active,
    onListening: () => {
      certs.start();
      tickets.start();
      const steer = control(primary!, certs, storage, () => loaded, apply, startedAt, log);
      primary!.shared.metricsText = () => steer.metrics();
      void Promise.resolve(opts.onListening?.(steer, log)).catch((err: unknown) =>
        log.error("admin API failed to start", { err }),
      );
    },
    reload: reload
      ? async () => {
          // A reload is a deploy of what changed: the prepared config, apps retired after.
          const next = await reload();
          const { config: ready, retire } = await prepare(next);
          loaded = next;
          pendingRetire = retire;
          return ready;
        }
      : undefined,
    afterPush: () => {
      const retire = pendingRetire;
      pendingRetire = undefined;
      return retire?.(quiesce);
    },
  });
  let pendingRetire: ((idle: Quiesce) => Promise<void>) | undefined;
  const tickets = new SharedTicketKeys(
    () => storage.current,
    () => loaded.server.ticket_key_rotation,
    (hex) => primary?.useTicketKeys(hex),
    log,
  );
  await tickets.sync();
  primary.shared.storage = () => storage.current;
  primary.shared.challenge = (token) => certs.challenge(token);
  /** Waits until no worker holds a request for an upstream (an app being retired). */
  const quiesce: Quiesce = async (upstream, timeoutMs) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until && primary) {
      const held = (await primary.collect())
        .flatMap((s) => s.upstreams)
        .filter((u) => u.url === upstream)
        .reduce((n, u) => n + u.inFlight + u.queued, 0);
      if (held === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return primary.run();
}

/** The ServerControl of a running server, for the admin API. */
function control(
  primary: Primary,
  certs: Certificates,
  storage: SharedStorage,
  loaded: () => WharfConfig,
  apply: (c: WharfConfig, deploy?: boolean) => Promise<string[]>,
  startedAt: number,
  log: Logger,
): ServerControl {
  return {
    startedAt,
    config: loaded,
    apply: (c) => apply(c),
    reload: () => primary.reload(),
    deploy: async () => {
      log.info("deploy requested");
      return apply(loaded(), true);
    },
    async upstreams() {
      const by = new Map(
        mergeUpstreamViews((await primary.collect()).flatMap((s) => s.upstreams)).map((u) => [u.url, u]),
      );
      for (const url of primary.drained)
        if (!by.has(url))
          by.set(url, {
            url,
            healthy: false,
            inFlight: 0,
            queued: 0,
            fails: 0,
            lastError: undefined,
            drained: true,
          });
      return [...by.values()].map((u) => ({ ...u, drained: primary.drained.has(u.url) }));
    },
    drain: (url, drained) => primary.setDrained(url, drained),
    certificates: () => certificateInfo(primary.config, certs),
    storage: () => {
      const s = storage.current;
      return s && { kind: s.kind, where: s.where, up: s.up, outages: storage.outages };
    },
    purge: ({ url, prefix }) => primary.shared.cache.purge(undefined, url, prefix),
    async workers() {
      return (await primary.collect()).map((s) => ({
        id: s.id,
        pid: s.pid,
        uptime_s: Math.round(s.uptime),
        connections: s.connections,
        rss_bytes: s.rss,
        restarts: primary.restartsOf.get(s.id) ?? 0,
      }));
    },
    async metrics() {
      const stats = await primary.collect();
      const merged = mergeSnapshots(stats.map((s) => s.metrics));
      const usage = process.resourceUsage();
      const own: Snapshot = {
        wharf_tls_certificate_not_after_seconds: Object.fromEntries(
          certificateInfo(primary.config, certs).flatMap((c) =>
            c.names.map((n) => [n, Math.floor(Date.parse(c.not_after) / 1000)]),
          ),
        ),
        wharf_config_reloads_total: { success: primary.reloads.success, failure: primary.reloads.failure },
        wharf_worker_restarts_total: { "": primary.restarts },
        wharf_workers: { "": stats.length },
        process_resident_memory_bytes: { "": stats.reduce((a, s) => a + s.rss, process.memoryUsage.rss()) },
        process_cpu_seconds_total: {
          "": stats.reduce((a, s) => a + s.cpu, (usage.userCPUTime + usage.systemCPUTime) / 1e6),
        },
        process_open_fds: { "": stats.reduce((a, s) => a + s.fds, openFds()) },
        process_start_time_seconds: { "": Math.floor(startedAt / 1000) },
      };
      const shared = storage.current;
      if (shared) {
        own.wharf_storage_up = { "": shared.up ? 1 : 0 };
        own.wharf_storage_outages_total = { "": storage.outages };
        own.wharf_ratelimit_local_total = { "": primary.shared.rate.localFallbacks };
      }
      return toPrometheus({ ...merged, ...own }, METRICS);
    },
  };
}

/** The certificates the running config serves, read from their files, with the manager's plans. */
function certificateInfo(config: WharfConfig, certs: Certificates): CertificateInfo[] {
  const plans = certs.status();
  const out: CertificateInfo[] = [];
  config.sites.forEach((site, i) => {
    const tls = site.tls;
    if (!tls?.cert) return;
    try {
      const x = new X509Certificate(readFileSync(tls.cert));
      const names = (x.subjectAltName ?? "")
        .split(",")
        .map((n) => n.trim().replace(/^(DNS|IP Address):/, ""))
        .filter(Boolean);
      const plan = plans.find((p) => p.names.some((n) => names.includes(n)));
      out.push({
        site: site.hosts[0] ?? `site${i}`,
        source: tls.source,
        names,
        issuer: x.issuer.replace(/\n/g, ", "),
        not_after: new Date(x.validTo).toISOString(),
        next_renewal: plan?.nextRenewal ?? null,
        last_error: plan?.lastError ?? null,
      });
    } catch {}
  });
  return out;
}
