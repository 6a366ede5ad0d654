import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { ROOT } from "./wharf.ts";

export const PYAPP = join(ROOT, "test/fixtures/pyapp");

export interface AppServer {
  proc: ChildProcess;
  stop(): Promise<void>;
  log(): string;
}

function reachable(target: { port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const s =
      "path" in target ? connect({ path: target.path }) : connect({ host: "127.0.0.1", port: target.port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Starts a real app server (gunicorn, uwsgi) in its own process group and waits until it accepts connections. */
export async function startAppServer(
  command: string,
  args: string[],
  target: { port: number } | { path: string },
  env: Record<string, string> = {},
): Promise<AppServer> {
  const proc = spawn(command, args, {
    cwd: PYAPP,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  proc.stdout!.on("data", (d: Buffer) => {
    log += d.toString();
  });
  proc.stderr!.on("data", (d: Buffer) => {
    log += d.toString();
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    // SIGINT: gunicorn's and uWSGI's quick shutdown (a test has nothing in flight to wait for).
    try {
      process.kill(-proc.pid!, "SIGINT");
    } catch {}
    const t = setTimeout(() => {
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(t);
  };
  for (let i = 0; i < 300; i++) {
    if (await reachable(target)) return { proc, stop, log: () => log };
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`${command} did not start:\n${log}`);
}

/** gunicorn serving test/fixtures/pyapp/app.py on a TCP port or a unix socket. */
export function gunicorn(
  bind: { port: number } | { path: string },
  env: Record<string, string> = {},
  workers = 2,
  extra: string[] = ["--timeout", "60"],
) {
  const b = "path" in bind ? `unix:${bind.path}` : `127.0.0.1:${bind.port}`;
  return startAppServer("gunicorn", ["-b", b, "-w", String(workers), ...extra, "app:app"], bind, env);
}

/** uWSGI serving the same app: `mode` is http-socket, socket (uwsgi protocol) or fastcgi-socket. */
export function uwsgi(
  mode: "http-socket" | "socket" | "fastcgi-socket",
  bind: { port: number } | { path: string },
) {
  const b = "path" in bind ? bind.path : `127.0.0.1:${bind.port}`;
  return startAppServer(
    "uwsgi",
    [
      "--plugin",
      "python3",
      `--${mode}`,
      b,
      "--wsgi-file",
      "app.py",
      "--callable",
      "app",
      "--master",
      "--processes",
      "2",
      "--die-on-term",
      "--disable-logging",
      "--buffer-size",
      "32768",
    ],
    bind,
  );
}

/** The bytes the app's /download/N produces: 0..255 repeated. */
export function pattern(size: number): Buffer {
  const block = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) block[i] = i;
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += 256) block.copy(out, i, 0, Math.min(256, size - i));
  return out;
}
