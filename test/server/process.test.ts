import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import { request } from "../helpers/http.ts";
import { freePort, makeTree, runWharf, startWharf } from "../helpers/wharf.ts";

const siteYaml = (port: number, body: string, extra = "") => `server: { workers: 2, shutdown_timeout: 5s }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - match: { path: /hello }
        respond: { body: "${body}" }
      - static: { root: www }
${extra}`;

function childPids(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)])
      .toString()
      .trim()
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Starts a download and reads it slowly; resolves with the byte count when it ends. */
function slowDownload(url: string): {
  started: Promise<void>;
  done: Promise<{ status: number; bytes: number; complete: boolean }>;
} {
  let markStarted: () => void = () => {};
  const started = new Promise<void>((r) => {
    markStarted = r;
  });
  const done = new Promise<{ status: number; bytes: number; complete: boolean }>((res, rej) => {
    get(url, { agent: false }, (r) => {
      let bytes = 0;
      markStarted();
      r.on("data", (c: Buffer) => {
        bytes += c.length;
        r.pause();
        setTimeout(() => r.resume(), 5);
      });
      r.on("end", () => res({ status: r.statusCode ?? 0, bytes, complete: r.complete }));
      r.on("error", rej);
      r.on("aborted", () => res({ status: r.statusCode ?? 0, bytes, complete: false }));
    }).on("error", rej);
  });
  return { started, done };
}

test("SIGHUP reloads; a bad config is refused and the old one keeps serving; in-flight requests finish", async () => {
  const big = Buffer.alloc(24 * 1024 * 1024, 7);
  const tree = makeTree({ "www/big.bin": big });
  const port = await freePort();
  const file = join(tree.dir, "wharf.yaml");
  writeFileSync(file, siteYaml(port, "one"));
  const w = await startWharf(["run", "--config", file], { port });
  try {
    assert.equal((await request(w.base, "/hello")).body.toString(), "one");
    const dl = slowDownload(`${w.base}/big.bin`);
    await dl.started;

    writeFileSync(file, siteYaml(port, "two"));
    let mark = w.stderr().length;
    w.proc.kill("SIGHUP");
    await w.waitForLog("config reloaded", mark);
    assert.equal((await request(w.base, "/hello")).body.toString(), "two");

    writeFileSync(file, `${siteYaml(port, "three")}    bogus: true\n`);
    mark = w.stderr().length;
    w.proc.kill("SIGHUP");
    const refused = await w.waitForLog("reload refused: the running config stays", mark);
    assert.match(String(refused.error), /wharf\.yaml:\d+:\d+: .*bogus: unknown key/);
    assert.equal((await request(w.base, "/hello")).body.toString(), "two");

    const result = await dl.done;
    assert.equal(result.status, 200);
    assert.equal(result.bytes, big.length, "the in-flight download finished whole across reloads");
  } finally {
    await w.stop();
    tree.cleanup();
  }
});

