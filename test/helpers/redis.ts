import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { freePort } from "./wharf.ts";

export interface Redis {
  port: number;
  url: string;
  /** Kills it (SIGKILL: as a crash); `start` brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Freezes it (SIGSTOP: connections stay open, nothing answers) or thaws it (SIGCONT). */
  freeze(frozen: boolean): void;
  stop(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      r(true);
    });
    s.once("error", () => r(false));
  });
}

/**
 * A throwaway `redis-server` on a loopback port, without persistence; with `tls`, on TLS
 * only (that certificate and key), and with `password`, asking for it.
 */
export async function startRedis(
  opts: { tls?: { cert: string; key: string }; password?: string } = {},
): Promise<Redis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const listen = opts.tls
    ? [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--tls-cert-file",
        opts.tls.cert,
        "--tls-key-file",
        opts.tls.key,
        "--tls-ca-cert-file",
        opts.tls.cert,
        "--tls-auth-clients",
        "no",
      ]
    : ["--port", String(port)];
  const start = async () => {
    proc = spawn(
      "redis-server",
      [
        ...listen,
        ...(opts.password ? ["--requirepass", opts.password] : []),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
      ],
      { stdio: "ignore" },
    );
    for (let i = 0; i < 200 && !(await answers(port)); i++) await new Promise((r) => setTimeout(r, 25));
  };
  const kill = (signal: NodeJS.Signals) =>
    new Promise<void>((r) => {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return r();
      p.once("exit", () => r());
      p.kill(signal);
    });
  await start();
  return {
    port,
    url: `${opts.tls ? "rediss" : "redis"}://${opts.password ? `:${opts.password}@` : ""}127.0.0.1:${port}/0`,
    kill: () => kill("SIGKILL"),
    start,
    freeze: (frozen) => proc?.kill(frozen ? "SIGSTOP" : "SIGCONT"),
    stop: () => kill("SIGTERM"),
  };
}
