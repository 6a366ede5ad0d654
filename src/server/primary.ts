import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { WharfConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";
import { describeListenError } from "./listen-errors.ts";
import type { ChallengeMessage, ToPrimary, ToWorker } from "./messages.ts";
import type { WorkerStats } from "./runtime.ts";
import { SharedHost } from "./shared-host.ts";

export interface PrimaryOptions {
  config: WharfConfig;
  workers: number;
  /** Worker 1, forked before the config was ready ({@link preforkWorker}). */
  prefork?: Prefork | undefined;
  log: Logger;
  /** Loads the config again for a reload (SIGHUP); absent when there is no file to re-read. */
  reload?: (() => Promise<WharfConfig>) | undefined;
  /** Runs after a reload's config is in every worker (retires the apps it no longer uses). */
  afterPush?: () => Promise<void> | undefined;
  /** Runs once every worker has exited on shutdown (stops supervised apps). */
  afterStop?: () => Promise<void>;
  /** Told why the server could not start (the CLI prints it as one line). */
  onFatal?: (message: string) => void;
  /** Called once every worker listens. */
  onListening?: () => void;
  /** A worker met a name in a handshake that an on-demand site may get a certificate for. */
  onCertRequest?: (name: string) => void;
  /** Whether session-ticket keys come from a shared storage (no rotation of its own then). */
  sharedTicketKeys?: () => boolean;
}

/** What other primary-side parts (certificates, apps) may do with the workers. */
export interface PrimaryControl {
  /** Hands the workers a new config (as a reload does); resolves with the workers' problems. */
  push(config: WharfConfig): Promise<string[]>;
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
    // Structured clone: cached responses travel with their bodies as Buffers.
    serialization: "advanced",
  });
}