test("a reload that adds a proxy route loads the proxy handler the static-only start left out", async () => {
  const { createServer } = await import("node:http");
  const upstream = createServer((req, res) => res.end(`upstream saw ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const upPort = (upstream.address() as { port: number }).port;
  const tree = makeTree({ "www/a.txt": "a" });
  const port = await freePort();
  const file = join(tree.dir, "wharf.yaml");
  writeFileSync(file, siteYaml(port, "one"));
  const w = await startWharf(["run", "--config", file], { port });
  try {
    assert.equal((await request(w.base, "/api/x")).status, 404);
    const proxied = `      - match: { path: /api/* }
        proxy: { to: "http://127.0.0.1:${upPort}" }
`;
    writeFileSync(
      file,
      siteYaml(port, "one").replace(
        "      - static: { root: www }\n",
        `${proxied}      - static: { root: www }\n`,
      ),
    );
    const mark = w.stderr().length;
    w.proc.kill("SIGHUP");
    await w.waitForLog("config reloaded", mark);
    const r = await request(w.base, "/api/x");
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "upstream saw /api/x");
    assert.equal((await request(w.base, "/a.txt")).body.toString(), "a");
  } finally {
    await w.stop();
    upstream.close();
    tree.cleanup();
  }
});

test("a worker that dies is replaced", async () => {
  const tree = makeTree({ "www/a.txt": "a" });
  const port = await freePort();
  writeFileSync(join(tree.dir, "wharf.yaml"), siteYaml(port, "hi"));
  const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  try {
    const before = childPids(w.proc.pid!);
    assert.equal(before.length, 2);
    const mark = w.stderr().length;
    process.kill(before[0]!, "SIGKILL");
    await w.waitForLog("worker exited; starting a new one", mark);
    for (let i = 0; i < 100 && childPids(w.proc.pid!).length < 2; i++)
      await new Promise((r) => setTimeout(r, 50));
    const afterPids = childPids(w.proc.pid!);
    assert.equal(afterPids.length, 2);
    assert.ok(!afterPids.includes(before[0]!));
    for (let i = 0; i < 10; i++) assert.equal((await request(w.base, "/hello")).status, 200);
  } finally {
    await w.stop();
    tree.cleanup();
  }
});

test("start-up: worker 1 serves first, the others join before `listening`; a refused config leaves no worker", async () => {
  const tree = makeTree({ "www/a.txt": "a" });
  const w = await startWharf([
    "serve",
    join(tree.dir, "www"),
    "--listen",
    "127.0.0.1:{port}",
    "--workers",
    "3",
  ]);
  try {
    const listening = await w.waitForLog("listening");
    assert.equal(listening.workers, 3);
    assert.equal(childPids(w.proc.pid!).length, 3);
    for (let i = 0; i < 12; i++) assert.equal((await request(w.base, "/a.txt")).body.toString(), "a");
  } finally {
    await w.stop();
    tree.cleanup();
  }
  // Worker 1 is forked before the config is built; when the config is refused it must go too.
  const marker = `/no/such/dir-${process.pid}-${Date.now()}`;
  const r = await runWharf(["serve", marker]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /must be a directory/);
  let left: string[] = [];
  for (let i = 0; i < 40; i++) {
    try {
      left = execFileSync("pgrep", ["-f", marker]).toString().trim().split("\n");
    } catch {
      left = [];
      break;
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.deepEqual(left, []);
});

test("SIGTERM drains: the in-flight request completes, then exit 0", async () => {
  const big = Buffer.alloc(16 * 1024 * 1024, 1);
  const tree = makeTree({ "www/big.bin": big });
  const w = await startWharf([
    "serve",
    join(tree.dir, "www"),
    "--listen",
    "127.0.0.1:{port}",
    "--workers",
    "1",
    "--quiet",
  ]);
  try {
    const dl = slowDownload(`${w.base}/big.bin`);
    await dl.started;
    const code = w.stop("SIGTERM");
    const result = await dl.done;
    assert.equal(result.bytes, big.length);
    assert.ok(result.complete);
    assert.equal(await code, 0);
  } finally {
    await w.stop();
    tree.cleanup();
  }
});

test("wharf validate prints ok or file:line:col errors", async () => {
  const tree = makeTree({ "www/a.txt": "a" });
  try {
    writeFileSync(join(tree.dir, "good.yaml"), "sites:\n  - routes:\n      - static: { root: www }\n");
    const ok = await runWharf(["validate", "--config", join(tree.dir, "good.yaml")]);
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, "ok\n");
    writeFileSync(
      join(tree.dir, "bad.yaml"),
      "sites:\n  - routes:\n      - static: { root: nowhere }\n    listen: [nope]\n",
    );
    const bad = await runWharf(["validate", "--config", join(tree.dir, "bad.yaml")]);
    assert.equal(bad.code, 1);
    const lines = bad.stderr.trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(
      lines[0]!,
      /^wharf: .*bad\.yaml:3:25: sites\[0\]\.routes\[0\]\.static\.root: must be a directory/,
    );
    assert.match(lines[1]!, /^wharf: .*bad\.yaml:4:14: sites\[0\]\.listen\[0\]: must be an address/);
    assert.doesNotMatch(bad.stderr, /at .*\.ts:\d+/, "no stack trace");
    const missing = await runWharf(["validate", "--config", join(tree.dir, "none.yaml")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^wharf: .*none\.yaml: cannot read/);
  } finally {
    tree.cleanup();
  }
});

test("CLI: --version, --help, per-command help, usage errors", async () => {
  const v = await runWharf(["--version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^wharf \d+\.\d+\.\d+\n$/);
  const h = await runWharf(["--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /wharf serve/);
  for (const cmd of ["serve", "run", "validate"]) {
    const r = await runWharf([cmd, "--help"]);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, new RegExp(`^Usage: wharf ${cmd}`));
  }
  const unknown = await runWharf(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, 'wharf: unknown command "frobnicate" (see wharf --help)\n');
  const flag = await runWharf(["serve", "--bogus"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^wharf: Unknown option '--bogus'\n$/);
  const workers = await runWharf(["serve", ".", "--workers", "zero"]);
  assert.equal(workers.code, 2);
  assert.match(workers.stderr, /--workers must be a whole number/);
  const nodir = await runWharf(["serve", "/definitely/not/here"]);
  assert.equal(nodir.code, 1);
  assert.equal(nodir.stderr.split("\n").length, 2, nodir.stderr);
  assert.match(nodir.stderr, /must be a directory/);
});

test("a port already in use is a one-line error and a non-zero exit", async () => {
  const { createServer } = await import("node:net");
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
  const port = (holder.address() as { port: number }).port;
  try {
    const r = await runWharf(["serve", ".", "--listen", `127.0.0.1:${port}`, "--workers", "1", "--quiet"]);
    assert.equal(r.code, 1);
    // One plain line, no JSON log lines around it, naming who holds the port.
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^wharf: cannot start: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use by node \\(pid ${process.pid}\\)`,
      ),
    );
  } finally {
    holder.close();
  }
});

test("the HTTP/1.1 engine: wharf's own by default, node:http by config or WHARF_ENGINE", async () => {
  const tree = makeTree({ "www/index.html": "x" });
  try {
    for (const [env, config, want] of [
      [undefined, "", "wharf"],
      [undefined, "  engine: node\n", "node"],
      ["node", "", "node"],
      ["wharf", "  engine: node\n", "wharf"],
    ] as const) {
      const port = await freePort();
      writeFileSync(
        join(tree.dir, "wharf.yaml"),
        `server:\n  workers: 1\n${config}sites:\n  - listen: ["127.0.0.1:${port}"]\n    access_log: off\n    routes: [{ static: { root: www } }]\n`,
      );
      const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], {
        port,
        env: { WHARF_ENGINE: env ?? "" },
      });
      try {
        const line = await w.waitForLog("listening");
        assert.equal(line.engine, want, `WHARF_ENGINE=${env ?? ""} with "${config.trim()}"`);
        assert.equal((await request(w.base, "/index.html")).status, 200);
      } finally {
        await w.stop();
      }
    }
    const bad = await runWharf(["validate", "--config", join(tree.dir, "wharf.yaml")], {
      env: { WHARF_ENGINE: "fast" },
    });
    assert.equal(bad.code, 0, "validate does not start a server, so it ignores WHARF_ENGINE");
    const refused = await runWharf(["serve", tree.dir, "--listen", "127.0.0.1:0"], {
      env: { WHARF_ENGINE: "fast" },
    });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /WHARF_ENGINE must be "wharf" or "node"/);
  } finally {
    tree.cleanup();
  }
});
