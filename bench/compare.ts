// wharf beside nginx: the same files, the same number of worker processes, the same load
// generator (wrk for HTTP/1.1, h2load for HTTP/2 and TLS), alternating the two servers.
// One RESULT line per scenario: RESULT <scenario> nginx=<x> wharf=<y> ratio=<y/x> <unit>
// (for memory and start-up, ratio=nginx/wharf: higher is always better for wharf).
// Without nginx installed, wharf alone is measured (nginx=0, ratio=0.00).
//
//   npm run bench -- [--scenarios LIST] [--rounds N] [--duration S] [--workers N] [--json FILE]
//
// Scenarios: the reference harness's (small, conn, notmod, big, proxy, h2, tls1, idle,
// startup) and wharf's own: cache (a proxied response from wharf's cache against nginx
// proxy_cache), gzip (a 20 KB HTML page proxied and gzip-compressed, encode against nginx
// gzip), guard (proxy with a rate_limit and a cached basic_auth in the chain, against the
// same proxy without them: the ratio is guarded/bare).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const WHARF = process.env.WHARF ?? resolve(HERE, "../bin/wharf");
const ALL = [
  "small",
  "conn",
  "notmod",
  "big",
  "proxy",
  "h2",
  "tls1",
  "idle",
  "startup",
  "cache",
  "gzip",
  "guard",
];

const { values } = parseArgs({
  options: {
    scenarios: { type: "string", default: ALL.join(",") },
    rounds: { type: "string", default: "2" },
    duration: { type: "string", default: "5" },
    workers: { type: "string", default: "2" },
    json: { type: "string" },
  },
});
const SCENARIOS = values.scenarios!.split(",").filter(Boolean);
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const WORKERS = Number(values.workers);

const have = (cmd: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
for (const tool of ["wrk", "h2load", "curl"])
  if (!have(tool)) {
    console.error(`bench needs ${tool} (Debian: wrk, nghttp2-client, curl)`);
    process.exit(2);
  }
const NGINX = have("nginx");
if (!NGINX) console.error("nginx is not installed: wharf is measured alone");

const WORK = mkdtempSync(join(tmpdir(), "wharf-bench-"));
const ROOT = join(WORK, "www");
mkdirSync(join(WORK, "logs"), { recursive: true });
mkdirSync(ROOT);
chmodSync(WORK, 0o755); // nginx's workers run unprivileged and must read the files
writeFileSync(join(ROOT, "small.html"), randomBytes(768).toString("base64").slice(0, 1024));
writeFileSync(join(ROOT, "index.html"), "<!doctype html><title>bench</title><p>ok</p>\n");
writeFileSync(
  join(ROOT, "page.html"),
  `<!doctype html><title>page</title>${"<p>A paragraph of an app's HTML page, the kind gzip shrinks well.</p>\n".repeat(290)}`,
);
execFileSync("sh", ["-c", `head -c ${64 * 1024 * 1024} /dev/urandom > ${join(ROOT, "big.bin")}`]);
execFileSync(
  "openssl",
  [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    join(WORK, "key.pem"),
    "-out",
    join(WORK, "cert.pem"),
    "-days",
    "7",
    "-subj",
    "/CN=localhost",
  ],
  { stdio: "ignore" },
);
const FUTURE = new Date(Date.now() + 86_400_000).toUTCString();
let passwordHash: string | undefined;
/** A hash for the guard scenario's basic_auth, from `wharf hash-password`. */
const hashOf = () => {
  passwordHash ??= execFileSync(WHARF, ["hash-password"], { input: "bench-secret\n" }).toString().trim();
  return passwordHash;
};

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children)
    if (c.pid)
      try {
        process.kill(-c.pid, "SIGKILL");
      } catch {}
  rmSync(WORK, { recursive: true, force: true });
});
process.on("SIGINT", () => process.exit(130));

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address() as { port: number };
      s.close(() => res(a.port));
    });
  });
}

function start(name: string, cmd: string, args: string[]): ChildProcess {
  const log = join(WORK, "logs", `${name}.out`);
  const c = spawn(cmd, args, { detached: true, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  c.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
    writeFileSync(log, err);
  });
  children.add(c);
  return c;
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.pid === undefined) return void children.delete(c);
  const exited = new Promise((r) => c.once("exit", r));
  try {
    process.kill(-c.pid, "SIGTERM");
  } catch {}
  const t = setTimeout(() => {
    try {
      process.kill(-c.pid!, "SIGKILL");
    } catch {}
  }, 5000);
  await exited;
  clearTimeout(t);
  children.delete(c);
}