function forkWorker(id: number, ticketKeys: string): Worker {
  setupWorkers();
  const w = cluster.fork({ WHARF_WORKER_ID: String(id), WHARF_TICKET_KEYS: ticketKeys });
  // A worker that dies while a message is on its way makes `send` fail with EPIPE; its exit
  // is handled where it is watched, and the error must not take the primary down.
  w.on("error", () => {});
  return w;
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

/** A config handed to the workers, and who has not answered it yet. */
interface Pending {
  left: Set<Worker>;
  failed: string[];
  done: (failed: string[]) => void;
}

/**
 * The primary process: forks the workers, hands them the config, replaces any that die,
 * reloads on SIGHUP and drains on SIGTERM/SIGINT. {@link Primary.run} resolves with the
 * exit code.
 *
 * Worker 1 starts alone; the others are forked once it listens. On a small machine the
 * first response then does not wait for several Node processes starting at once, and a
 * worker that adds its SO_REUSEPORT listener later takes its share of new connections.
 */
export class Primary implements PrimaryControl {
  readonly #opts: PrimaryOptions;
  readonly #log: Logger;
  #config: WharfConfig;
  #seq = 1;
  #shuttingDown = false;
  #started = false;
  #exitCode = 0;
  #restartDelay = 100;
  #killTimer: NodeJS.Timeout | undefined;
  #resolveExit: (code: number) => void = () => {};
  readonly #ids = new Map<Worker, number>();
  readonly #startedAt = new Map<Worker, number>();
  readonly #pending = new Map<number, Pending>();
  /** Challenge answers every worker must have, including ones started later. */
  readonly #sticky = new Map<string, ChallengeMessage>();
  readonly #startupAddresses: string[] = [];
  /** Session-ticket keys shared by all workers, so TLS resumption works across them. */
  #ticketKeys: string;
  /** Worker restarts since start (replacements of workers that died). */
  restarts = 0;
  /** Restarts by worker id (the slot a replacement takes over). */
  readonly restartsOf = new Map<number, number>();
  /** Config loads since start, by outcome (for wharf_config_reloads_total). */
  readonly reloads = { success: 0, failure: 0 };
  /** Upstreams an operator drained: no new requests in any worker. */
  readonly #drained = new Set<string>();
  readonly #stats = new Map<number, (s: WorkerStats) => void>();
  #nextStats = 1;
  /** A failed start ends without the usual shutdown lines (the error said it all). */
  #quiet = false;
  /** The state the workers share (response cache, rate limits). */
  readonly #shared = new SharedHost((kind, body) => this.#tellAll(kind, body));
  /** Events the workers have not all acknowledged yet: who is left, and what to resolve. */
  readonly #acks = new Map<number, { left: Set<Worker>; done: () => void }>();
  #nextAck = 1;

  constructor(opts: PrimaryOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#config = opts.config;
    this.#ticketKeys = opts.prefork?.ticketKeys ?? randomBytes(48).toString("hex");
  }

  /** Starts the workers and serves until stopped; resolves with the exit code. */
  run(): Promise<number> {
    return new Promise((resolve) => {
      this.#resolveExit = resolve;
      process.on("SIGHUP", () => void this.reload());
      // logrotate's postrotate: every worker reopens its log files.
      process.on("SIGUSR1", () => this.reopenLogs());
      process.on("SIGTERM", () => void this.shutdown(0));
      process.on("SIGINT", () => void this.shutdown(0));
      // New session-ticket keys now and then: a stolen key then only opens recent sessions.
      setInterval(() => this.#rotateTicketKeys(), this.#config.server.ticket_key_rotation).unref();
      const first = this.#opts.prefork?.worker;
      if (first === undefined || first.isDead()) this.#spawn(1);
      else {
        this.#adopt(first, 1);
        if (this.#opts.prefork?.up) this.#deliver(first);
      }
      this.#expectAll(1, (failed) => this.#onStarted(failed));
    });
  }

  /** The workers now running, with their ids and since when. */
  workers(): { id: number; pid: number | undefined; startedAt: number }[] {
    return [...this.#ids].map(([w, id]) => ({
      id,
      pid: w.process.pid,
      startedAt: this.#startedAt.get(w) ?? 0,
    }));
  }

  push(next: WharfConfig): Promise<string[]> {
    if (this.#shuttingDown) return Promise.resolve(["shutting down"]);
    this.#config = next;
    const s = ++this.#seq;
    return new Promise((resolve) => {
      this.#expectAll(s, (failed) => {
        if (failed.length > 0) {
          this.reloads.failure++;
          this.#log.error("reload failed in a worker: it keeps the old config", { errors: failed });
        } else {
          this.reloads.success++;
          this.#log.info("config reloaded", { seq: s });
        }
        resolve(failed);
      });
      for (const w of this.#live()) this.#send(w, { type: "config", seq: s, config: next });
    });
  }

  /** The config the workers run now. */
  get config(): WharfConfig {
    return this.#config;
  }

  /** Every worker's state (pid, connections, metrics, upstreams); one that does not answer within a second is left out. */
  async collect(): Promise<(WorkerStats & { id: number })[]> {
    const asks = [...this.#ids].map(
      ([w, id]) =>
        new Promise<(WorkerStats & { id: number }) | undefined>((resolve) => {
          const n = this.#nextStats++;
          const timer = setTimeout(() => {
            this.#stats.delete(n);
            resolve(undefined);
          }, 1000);
          this.#stats.set(n, (stats) => {
            clearTimeout(timer);
            resolve({ ...stats, id });
          });
          this.#send(w, { type: "stats", id: n });
        }),
    );
    return (await Promise.all(asks)).filter((s) => s !== undefined);
  }

  /** Takes an upstream out (no new requests; what it is answering finishes), or puts it back. */
  setDrained(url: string, drained: boolean): void {
    if (drained) this.#drained.add(url);
    else this.#drained.delete(url);
    for (const w of this.#live()) this.#send(w, { type: "drained", urls: [...this.#drained] });
  }

  get drained(): ReadonlySet<string> {
    return this.#drained;
  }

  /** Every worker reopens its log files (after logrotate). */
  reopenLogs(): void {
    this.#log.info("reopening log files");
    for (const w of this.#live()) this.#send(w, { type: "reopen-logs" });
  }

  broadcast(msg: ChallengeMessage): void {
    const key = msg.type === "acme-http01" ? `http:${msg.token}` : `${msg.type}:${msg.name}`;
    if (msg.type === "acme-http01" ? msg.keyAuthorization === null : msg.cert === null)
      this.#sticky.delete(key);
    else this.#sticky.set(key, msg);
    for (const w of this.#live()) this.#send(w, msg);
  }

  /**
   * Re-reads the config (SIGHUP); one that does not load is refused and the running one
   * stays. Resolves with the problems, none when every worker runs the new config.
   */
  async reload(): Promise<string[]> {
    if (!this.#opts.reload || this.#shuttingDown) return ["there is no config file to reload"];
    let next: WharfConfig;
    try {
      next = await this.#opts.reload();
    } catch (err) {
      this.reloads.failure++;
      this.#log.error("reload refused: the running config stays", { error: (err as Error).message });
      return (err as Error).message.split("\n");
    }
    const failed = await this.push(next);
    await this.#opts.afterPush?.();
    return failed;
  }

  /** Drains every worker (up to the grace period), then resolves `run` with `code`. */
  async shutdown(code: number): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    this.#exitCode = code;
    const timeout = this.#config.server.shutdown_timeout;
    if (!this.#quiet) this.#log.info("shutting down", { timeout_ms: timeout });
    const workers = this.#live();
    if (workers.length === 0) return this.#finish();
    for (const w of workers) this.#send(w, { type: "shutdown", timeout });
    this.#killTimer = setTimeout(() => {
      for (const w of workers) w.process.kill("SIGKILL");
    }, timeout + 2000);
  }

  /**
   * Tells every worker of a shared-state event; resolves once each has acted on it (a
   * worker that exits meanwhile counts as done; a second at most).
   */
  #tellAll(kind: string, body: unknown): Promise<void> {
    const workers = this.#live().filter((w) => w.isConnected());
    if (workers.length === 0) return Promise.resolve();
    const ack = this.#nextAck++;
    return new Promise((resolve) => {
      const timer = setTimeout(done, 1000);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#acks.set(ack, {
        left: new Set(workers),
        done: () => {
          this.#acks.delete(ack);
          done();
        },
      });
      for (const w of workers) this.#send(w, { type: "shared-event", kind, body, ack });
    });
  }

  #acked(ack: number, w: Worker): void {
    const a = this.#acks.get(ack);
    if (a?.left.delete(w) && a.left.size === 0) a.done();
  }

  #live(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  }

  #send(w: Worker, msg: ToWorker): void {
    if (w.isConnected()) w.send(msg);
  }

  /** The state the workers share, for the admin side (cache purges, statistics). */
  get shared(): SharedHost {
    return this.#shared;
  }

  /** A worker gets its config once it says `up` (its message handler is in place). */
  #deliver(w: Worker): void {
    this.#send(w, { type: "config", seq: this.#seq, config: this.#config });
    // A preforked worker was born with keys of its own; shared ones may have come since.
    this.#send(w, { type: "ticket-keys", keys: this.#ticketKeys });
    if (this.#drained.size > 0) this.#send(w, { type: "drained", urls: [...this.#drained] });
    for (const msg of this.#sticky.values()) this.#send(w, msg);
  }

  #adopt(w: Worker, id: number): void {
    this.#ids.set(w, id);
    this.#startedAt.set(w, Date.now());
    w.on("message", (msg: ToPrimary) => this.#onMessage(w, msg));
    w.on("exit", (code, signal) => this.#onExit(w, code, signal));
  }

  #spawn(id: number): void {
    this.#adopt(forkWorker(id, this.#ticketKeys), id);
  }

  #expectAll(seq: number, done: (failed: string[]) => void): void {
    this.#pending.set(seq, { left: new Set(this.#ids.keys()), failed: [], done });
  }

  /** `w` answered config `seq` (or went away): the config is in place once all have. */
  #answered(seq: number, w: Worker): void {
    const p = this.#pending.get(seq);
    if (!p || !p.left.delete(w) || p.left.size > 0) return;
    this.#pending.delete(seq);
    p.done(p.failed);
  }

  #onMessage(w: Worker, msg: ToPrimary): void {
    switch (msg.type) {
      case "up":
        return this.#deliver(w);
      case "cert-request":
        return this.#opts.onCertRequest?.(msg.name);
      case "shared-ack":
        return this.#acked(msg.ack, w);
      case "stats-reply": {
        const done = this.#stats.get(msg.id);
        this.#stats.delete(msg.id);
        return done?.(msg.stats);
      }
      case "shared":
        this.#shared.handle(msg.kind, msg.body, String(w.id)).then(
          (value) => this.#send(w, { type: "shared-reply", id: msg.id, value }),
          (err: Error) => this.#send(w, { type: "shared-reply", id: msg.id, error: err.message }),
        );
        return;
      case "failed":
        if (!this.#started) {
          // One plain line for the person at the terminal (the CLI prints it); the log
          // keeps the record, below the terminal's default level.
          this.#log.debug("cannot start", { error: msg.error, code: msg.code });
          this.#quiet = true;
          this.#opts.onFatal?.(describeListenError(msg.code, msg.error));
          void this.shutdown(1);
          return;
        }
        this.#pending.get(msg.seq)?.failed.push(msg.error);
        return this.#answered(msg.seq, w);
      case "ready": {
        const p = this.#pending.get(msg.seq);
        if (!this.#started && msg.seq === 1 && p) {
          // Worker 1 listens: the others start now, and the start-up waits for them too.
          this.#startupAddresses.push(...msg.addresses);
          if (this.#ids.size < this.#opts.workers && !this.#shuttingDown) {
            for (let id = 2; id <= this.#opts.workers; id++) this.#spawn(id);
            for (const other of this.#ids.keys()) p.left.add(other);
          }
        }
        return this.#answered(msg.seq, w);
      }
    }
  }

  #onStarted(failed: string[]): void {
    if (failed.length > 0 || this.#shuttingDown) return;
    this.#started = true;
    this.#log.info("listening", {
      addresses: [...new Set(this.#startupAddresses)],
      workers: this.#opts.workers,
      engine: this.#config.server.engine,
      pid: process.pid,
    });
    this.#opts.onListening?.();
  }

  #onExit(w: Worker, code: number | null, signal: string | null): void {
    const id = this.#ids.get(w)!;
    const lived = Date.now() - (this.#startedAt.get(w) ?? 0);
    this.#ids.delete(w);
    this.#startedAt.delete(w);
    for (const seq of [...this.#pending.keys()]) this.#answered(seq, w);
    for (const ack of [...this.#acks.keys()]) this.#acked(ack, w);
    this.#shared.forget(String(w.id));
    if (this.#shuttingDown) {
      if (this.#live().length === 0) void this.#finish();
      return;
    }
    this.#log.warn("worker exited; starting a new one", { worker: id, pid: w.process.pid, code, signal });
    this.restarts++;
    this.restartsOf.set(id, (this.restartsOf.get(id) ?? 0) + 1);
    this.#restartDelay = lived < 2000 ? Math.min(this.#restartDelay * 2, 10_000) : 100;
    setTimeout(() => {
      if (!this.#shuttingDown) this.#spawn(id);
    }, this.#restartDelay);
  }

  #rotateTicketKeys(): void {
    // Keys shared with other instances rotate through the storage instead.
    if (this.#opts.sharedTicketKeys?.()) return;
    this.useTicketKeys(randomBytes(48).toString("hex"));
  }

  /** Hands every worker (and workers started later) these session-ticket keys. */
  useTicketKeys(hex: string): void {
    this.#ticketKeys = hex;
    for (const w of this.#live()) this.#send(w, { type: "ticket-keys", keys: hex });
  }

  async #finish(): Promise<void> {
    if (this.#killTimer) clearTimeout(this.#killTimer);
    await this.#opts.afterStop?.().catch((err: unknown) => this.#log.error("stopping apps failed", { err }));
    if (!this.#quiet) this.#log.info("stopped");
    this.#resolveExit(this.#exitCode);
  }
}
