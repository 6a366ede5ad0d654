import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, type FSWatcher, readdirSync, rmSync, type Stats, statSync, watch } from "node:fs";
import { request } from "node:http";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { WharfConfig } from "../config/types.ts";
import { WharfError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { ProxyConfig } from "../handlers/proxy/schema.ts";

type AppConfig = NonNullable<ProxyConfig["app"]>;

/** Lines of an app's output kept to say why it failed. */
const LAST_LINES = 15;
/** Exits before it is ready that make a crash loop (it will not come up by itself). */
const CRASH_LOOP = 3;

interface RunningApp {
  key: string;
  cfg: AppConfig;
  /** The upstream address the proxy uses (unix:/… or http://127.0.0.1:port, with the protocol). */
  upstream: string;
  command: string;
  socketPath: string | undefined;
  port: number | undefined;
  child: ChildProcess | undefined;
  stopping: boolean;
  restartDelay: number;
  /** What it printed last (stdout and stderr), for the messages about its failures. */
  lastLines: string[];
  /** Exit codes since the last time it was ready. */
  exits: (number | null)[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

function canConnect(app: RunningApp): Promise<boolean> {
  return new Promise((resolve) => {
    const s = app.socketPath
      ? connect({ path: app.socketPath })
      : connect({ host: "127.0.0.1", port: app.port! });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Whether the app answers: for an HTTP app, a GET of `ready_path` that is not a 5xx (an
 * app server that binds and then fails to import its app is not ready: gunicorn binds
 * first); for uwsgi and FastCGI, a connection.
 */
function isReady(app: RunningApp): Promise<boolean> {
  if (app.cfg.protocol !== "http") return canConnect(app);
  return new Promise((resolve) => {
    const req = request(
      {
        ...(app.socketPath ? { socketPath: app.socketPath } : { host: "127.0.0.1", port: app.port! }),
        path: app.cfg.ready_path,
        headers: { Host: "localhost", "User-Agent": "wharf-readiness" },
        timeout: 5000,
        agent: false,
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 500);
      },
    );
    req.once("error", () => resolve(false));
    req.once("timeout", () => req.destroy());
    req.end();
  });
}

/** The program a command line starts (its first word), for messages. */
function programOf(command: string): string {
  return command.trim().split(/\s+/)[0] ?? command;
}

/** Resolves once no worker holds a request for `upstream` (or after `timeoutMs`). */
export type Quiesce = (upstream: string, timeoutMs: number) => Promise<void>;

/**
 * Supervises the app processes that `proxy: { app: … }` handlers name: gives each a socket
 * or port, starts it, waits until it answers, restarts it with backoff when it exits,
 * forwards its output to the log, and stops it (its whole process group) on shutdown.
 * Runs in the primary; workers only see the resulting upstream address. An app never
 * outlives wharf: it gets SIGKILL when the primary dies, however it dies (setpriv's
 * parent-death signal, where setpriv is installed).
 */
export class AppSupervisor {
  readonly #apps = new Map<string, RunningApp>();
  readonly #log: Logger;
  readonly #setpriv = existsSync("/usr/bin/setpriv") ? "/usr/bin/setpriv" : undefined;
  #count = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Starts the apps a config needs (keeping those already running with the same command,
   * environment and watched code), and returns the config with each such proxy's `to`
   * set, and `retire`: it stops the apps the config no longer uses, letting them finish
   * what they are answering. Call it once the workers run the new config (blue-green: the
   * new app answers before the old one goes). `deploy` starts every app anew.
   */
  async prepare(
    config: WharfConfig,
    deploy = false,
  ): Promise<{ config: WharfConfig; retire: (idle?: Quiesce) => Promise<void> }> {
    if (deploy) this.#generation++;
    const out = structuredClone(config);
    const wanted = new Set<string>();
    for (const site of out.sites) {
      for (const route of site.routes) {
        for (const h of route.handle) {
          if (!("proxy" in h) || !h.proxy.app) continue;
          const app = await this.#ensure(h.proxy.app);
          wanted.add(app.key);
          h.proxy.to = [{ url: app.upstream, weight: 1 }];
        }
      }
    }
    const old = [...this.#apps.values()].filter((a) => !wanted.has(a.key));
    return {
      config: out,
      retire: async (idle) => {
        await Promise.all(
          old.map(async (a) => {
            // The workers may still hold requests for it (bodies being read, answers relayed).
            await idle?.(a.upstream, a.cfg.stop_timeout).catch(() => {});
            await this.#stop(a);
          }),
        );
      },
    };
  }

  async stopAll(): Promise<void> {
    for (const w of this.#watchers) w.close();
    await Promise.all([...this.#apps.values()].map((a) => this.#stop(a)));
  }

  /** Called when a watched path changes (a deploy should follow). */
  onCodeChange: (() => void) | undefined;

  readonly #watchers: FSWatcher[] = [];
  readonly #watched = new Set<string>();
  #generation = 0;

  /** Watches an app's `watch` paths: a change means a deploy (debounced). */
  #watch(paths: readonly string[]): void {
    let timer: NodeJS.Timeout | undefined;
    for (const p of paths) {
      if (this.#watched.has(p)) continue;
      this.#watched.add(p);
      try {
        const w = watch(p, { recursive: true }, () => {
          clearTimeout(timer);
          timer = setTimeout(() => this.onCodeChange?.(), 500);
        });
        w.on("error", () => {});
        this.#watchers.push(w);
      } catch (err) {
        this.#log.warn("cannot watch a path of an app", { path: p, error: (err as Error).message });
      }
    }
  }

  /** What identifies a running app: its settings, the deploy generation, and its watched code's state. */
  #identity(cfg: AppConfig): string {
    const h = createHash("sha256").update(JSON.stringify(cfg)).update(String(this.#generation));
    for (const p of cfg.watch) h.update(fingerprint(p));
    return h.digest("hex").slice(0, 16);
  }

  async #ensure(cfg: AppConfig): Promise<RunningApp> {
    this.#watch(cfg.watch);
    const key = this.#identity(cfg);
    const existing = this.#apps.get(key);
    if (existing) return existing;
    const n = ++this.#count;
    const useSocket = cfg.command.includes("{socket}") || cfg.command.includes("{socket_path}");
    const socketPath = useSocket
      ? join(process.env.XDG_RUNTIME_DIR || tmpdir(), `wharf-${process.pid}-app${n}.sock`)
      : undefined;
    const port = useSocket ? undefined : await freePort();
    // {socket} is written as gunicorn takes it (unix:/path); {socket_path} is the bare path.
    const command = cfg.command
      .replaceAll("{socket_path}", socketPath ?? "")
      .replaceAll("{socket}", socketPath ? `unix:${socketPath}` : "")
      .replaceAll("{port}", String(port ?? ""));
    const prefix = cfg.protocol === "http" ? "" : `${cfg.protocol}+`;
    const upstream = socketPath
      ? `${prefix}unix:${socketPath}`
      : `${cfg.protocol === "http" ? "http" : cfg.protocol}://127.0.0.1:${port}`;
    const app: RunningApp = {
      key,
      cfg,
      upstream,
      command,
      socketPath,
      port,
      child: undefined,
      stopping: false,
      restartDelay: 250,
      lastLines: [],
      exits: [],
    };
    this.#apps.set(key, app);
    this.#spawn(app);
    const deadline = Date.now() + cfg.start_timeout;
    for (;;) {
      const why = this.#hopeless(app);
      if (why === undefined && (await isReady(app))) break;
      if (why !== undefined || Date.now() > deadline || app.stopping) {
        await this.#stop(app);
        throw new WharfError(
          "WHARF_ERR_APP_START",
          (why ?? `the app did not answer within ${cfg.start_timeout} ms: ${command}`) + this.#printed(app),
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    app.exits = [];
    this.#log.info("app ready", { app: n, command, upstream });
    return app;
  }

  /** Why the app will not come up by waiting longer, if that is clear already. */
  #hopeless(app: RunningApp): string | undefined {
    const last = app.exits.at(-1);
    if (last === 127) return `the app's command was not found: ${programOf(app.command)} (exit 127)`;
    if (last === 126) return `the app's command cannot be run: ${programOf(app.command)} (exit 126)`;
    if (app.exits.length >= CRASH_LOOP)
      return `the app exited ${app.exits.length} times before it was ready (last exit code ${last}): ${app.command}`;
    return undefined;
  }

  /** What the app printed last, as lines to append to a message. */
  #printed(app: RunningApp): string {
    if (app.lastLines.length === 0) return "";
    return `\nits last output:\n${app.lastLines.map((l) => `  ${l}`).join("\n")}`;
  }

  #spawn(app: RunningApp): void {
    if (app.socketPath) rmSync(app.socketPath, { force: true });
    const startedAt = Date.now();
    const shell = ["/bin/sh", "-c", `exec ${app.command}`];
    // Its own process group, so a stop reaches the app's own workers too; and SIGKILL when
    // the primary dies, so a killed wharf leaves no app behind.
    const [file, ...args] = this.#setpriv ? [this.#setpriv, "--pdeathsig", "KILL", "--", ...shell] : shell;
    const child = spawn(file!, args, {
      cwd: app.cfg.cwd ?? process.cwd(),
      env: { ...process.env, ...app.cfg.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    app.child = child;
    const log = this.#log.child({ app: app.command });
    for (const [name, stream] of [
      ["stdout", child.stdout],
      ["stderr", child.stderr],
    ] as const) {
      createInterface({ input: stream }).on("line", (line) => {
        app.lastLines.push(line);
        if (app.lastLines.length > LAST_LINES) app.lastLines.shift();
        log.info("app output", { stream: name, line });
      });
    }
    child.once("exit", (code, signal) => {
      app.child = undefined;
      // What the app left behind in its group (orphaned workers) goes with it.
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
      if (app.stopping) return;
      app.exits.push(code);
      const uptime = Date.now() - startedAt;
      app.restartDelay = uptime > 30_000 ? 250 : Math.min(app.restartDelay * 2, 10_000);
      log.warn("app exited; restarting", {
        code,
        signal,
        in_ms: app.restartDelay,
        last_output: app.lastLines.slice(-5),
      });
      setTimeout(() => {
        if (!app.stopping) this.#spawn(app);
      }, app.restartDelay).unref();
    });
    child.once("error", (err) => log.error("app failed to start", { err }));
  }

  /**
   * Stops an app: SIGTERM to its process group (gunicorn, uvicorn and uWSGI then finish
   * what they are answering), SIGKILL after `stop_timeout`.
   */
  async #stop(app: RunningApp): Promise<void> {
    app.stopping = true;
    this.#apps.delete(app.key);
    const child = app.child;
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {}
      }, app.cfg.stop_timeout);
      await exited;
      clearTimeout(timer);
    }
    if (app.socketPath) rmSync(app.socketPath, { force: true });
    this.#log.info("app stopped", { command: app.command });
  }
}

/** The state of a watched path: newest mtime and entry count under it (a change in code). */
function fingerprint(path: string): string {
  let newest = 0;
  let count = 0;
  const visit = (p: string, depth: number) => {
    let st: Stats;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    count++;
    newest = Math.max(newest, st.mtimeMs);
    if (!st.isDirectory() || depth > 8) return;
    for (const name of readdirSync(p))
      if (name !== "__pycache__" && !name.startsWith(".")) visit(join(p, name), depth + 1);
  };
  visit(path, 0);
  return `${path}:${newest}:${count}`;
}