/** Waits until `url` answers; the milliseconds it took (start-up). */
async function waitUp(url: string, extra: string[] = []): Promise<number | undefined> {
  const t0 = performance.now();
  for (let i = 0; i < 1500; i++) {
    try {
      execFileSync("curl", ["-ks", "-o", "/dev/null", "--max-time", "1", "-f", ...extra, url], {
        stdio: "ignore",
      });
      return Math.round(performance.now() - t0);
    } catch {}
    await new Promise((r) => setTimeout(r, 10));
  }
  return undefined;
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { maxBuffer: 64 << 20 }).toString();
  } catch (err) {
    return String((err as { stdout?: Buffer }).stdout ?? "");
  }
}

function wrkRate(url: string, extra: string[] = [], conns = 50): number {
  const out = run("wrk", ["-t1", `-c${conns}`, `-d${DURATION}s`, ...extra, url]);
  if (/Non-2xx or 3xx/.test(out)) return 0;
  return Math.floor(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0));
}

function wrkMiB(url: string): number {
  const m = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(run("wrk", ["-t1", "-c4", `-d${DURATION}s`, url]));
  if (!m) return 0;
  const n = Number(m[1]);
  return Math.floor(m[2] === "GB" ? n * 1024 : m[2] === "KB" ? n / 1024 : m[2] === "MB" ? n : n / 1048576);
}

function h2Rate(url: string, extra: string[]): number {
  const out = run("h2load", ["-n", String(DURATION * 40000), "-c", "50", "-t", "1", ...extra, url]);
  const total = /^requests: (\d+) total/m.exec(out)?.[1];
  const ok = /^status codes: (\d+) 2xx/m.exec(out)?.[1];
  if (!total || total !== ok) return 0;
  const want = extra.includes("--h1") ? "http/1.1" : "h2";
  if (!out.includes(`Application protocol: ${want}`)) return 0;
  return Math.floor(Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? 0));
}

function rssKiB(pgid: number): number {
  return Number(run("sh", ["-c", `ps -o rss= -g ${pgid} | awk '{s+=$1} END {print s+0}'`]).trim() || 0);
}

function nginxConf(port: number, mode: "static" | "tls" | "proxy" | "cache" | "gzip", up = 0): string {
  const file = join(WORK, `nginx-${port}.conf`);
  const lines = [
    `worker_processes ${WORKERS}; daemon off; pid ${WORK}/nginx-${port}.pid; error_log ${WORK}/logs/nginx-${port}-error.log;`,
    "worker_rlimit_nofile 20000; events { worker_connections 10000; }",
    "http { include /etc/nginx/mime.types; access_log off; sendfile on; tcp_nopush on;",
    "  keepalive_requests 1000000; keepalive_timeout 75s; open_file_cache max=1000 inactive=60s; if_modified_since before;",
    `  client_body_temp_path ${WORK}/nb; proxy_temp_path ${WORK}/np; fastcgi_temp_path ${WORK}/nf; uwsgi_temp_path ${WORK}/nu; scgi_temp_path ${WORK}/ns;`,
  ];
  const pass = `proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Forwarded-For $remote_addr;`;
  if (mode === "static") lines.push(`  server { listen 127.0.0.1:${port} reuseport; root ${ROOT}; }`);
  if (mode === "tls")
    lines.push(
      `  server { listen 127.0.0.1:${port} ssl http2 reuseport; ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate ${WORK}/cert.pem; ssl_certificate_key ${WORK}/key.pem; root ${ROOT}; }`,
    );
  if (mode !== "static" && mode !== "tls")
    lines.push(`  upstream up { server 127.0.0.1:${up}; keepalive 64; }`);
  if (mode === "proxy") lines.push(`  server { listen 127.0.0.1:${port} reuseport; location / { ${pass} } }`);
  if (mode === "cache")
    lines.push(
      `  proxy_cache_path ${WORK}/ncache levels=1:2 keys_zone=c:10m max_size=256m;`,
      `  server { listen 127.0.0.1:${port} reuseport; location / { ${pass} proxy_cache c; proxy_cache_valid 200 1h; } }`,
    );
  if (mode === "gzip")
    lines.push(
      `  server { listen 127.0.0.1:${port} reuseport; gzip on; gzip_proxied any; gzip_types text/html; location / { ${pass} } }`,
    );
  lines.push("}");
  writeFileSync(file, lines.join("\n"));
  return file;
}

