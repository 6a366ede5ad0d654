import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { makeCert } from "./certs.ts";
import { freePort } from "./wharf.ts";

export interface Pebble {
  directory: string;
  /** PEM file that signs Pebble's own HTTPS certificate (for NODE_EXTRA_CA_CERTS). */
  caFile: string;
  /** What Pebble printed so far (its log of requests, orders and issued certificates). */
  output(): string;
  stop(): Promise<void>;
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        r(true);
      });
      s.once("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/**
 * Pebble (Let's Encrypt's test CA) with pebble-challtestsrv as its DNS, resolving every
 * name to 127.0.0.1; its validation authority connects to `httpPort` (HTTP-01) and
 * `tlsPort` (TLS-ALPN-01) there.
 */
export async function startPebble(
  dir: string,
  httpPort: number,
  tlsPort: number,
  env: Record<string, string> = {},
  extraConfig: Record<string, unknown> = {},
): Promise<Pebble> {
  const [acmePort, mgmtPort, dnsPort, ctsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const tls = makeCert(dir, "pebble", ["localhost", "127.0.0.1"]);
  const config = join(dir, "pebble.json");
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: tls.cert,
        privateKey: tls.key,
        httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        ...extraConfig,
      },
    }),
  );
  const procs: ChildProcess[] = [];
  procs.push(
    spawn(
      "pebble-challtestsrv",
      [
        "-dns01",
        `127.0.0.1:${dnsPort}`,
        "-http01",
        "",
        "-https01",
        "",
        "-tlsalpn01",
        "",
        "-management",
        `127.0.0.1:${ctsPort}`,
        "-defaultIPv4",
        "127.0.0.1",
        "-defaultIPv6",
        "",
      ],
      { stdio: "ignore" },
    ),
  );
  let output = "";
  const ca = spawn("pebble", ["-config", config, "-dnsserver", `127.0.0.1:${dnsPort}`], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", ...env },
  });
  ca.stdout!.on("data", (d: Buffer) => {
    output += d.toString();
  });
  ca.stderr!.on("data", (d: Buffer) => {
    output += d.toString();
  });
  procs.push(ca);
  await waitPort(acmePort);
  return {
    directory: `https://127.0.0.1:${acmePort}/dir`,
    caFile: tls.cert,
    output: () => output,
    async stop() {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((r) => {
              if (p.exitCode !== null || p.signalCode !== null) return r();
              p.once("exit", () => r());
              p.kill("SIGTERM");
            }),
        ),
      );
    },
  };
}
