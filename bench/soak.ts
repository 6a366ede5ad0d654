// A soak run: mixed traffic through one wharf for a while, its memory and descriptors sampled.
//
//   node --conditions=source bench/soak.ts [--minutes 10] [--reload-every 30]
//
// Traffic, all at once: static files and proxied requests over HTTP/1.1 (wrk), HTTP/2 over
// TLS (h2load), WebSockets that echo a message every 100 ms, slow clients reading 4 MiB at
// 256 KiB/s, and a SIGHUP reload every --reload-every seconds. Every 30 s the resident
// memory and open descriptors of wharf's processes (primary and workers) are printed; at the
// end one line: SOAK minutes=… requests=… errors=… rss_mib=first→last (max) fds=first→last (max),
// where "first" is the sample after the first minute (warm caches, JIT done).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeCert } from "../test/helpers/certs.ts";
import { nodeUpstream } from "../test/helpers/node-upstream.ts";
import { descendants } from "../test/helpers/processes.ts";
import { freePort, makeTree, startWharf } from "../test/helpers/wharf.ts";
import { wsEchoServer } from "../test/helpers/ws-echo.ts";

const { values } = parseArgs({
  options: { minutes: { type: "string", default: "10" }, "reload-every": { type: "string", default: "30" } },
});
const MINUTES = Number(values.minutes);
const RELOAD_S = Number(values["reload-every"]);
const SECONDS = Math.round(MINUTES * 60);

const big = Buffer.alloc(4 * 1024 * 1024);
for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
const bigSha = createHash("sha256").update(big).digest("hex");
const tree = makeTree({ "www/index.html": `<h1>soak</h1>${"x".repeat(2000)}\n`, "www/big.bin": big });
makeCert(tree.dir, "site", ["localhost", "127.0.0.1"]);
const app = await nodeUpstream("app");
const ws = wsEchoServer();
const wsPort = await freePort();
await new Promise<void>((r) => ws.listen(wsPort, "127.0.0.1", r));
const port = await freePort();
const tlsPort = await freePort();
const config = join(tree.dir, "wharf.yaml");
const yaml = (n: number) => `# generation ${n}
server: { workers: 2, admin: off }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: { output: ${join(tree.dir, "access.log")} }
    routes:
      - match: { path: /ws }
        proxy: { to: ["http://127.0.0.1:${wsPort}"] }
      - match: { path: [/echo, /slow] }
        proxy: { to: ["http://127.0.0.1:${app.port}"] }
      - static: { root: ./www }
  - listen: ["127.0.0.1:${tlsPort}"]
    tls: { cert: ./site.crt, key: ./site.key }
    access_log: off
    routes:
      - match: { path: /echo }
        proxy: { to: ["http://127.0.0.1:${app.port}"] }
      - static: { root: ./www }
`;
writeFileSync(config, yaml(0));
const w = await startWharf(["run", "--config", config], { port, env: { WHARF_ENGINE: "" } });
const base = `http://127.0.0.1:${port}`;
const errors: string[] = [];
let requests = 0;
let running = true;

/** A load generator process; resolves with its output when it exits. */
function tool(cmd: string, args: string[]): { proc: ChildProcess; done: Promise<string> } {
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return { proc, done: new Promise((r) => proc.once("exit", () => r(out))) };
}

const wrkStatic = tool("wrk", ["-t1", "-c16", `-d${SECONDS}s`, `${base}/index.html`]);
const wrkProxy = tool("wrk", ["-t1", "-c16", `-d${SECONDS}s`, `${base}/echo`]);
const h2 = tool("h2load", [
  "-D",
  String(SECONDS),
  "-c4",
  "-m8",
  "-t1",
  `https://127.0.0.1:${tlsPort}/index.html`,
]);

/** WebSocket clients: each sends a message every 100 ms and checks its echo; reconnects count as errors. */
async function wsClient(i: number): Promise<void> {
  while (running) {
    const sock = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    let pending = 0;
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setInterval(() => {
        if (!running) {
          clearInterval(timer);
          sock.close();
          return resolve(true);
        }
        if (pending > 20) {
          errors.push(`ws ${i}: echoes stopped`);
          clearInterval(timer);
          sock.close();
          return resolve(false);
        }
        if (sock.readyState === WebSocket.OPEN) {
          pending++;
          sock.send(`m${i}`);
        }
      }, 100);
      sock.addEventListener("message", (e) => {
        if (String(e.data) === `echo: m${i}`) {
          pending--;
          requests++;
        } else errors.push(`ws ${i}: ${String(e.data)}`);
      });
      sock.addEventListener("close", () => {
        clearInterval(timer);
        resolve(!running);
      });
      sock.addEventListener("error", () => errors.push(`ws ${i}: error`));
    });
    if (!ok && running) errors.push(`ws ${i}: closed while running`);
  }
}