/** wharf's config for the scenarios its command line cannot express. */
function wharfConf(port: number, sc: string, up: number): string {
  const file = join(WORK, `wharf-${sc}-${port}.yaml`);
  const proxy = `{ to: ["http://127.0.0.1:${up}"]${sc === "cache" ? ", cache: { default_ttl: 1h }" : ""} }`;
  const chain =
    sc === "gzip"
      ? `      - encode: { encodings: [gzip] }\n        proxy: ${proxy}\n`
      : sc === "guard"
        ? `      - rate_limit: { key: "{client_ip}", rate: 10000000/s, burst: 10000000 }\n        basic_auth: { users: { bench: "${hashOf()}" } }\n        proxy: ${proxy}\n`
        : `      - proxy: ${proxy}\n`;
  writeFileSync(
    file,
    `server: { workers: ${WORKERS}, log_level: error }\nsites:\n  - listen: ["127.0.0.1:${port}"]\n    access_log: off\n    routes:\n${chain}`,
  );
  return file;
}

const best = new Map<string, number>();
const LOWER_BETTER = new Set(["idle", "startup"]);
function record(side: string, sc: string, v: number): void {
  const k = `${side}:${sc}`;
  const prev = best.get(k);
  if (LOWER_BETTER.has(sc)) {
    if (v > 0 && (prev === undefined || prev === 0 || v < prev)) best.set(k, v);
    else if (prev === undefined) best.set(k, 0);
  } else if (prev === undefined || v > prev) best.set(k, v);
}

const AUTH = ["-H", `Authorization: Basic ${Buffer.from("bench:bench-secret").toString("base64")}`];

async function runSide(side: "nginx" | "wharf", sc: string, up: number, warm = false): Promise<void> {
  const port = await freePort();
  const tls = sc === "h2" || sc === "tls1";
  const proxied = ["proxy", "cache", "gzip", "guard"].includes(sc);
  let proc: ChildProcess;
  if (side === "nginx") {
    const mode = tls
      ? "tls"
      : sc === "cache"
        ? "cache"
        : sc === "gzip"
          ? "gzip"
          : proxied
            ? "proxy"
            : "static";
    proc = start(`nginx-${sc}`, "nginx", ["-c", nginxConf(port, mode, up)]);
  } else if (proxied && sc !== "proxy") {
    proc = start(`wharf-${sc}`, WHARF, ["run", "--config", wharfConf(port, sc, up)]);
  } else {
    const what = sc === "proxy" ? ["proxy", "--to", `http://127.0.0.1:${up}`] : ["serve", ROOT];
    const cert = tls ? ["--tls-cert", join(WORK, "cert.pem"), "--tls-key", join(WORK, "key.pem")] : [];
    proc = start(`wharf-${sc}`, WHARF, [
      ...what,
      "--listen",
      `127.0.0.1:${port}`,
      "--workers",
      String(WORKERS),
      "--quiet",
      ...cert,
    ]);
  }
  const base = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  const waited = await waitUp(
    `${base}/small.html`,
    sc === "guard" && side === "wharf" ? ["-u", "bench:bench-secret"] : [],
  );
  if (waited === undefined) {
    console.error(`  ${side} did not answer for ${sc}`);
    await stop(proc);
    return record(side, sc, 0);
  }
  await new Promise((r) => setTimeout(r, 300));
  // The guard comparison is of steady states: a credential is verified once per worker (a
  // slow hash, on purpose) and then cached; both sides get the same warm-up.
  if (warm) wrkRate(`${base}/small.html`, [...AUTH, "-d2s"]);
  let v = 0;
  switch (sc) {
    case "small":
    case "proxy":
    case "cache":
      v = wrkRate(`${base}/small.html`);
      break;
    case "gzip":
      v = wrkRate(`${base}/page.html`, ["-H", "Accept-Encoding: gzip"]);
      break;
    case "guard":
      v = wrkRate(`${base}/small.html`, AUTH);
      break;
    case "notmod":
      v = wrkRate(`${base}/small.html`, ["-H", `If-Modified-Since: ${FUTURE}`]);
      break;
    case "conn":
      v = wrkRate(`${base}/small.html`, ["-H", "Connection: close"]);
      break;
    case "big":
      v = wrkMiB(`${base}/big.bin`);
      break;
    case "h2":
      v = h2Rate(`${base}/small.html`, ["-m", "10"]);
      break;
    case "tls1":
      v = h2Rate(`${base}/small.html`, ["--h1"]);
      break;
    case "startup":
      v = waited;
      break;
    case "idle": {
      const before = rssKiB(proc.pid!);
      const out = join(WORK, "idle.out");
      const client = spawn(
        process.execPath,
        [join(HERE, "idle-conns.ts"), "127.0.0.1", String(port), "10000", "/small.html", "8"],
        { stdio: ["ignore", "pipe", "ignore"] },
      );
      let text = "";
      client.stdout!.on("data", (d: Buffer) => {
        text += d.toString();
        writeFileSync(out, text);
      });
      for (let i = 0; i < 300 && !/^ready/m.test(text); i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1000));
      const after = rssKiB(proc.pid!);
      const opened = Number(/^ready (\d+)/m.exec(text)?.[1] ?? 0);
      const alive = (await waitUp(`${base}/small.html`)) !== undefined;
      await new Promise((r) => client.once("exit", r));
      const early = Number(/^closed_early (\d+)/m.exec(text)?.[1] ?? 1);
      console.error(
        `  ${side} idle: opened=${opened}/10000 closed_early=${early} answered_meanwhile=${alive} rss_before=${before}KiB rss_after=${after}KiB`,
      );
      v = opened < 10000 || !alive || early !== 0 ? 0 : Math.max(1, Math.floor((after - before) / 1024));
      break;
    }
  }
  await stop(proc);
  console.error(`  ${side} ${sc}: ${v}`);
  record(side, sc, v);
}

