import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const WHARF = join(ROOT, "bin/wharf");

/**
 * A free TCP port on 127.0.0.1 (bound, then released), picked at random below Linux's
 * ephemeral range (32768 and up): a port the kernel hands to whatever binds port 0 or
 * connects out (an app server, a client) could be taken again between this call and the
 * test's listen; these are not.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((res) => {
      const s = createServer();
      s.once("error", () => res(false));
      s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
    });
    if (free) return port;
  }
}

export interface Running {
  proc: ChildProcess;
  port: number;
  base: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when a stderr JSON log line with this `msg` appears (after `from` characters). */
  waitForLog: (msg: string, from?: number, timeoutMs?: number) => Promise<Record<string, unknown>>;
  /**
   * Resolves with stdout from `from` on once it matches `re` (access-log lines come from
   * the workers a moment after the response): never read a log line right after a request.
   */
  waitForStdout: (re: RegExp, from?: number, timeoutMs?: number) => Promise<string>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Runs bin/wharf with `args` (`{port}` is replaced by a free port) and waits until it listens. */
export async function startWharf(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; port?: number } = {},
): Promise<Running> {
  const port = opts.port ?? (await freePort());
  const proc = spawn(
    WHARF,
    args.map((a) => a.replaceAll("{port}", String(port))),
    {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const waitForLog = (msg: string, from = 0, timeoutMs = 15_000) =>
    new Promise<Record<string, unknown>>((res, rej) => {
      const t0 = Date.now();
      const check = () => {
        for (const line of err.slice(from).split("\n")) {
          if (!line.startsWith("{")) continue;
          try {
            const rec = JSON.parse(line) as Record<string, unknown>;
            if (rec.msg === msg) return res(rec);
          } catch {}
        }
        if (proc.exitCode !== null)
          return rej(new Error(`wharf exited (${proc.exitCode}) before "${msg}":\n${err}`));
        if (Date.now() - t0 > timeoutMs)
          return rej(new Error(`no "${msg}" log line within ${timeoutMs} ms:\n${err}`));
        setTimeout(check, 20);
      };
      check();
    });
  const waitForStdout = (re: RegExp, from = 0, timeoutMs = 10_000) =>
    new Promise<string>((res, rej) => {
      const t0 = Date.now();
      const check = () => {
        const text = out.slice(from);
        if (re.test(text)) return res(text);
        if (Date.now() - t0 > timeoutMs)
          return rej(new Error(`stdout did not match ${re} within ${timeoutMs} ms:\n${text}`));
        setTimeout(check, 20);
      };
      check();
    });
  const running: Running = {
    proc,
    port,
    base: `http://127.0.0.1:${port}`,
    stdout: () => out,
    stderr: () => err,
    waitForLog,
    waitForStdout,
    stop: async (signal = "SIGTERM") => {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  try {
    await waitForLog("listening");
  } catch (e) {
    await running.stop("SIGKILL");
    throw e;
  }
  return running;
}

/** Runs bin/wharf to completion (with `input` on its stdin); returns its exit code and output. */
export function runWharf(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
    const proc = spawn(WHARF, args, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (opts.input !== undefined) proc.stdin!.end(opts.input);
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    proc.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    proc.on("exit", (code) => res({ code, stdout, stderr }));
  });
}

/** A temporary directory filled with `files` (path → content); removed by `cleanup`. */
export function makeTree(files: Record<string, string | Buffer>): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "wharf-test-"));
  for (const [p, content] of Object.entries(files)) {
    const abs = join(dir, p);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `wharf serve DIR` over HTTPS (HTTP/2 and HTTP/1.1) with a fresh self-signed certificate
 * for localhost and 127.0.0.1, one worker, no access log; `ca` is the certificate to trust.
 */
export async function startTlsWharf(
  dir: string,
  extra: string[] = [],
): Promise<Running & { ca: Buffer; cert: string; key: string }> {
  const { makeCert } = await import("./certs.ts");
  const certDir = mkdtempSync(join(tmpdir(), "wharf-cert-"));
  const c = makeCert(certDir, "site", ["localhost", "127.0.0.1"], 365);
  const w = await startWharf([
    "serve",
    dir,
    "--listen",
    "127.0.0.1:{port}",
    "--workers",
    "1",
    "--quiet",
    "--tls-cert",
    c.cert,
    "--tls-key",
    c.key,
    ...extra,
  ]);
  const stop = w.stop;
  return {
    ...w,
    ca: readFileSync(c.cert),
    cert: c.cert,
    key: c.key,
    stop: async (signal) => {
      const code = await stop(signal);
      rmSync(certDir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * `wharf run` on a config written for a free port: `config(port)` is the YAML, kept as
 * `<dir>/<name>.yaml` (relative paths in it are the tree's, as the process runs there).
 */
export async function runConfig(
  dir: string,
  name: string,
  config: (port: number) => string,
): Promise<Running> {
  const port = await freePort();
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, config(port));
  return startWharf(["run", "--config", file], { port, cwd: dir });
}

/**
 * `fn` against `wharf run` on `config(port)` in a new, empty tree; the server is stopped
 * and the tree removed after, whatever `fn` did.
 */
export async function withConfig<T>(
  config: (port: number) => string,
  fn: (w: Running) => Promise<T>,
): Promise<T> {
  const tree = makeTree({});
  try {
    const w = await runConfig(tree.dir, "wharf", config);
    try {
      return await fn(w);
    } finally {
      await w.stop();
    }
  } finally {
    tree.cleanup();
  }
}
