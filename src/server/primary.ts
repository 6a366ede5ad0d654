import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { WharfConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";
import type { ChallengeMessage, ToPrimary, ToWorker } from "./messages.ts";

export interface PrimaryOptions {
  config: WharfConfig;
  workers: number;
  /** Worker 1, forked before the config was ready ({@link preforkWorker}). */
  prefork?: Prefork;
  log: Logger;
  /** Loads the config again for a reload (SIGHUP); absent when there is no file to re-read. */
  reload?: () => Promise<WharfConfig>;
  /** Runs once every worker has exited on shutdown (stops supervised apps). */
  afterStop?: () => Promise<void>;
  /** Told why the server could not start (the CLI prints it as one line). */
  onFatal?: (message: string) => void;
  /** Called once every worker listens, with the means to reach the workers later. */
  onListening?: (control: PrimaryControl) => void;
  /** A worker met a name in a handshake that an on-demand site may get a certificate for. */
  onCertRequest?: (name: string) => void;
}

/** What other primary-side parts (ACME) may do with the workers. */
export interface PrimaryControl {
  /** Hands the workers a new config (as a reload does). */
  push(config: WharfConfig): void;
  /** Sends a message to every worker, now and to workers started later. */
  broadcast(msg: ChallengeMessage): void;
}

/**
 * The first worker, forked as the first thing a serving command does, before the config is
 * built: its Node start and module loading (most of a start-up) then overlap the primary's
 * config work instead of following it. It waits, idle, for its config.
 */
export interface Prefork {
  readonly worker: Worker;
  readonly ticketKeys: string;
  /** Set once the worker said `up` (its message handler is in place: a config may be sent). */
  up: boolean;
}

let setUp = false;
function setupWorkers(): void {
  if (setUp) return;
  setUp = true;
  const ext = extname(fileURLToPath(import.meta.url));
  cluster.setupPrimary({
    exec: fileURLToPath(new URL(`./worker-main${ext}`, import.meta.url)),
    execArgv: process.execArgv,
    silent: false,
  });
}

function forkWorker(id: number, ticketKeys: string): Worker {
  setupWorkers();
  return cluster.fork({ WHARF_WORKER_ID: String(id), WHARF_TICKET_KEYS: ticketKeys });
}

export function preforkWorker(): Prefork {
  const ticketKeys = randomBytes(48).toString("hex");
  const prefork = { worker: forkWorker(1, ticketKeys), ticketKeys, up: false };
  prefork.worker.on("message", (msg: ToPrimary) => {
    if (msg.type === "up") prefork.up = true;
  });
  return prefork;
}

/** Stops a preforked worker when the config it waited for was refused. */
export function abandonPrefork(prefork: Prefork | undefined): void {
  if (prefork && !prefork.worker.isDead()) prefork.worker.process.kill("SIGKILL");
}

/**
 * The primary process: forks the workers, hands them the config, replaces any that die,
 * reloads on SIGHUP and drains on SIGTERM/SIGINT. Resolves with the exit code.
 *
 * Worker 1 starts alone; the others are forked once it listens. On a small machine the
 * first response then does not wait for several Node processes starting at once, and a
 * worker that adds its SO_REUSEPORT listener later takes its share of new connections.
 */
export function runPrimary(opts: PrimaryOptions): Promise<number> {
  const { log } = opts;
  let config = opts.config;
  let seq = 1;
  let shuttingDown = false;
  let started = false;
  const startedAt = new Map<Worker, number>();
  // Challenge answers every worker must have, including ones started later.
  const sticky = new Map<string, ChallengeMessage>();
  const ids = new Map<Worker, number>();
  const pending = new Map<number, { left: Set<Worker>; failed: string[]; done: () => void }>();
  let restartDelay = 100;

  // Session-ticket keys shared by all workers, so TLS resumption works across them.
  let ticketKeys = opts.prefork?.ticketKeys ?? randomBytes(48).toString("hex");

  return new Promise((resolveExit) => {
    const send = (w: Worker, msg: ToWorker) => {
      if (w.isConnected()) w.send(msg);
    };

    // A worker gets its config once it says `up` (its message handler is in place).
    const deliver = (w: Worker) => {
      send(w, { type: "config", seq, config });
      for (const msg of sticky.values()) send(w, msg);
    };
    const adopt = (w: Worker, id: number) => {
      ids.set(w, id);
      startedAt.set(w, Date.now());
      w.on("message", (msg: ToPrimary) => onMessage(w, msg));
      w.on("exit", (code, signal) => onExit(w, code, signal));
    };
    const spawn = (id: number) => adopt(forkWorker(id, ticketKeys), id);

    const onMessage = (w: Worker, msg: ToPrimary) => {
      if (msg.type === "up") {
        deliver(w);
        return;
      }
      if (msg.type === "cert-request") {
        opts.onCertRequest?.(msg.name);
        return;
      }
      const p = pending.get(msg.seq);
      if (msg.type === "failed") {
        if (!started) {
          log.error("cannot start", { error: msg.error, code: msg.code });
          opts.onFatal?.(msg.error);
          void shutdown(1);
          return;
        }
        p?.failed.push(msg.error);
      } else if (!started && msg.seq === 1 && p) {
        startupAddresses.push(...msg.addresses);
        if (ids.size < opts.workers && !shuttingDown) {
          for (let id = 2; id <= opts.workers; id++) {
            spawn(id);
          }
          for (const other of ids.keys()) p.left.add(other);
        }
      }
      if (p) {
        p.left.delete(w);
        if (p.left.size === 0) {
          pending.delete(msg.seq);
          p.done();
        }
      }
    };

    const startupAddresses: string[] = [];
    const expectAll = (s: number, done: (failed: string[]) => void) => {
      const entry = {
        left: new Set(ids.keys()),
        failed: [] as string[],
        done: () => done(entry.failed),
      };
      pending.set(s, entry);
    };

    const onExit = (w: Worker, code: number | null, signal: string | null) => {
      const id = ids.get(w)!;
      const lived = Date.now() - (startedAt.get(w) ?? 0);
      ids.delete(w);
      startedAt.delete(w);
      for (const [s, p] of pending) {
        if (p.left.delete(w) && p.left.size === 0) {
          pending.delete(s);
          p.done();
        }
      }
      if (shuttingDown) {
        if (Object.keys(cluster.workers ?? {}).length === 0) void finish();
        return;
      }
      log.warn("worker exited; starting a new one", { worker: id, pid: w.process.pid, code, signal });
      restartDelay = lived < 2000 ? Math.min(restartDelay * 2, 10_000) : 100;
      setTimeout(() => {
        if (!shuttingDown) spawn(id);
      }, restartDelay);
    };

    let exitCode = 0;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = async () => {
      if (killTimer) clearTimeout(killTimer);
      await opts.afterStop?.().catch((err: unknown) => log.error("stopping apps failed", { err }));
      log.info("stopped");
      resolveExit(exitCode);
    };
    const shutdown = async (code: number) => {
      if (shuttingDown) return;
      shuttingDown = true;
      exitCode = code;
      const timeout = config.server.shutdown_timeout;
      log.info("shutting down", { timeout_ms: timeout });
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      if (workers.length === 0) return finish();
      for (const w of workers) send(w, { type: "shutdown", timeout });
      killTimer = setTimeout(() => {
        for (const w of workers) w.process.kill("SIGKILL");
      }, timeout + 2000);
    };

    const reload = async () => {
      if (!opts.reload || shuttingDown) return;
      let next: WharfConfig;
      try {
        next = await opts.reload();
      } catch (err) {
        log.error("reload refused: the running config stays", { error: (err as Error).message });
        return;
      }
      push(next);
    };
    const push = (next: WharfConfig) => {
      if (shuttingDown) return;
      config = next;
      const s = ++seq;
      expectAll(s, (failed) => {
        if (failed.length > 0)
          log.error("reload failed in a worker: it keeps the old config", { errors: failed });
        else log.info("config reloaded", { seq: s });
      });
      for (const w of Object.values(cluster.workers ?? {}))
        if (w) send(w, { type: "config", seq: s, config });
    };

    process.on("SIGHUP", () => void reload());
    // New session-ticket keys now and then: a stolen key then only opens recent sessions.
    const rotation = setInterval(() => {
      ticketKeys = randomBytes(48).toString("hex");
      for (const w of Object.values(cluster.workers ?? {}))
        if (w) send(w, { type: "ticket-keys", keys: ticketKeys });
    }, config.server.ticket_key_rotation);
    rotation.unref();
    process.on("SIGTERM", () => void shutdown(0));
    process.on("SIGINT", () => void shutdown(0));

    const first = opts.prefork?.worker;
    if (first === undefined || first.isDead()) spawn(1);
    else {
      adopt(first, 1);
      if (opts.prefork?.up) deliver(first);
    }
    expectAll(1, (failed) => {
      if (failed.length > 0 || shuttingDown) return;
      started = true;
      log.info("listening", {
        addresses: [...new Set(startupAddresses)],
        workers: opts.workers,
        engine: config.server.engine,
        pid: process.pid,
      });
      opts.onListening?.({
        push,
        broadcast(msg) {
          const key = msg.type === "acme-http01" ? `http:${msg.token}` : `${msg.type}:${msg.name}`;
          if (msg.type === "acme-http01" ? msg.keyAuthorization === null : msg.cert === null)
            sticky.delete(key);
          else sticky.set(key, msg);
          for (const w of Object.values(cluster.workers ?? {})) if (w) send(w, msg);
        },
      });
    });
  });
}