/** Slow clients: read big.bin at 256 KiB/s (paused between chunks) and check every byte. */
async function slowClient(): Promise<void> {
  while (running) {
    await new Promise<void>((resolve) => {
      httpGet(`${base}/big.bin`, { agent: false }, (res) => {
        const h = createHash("sha256");
        let got = 0;
        res.on("data", (c: Buffer) => {
          h.update(c);
          got += c.length;
          res.pause();
          setTimeout(() => res.resume(), (c.length / (256 * 1024)) * 1000);
        });
        res.on("end", () => {
          if (res.statusCode !== 200 || got !== big.length || h.digest("hex") !== bigSha)
            errors.push(`slow client: ${res.statusCode} ${got} bytes`);
          else requests++;
          resolve();
        });
        res.on("error", (e) => {
          errors.push(`slow client: ${e.message}`);
          resolve();
        });
      }).on("error", (e) => {
        errors.push(`slow client: ${e.message}`);
        resolve();
      });
    });
  }
}

const clients = [
  ...Array.from({ length: 10 }, (_, i) => wsClient(i)),
  ...Array.from({ length: 4 }, () => slowClient()),
];

/** RSS (KiB) and open descriptors of wharf's processes, summed, and each process's RSS (MiB). */
function sample(): { rss: number; fds: number; pids: number; each: string } {
  const pids = [w.proc.pid!, ...descendants(w.proc.pid!).map((p) => p.pid)];
  let rss = 0;
  let fds = 0;
  let alive = 0;
  const each: string[] = [];
  for (const pid of pids) {
    try {
      const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
      rss += kib;
      each.push((kib / 1024).toFixed(0));
      fds += readdirSync(`/proc/${pid}/fd`).length;
      alive++;
    } catch {}
  }
  return { rss, fds, pids: alive, each: each.join("+") };
}

const samples: (ReturnType<typeof sample> & { t: number })[] = [];
const t0 = Date.now();
let generation = 0;
const reloads = setInterval(() => {
  writeFileSync(config, yaml(++generation));
  w.proc.kill("SIGHUP");
}, RELOAD_S * 1000);
const sampler = setInterval(() => {
  const s = { t: Math.round((Date.now() - t0) / 1000), ...sample() };
  samples.push(s);
  console.log(
    `t=${s.t}s rss=${(s.rss / 1024).toFixed(1)}MiB (${s.each}) fds=${s.fds} processes=${s.pids} errors=${errors.length}`,
  );
}, 30_000);

const outputs = await Promise.all([wrkStatic.done, wrkProxy.done, h2.done]);
running = false;
clearInterval(reloads);
clearInterval(sampler);
await Promise.all(clients);
const last = { t: Math.round((Date.now() - t0) / 1000), ...sample() };
samples.push(last);
for (const out of outputs.slice(0, 2)) {
  requests += Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (bad) errors.push(`wrk: ${bad[1]} non-2xx/3xx`);
  const sock = /Socket errors: (.*)/.exec(out);
  if (sock && /[1-9]/.test(sock[1]!.replace(/timeout \d+/, ""))) errors.push(`wrk socket errors: ${sock[1]}`);
}
const h2out = outputs[2]!;
requests += Number(/requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded/.exec(h2out)?.[2] ?? 0);
const h2failed = /requests: .* (\d+) failed, (\d+) errored/.exec(h2out);
if (h2failed && (h2failed[1] !== "0" || h2failed[2] !== "0"))
  errors.push(`h2load: ${h2failed[1]} failed ${h2failed[2]} errored`);
const access = Number(
  execFileSync("wc", ["-l", join(tree.dir, "access.log")])
    .toString()
    .split(" ")[0],
);

await w.stop();
await app.close();
ws.close();
rmSync(tree.dir, { recursive: true, force: true });

const warm = samples.find((s) => s.t >= 60) ?? samples[0]!;
const max = (k: "rss" | "fds") => Math.max(...samples.map((s) => s[k]));
console.log(`access log lines: ${access}; reloads: ${generation}`);
for (const e of errors.slice(0, 20)) console.log(`error: ${e}`);
console.log(
  `SOAK minutes=${MINUTES} requests=${requests} errors=${errors.length} reloads=${generation} ` +
    `rss_mib=${(warm.rss / 1024).toFixed(1)}→${(last.rss / 1024).toFixed(1)} (max ${(max("rss") / 1024).toFixed(1)}) ` +
    `fds=${warm.fds}→${last.fds} (max ${max("fds")})`,
);
process.exit(errors.length === 0 ? 0 : 1);
