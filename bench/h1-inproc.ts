/**
 * The per-request cost of wharf's HTTP/1.1 engine and the static handler, in process: the
 * real compiled runtime and connection code, fed by an in-memory socket, so neither the
 * kernel nor a load generator adds noise. A development tool, not a test.
 *
 *   node bench/h1-inproc.ts [DIR] [PATH] [--requests N] [--header 'If-None-Match: "x"']
 *   node bench/h1-inproc.ts --config wharf.yaml [PATH] …   (the first site of a config file)
 *   node --cpu-prof bench/h1-inproc.ts …   (then read the profile)
 */
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { serveConfig } from "../src/config/from-flags.ts";
import { loadConfigFile } from "../src/config/load.ts";
import { createLogger } from "../src/core/logger.ts";
import { loadHandlers } from "../src/handlers/index.ts";
import { H1Connections } from "../src/http/h1-engine.ts";
import { DEFAULT_LIMITS } from "../src/http/limits.ts";
import { buildRuntime, ServerHost } from "../src/server/runtime.ts";
import { localShared } from "../src/server/shared-host.ts";
import { WorkerTls } from "../src/tls/worker-tls.ts";

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  if (i === -1) return dflt;
  const v = args[i + 1] ?? dflt;
  args.splice(i, 2);
  return v;
};
const requests = Number(flag("--requests", "300000"));
const extra = flag("--header", "");
const configFile = flag("--config", "");
const [dir = "examples/site", path = "/index.html"] = configFile ? [".", ...args] : args;

/** Just enough of a socket for the engine: writes are counted and dropped. */
class MemorySocket extends EventEmitter {
  remoteAddress = "127.0.0.1";
  remotePort = 40000;
  written = 0;
  writes = 0;
  #waiter: (() => void) | undefined;
  write(data: Buffer | string): boolean {
    this.written += data.length;
    this.writes++;
    this.#waiter?.();
    return true;
  }
  /** Resolves at the next write (a response that was not written synchronously). */
  nextWrite(): Promise<void> {
    return new Promise((r) => {
      this.#waiter = () => {
        this.#waiter = undefined;
        r();
      };
    });
  }
  cork() {}
  uncork() {}
  pause() {}
  resume() {}
  end() {}
  destroy() {}
  setNoDelay() {}
}

const config = configFile
  ? await loadConfigFile(configFile)
  : await serveConfig(
      { dir, listen: "127.0.0.1:1", workers: 1, quiet: true, browse: false, spa: false, app: undefined },
      process.cwd(),
    );
const log = createLogger({ level: "error" });
await loadHandlers(config.sites.flatMap((s) => s.routes.flatMap((r) => r.handle.flatMap(Object.keys))));
const runtime = buildRuntime(config, new ServerHost(log, new WorkerTls(log), localShared()).ctx);
const listener = [...runtime.listeners.values()][0]!;
const conns = new H1Connections(DEFAULT_LIMITS, listener, log, "http");
const sock = new MemorySocket();
conns.add(sock as never);
const req = Buffer.from(
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n${extra ? `${extra}\r\n` : ""}\r\n`,
);

async function run(n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const before = sock.writes;
    sock.emit("data", req);
    // As a client would: the next request only once this one is answered (a cache
    // revalidation, a stat once a second, answers asynchronously).
    if (sock.writes === before) await sock.nextWrite();
  }
  return performance.now() - t0;
}

await run(20_000); // warm-up
sock.written = 0;
const ms = await run(requests);
console.log(
  `${path}: ${((ms * 1e6) / requests).toFixed(0)} ns/request, ${Math.round(requests / (ms / 1000))} req/s on one core, ${Math.round(sock.written / requests)} bytes/response`,
);
conns.destroyAll();
await runtime.close();