const unit = (sc: string) =>
  sc === "big"
    ? "MiB/s"
    : sc === "idle"
      ? "MiB-for-10k-idle-conns(lower-better)"
      : sc === "startup"
        ? "ms-to-first-response(lower-better)"
        : "req/s";

for (const sc of SCENARIOS) {
  console.error(`== ${sc}`);
  let upstream: ChildProcess | undefined;
  let up = 0;
  if (["proxy", "cache", "gzip", "guard"].includes(sc)) {
    if (!NGINX) {
      console.error("  the proxy scenarios use nginx as their upstream: skipped");
      continue;
    }
    up = await freePort();
    const conf = nginxConf(up, "static");
    writeFileSync(
      conf,
      readFileSync(conf, "utf8").replace(`worker_processes ${WORKERS};`, "worker_processes 1;"),
    );
    upstream = start("upstream", "nginx", ["-c", conf]);
    await waitUp(`http://127.0.0.1:${up}/small.html`);
  }
  const rounds = LOWER_BETTER.has(sc) ? 1 : ROUNDS;
  for (let r = 0; r < rounds; r++) {
    // guard compares wharf with itself: the bare proxy stands where nginx would.
    if (sc === "guard") {
      await runSide("wharf", "proxy", up, true);
      best.set("nginx:guard", best.get("wharf:proxy") ?? 0);
      await runSide("wharf", "guard", up, true);
    } else {
      if (NGINX) await runSide("nginx", sc, up);
      await runSide("wharf", sc, up);
    }
  }
  if (upstream) await stop(upstream);
}

const rows: unknown[] = [];
console.log();
for (const sc of SCENARIOS) {
  const n = best.get(`nginx:${sc}`) ?? 0;
  const w = best.get(`wharf:${sc}`) ?? 0;
  const ratio = LOWER_BETTER.has(sc) ? (n > 0 && w > 0 ? n / w : 0) : n > 0 ? w / n : 0;
  const label = sc === "guard" ? "bare" : "nginx";
  console.log(
    `RESULT ${sc} ${label === "bare" ? "nginx" : "nginx"}=${n} wharf=${w} ratio=${ratio.toFixed(2)} ${unit(sc)}`,
  );
  rows.push({ scenario: sc, nginx: n, wharf: w, ratio: Number(ratio.toFixed(2)), unit: unit(sc) });
}
if (values.json) writeFileSync(values.json, JSON.stringify(rows));
