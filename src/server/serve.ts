import { availableParallelism } from "node:os";
import type { WharfConfig } from "../config/types.ts";
import { createLogger } from "../core/logger.ts";
import { Certificates } from "./certificates.ts";
import { abandonPrefork, type Prefork, Primary } from "./primary.ts";

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
}

/**
 * Runs a server for `config` until it is stopped: the apps it supervises started, its
 * certificates in place, then the primary and its workers. Every config the workers get
 * (at start, on reload, after a renewal) goes through the same preparation. Resolves with
 * the exit code.
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
  const certs = new Certificates(
    log,
    () => primary,
    () => loaded,
    (what) =>
      void prepare(loaded).then(
        (c) => primary?.push(c),
        (err: unknown) => log.error(`cannot apply ${what}`, { err }),
      ),
  );
  const prepare = async (c: WharfConfig) => {
    let out = await apps.prepare(c);
    if (opts.engine !== undefined) out = { ...out, server: { ...out.server, engine: opts.engine } };
    if (opts.logLevel !== undefined) out = { ...out, server: { ...out.server, log_level: opts.logLevel } };
    return certs.prepare(out);
  };
  let prepared: WharfConfig;
  try {
    prepared = await prepare(config);
  } catch (err) {
    abandonPrefork(opts.prefork);
    await apps.stopAll();
    throw err;
  }
  const reload = opts.reload;
  const w = config.server.workers;
  primary = new Primary({
    config: prepared,
    workers: w === "auto" ? availableParallelism() : w,
    prefork: opts.prefork,
    log,
    afterStop: async () => {
      certs.stop();
      await apps.stopAll();
    },
    ...(opts.onFatal ? { onFatal: opts.onFatal } : {}),
    onCertRequest: (name) => certs.request(name),
    onListening: () => certs.start(),
    reload: reload
      ? async () => {
          const next = await reload();
          const ready = await prepare(next);
          loaded = next;
          return ready;
        }
      : undefined,
  });
  return primary.run();
}
