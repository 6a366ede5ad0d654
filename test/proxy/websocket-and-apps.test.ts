import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PYAPP } from "../helpers/appserver.ts";
import { raw, request } from "../helpers/http.ts";
import { alive, descendants } from "../helpers/processes.ts";
import { needs } from "../helpers/tools.ts";
import { eventually } from "../helpers/wait.ts";
import { freePort, makeTree, startWharf } from "../helpers/wharf.ts";
import { wsEchoServer } from "../helpers/ws-echo.ts";

test("WebSocket: upgrade tunnelled both ways, closes propagated", async () => {
  const upstream = wsEchoServer();
  const upPort = await freePort();
  await new Promise<void>((r) => upstream.listen(upPort, "127.0.0.1", r));
  const w = await startWharf([
    "proxy",
    "--to",
    `http://127.0.0.1:${upPort}`,
    "--listen",
    "127.0.0.1:{port}",
    "--workers",
    "1",
    "--quiet",
  ]);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${w.port}/chat`);
    const messages: string[] = [];
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve());
      ws.addEventListener("error", () => reject(new Error("websocket failed")));
    });
    const got = new Promise<void>((resolve) => {
      ws.addEventListener("message", (e) => {
        messages.push(String(e.data));
        if (messages.length === 2) resolve();
      });
    });
    ws.send("hello");
    ws.send("x".repeat(70_000).slice(0, 1000));
    await got;
    assert.deepEqual(messages, ["echo: hello", `echo: ${"x".repeat(1000)}`]);
    ws.close(1000, "bye");
    assert.equal(await closed, 1000);
    // A plain request on the same route still gets an ordinary answer.
    const plain = await request(w.base, "/");
    assert.equal(plain.body.toString(), "not a websocket\n");
    // The upstream saw the forwarding headers on the upgrade request.
    const head = await raw(
      w.port,
      "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      { timeoutMs: 500 },
    );
    assert.match(head.text, /^HTTP\/1.1 101 Switching Protocols\r\n/);
    assert.match(head.text, /X-Seen-Forwarded-For: 127.0.0.1\r\n/);
  } finally {
    await w.stop();
    upstream.close();
  }
});

test("WebSocket to a dead upstream → 502", async () => {
  const dead = await freePort();
  const w = await startWharf([
    "proxy",
    "--to",
    `http://127.0.0.1:${dead}`,
    "--listen",
    "127.0.0.1:{port}",
    "--workers",
    "1",
    "--quiet",
  ]);
  try {
    const r = await raw(
      w.port,
      "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert.match(r.text, /^HTTP\/1.1 502 /);
  } finally {
    await w.stop();
  }
});

test(
  "wharf serve DIR --app: static files first, the app for the rest; the app is restarted and stopped",
  needs("gunicorn", "python3:flask"),
  async () => {
    const tree = makeTree({ "static/style.css": "body{}\n" });
    let appPids: number[] = [];
    const w = await startWharf(
      [
        "serve",
        join(tree.dir, "static"),
        "--listen",
        "127.0.0.1:{port}",
        "--workers",
        "2",
        "--quiet",
        "--app",
        "gunicorn -b {socket} -w 1 app:app",
      ],
      { cwd: PYAPP },
    );
    try {
      const css = await request(w.base, "/style.css");
      assert.equal(css.body.toString(), "body{}\n");
      const app = await request(w.base, "/echo");
      assert.equal(app.status, 200);
      assert.equal(JSON.parse(app.body.toString()).method, "GET");
      const post = await request(w.base, "/style.css", { method: "POST" });
      assert.equal(post.status, 404, "non-GET on a file path goes to the app (Flask's 404)");
      assert.match(post.body.toString(), /Not Found/);

      const ready = /"msg":"app ready"[^\n]*"upstream":"unix:([^"]+)"/.exec(w.stderr());
      assert.ok(ready, "the app's socket is logged");
      const mine = () =>
        descendants(w.proc.pid!).filter((p) => p.args.includes(`gunicorn -b unix:${ready[1]}`));
      const gunicornMaster = mine()[0]!.pid;
      const mark = w.stderr().length;
      process.kill(gunicornMaster, "SIGKILL");
      await w.waitForLog("app exited; restarting", mark);
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        await new Promise((r) => setTimeout(r, 100));
        ok = (await request(w.base, "/echo")).status === 200;
      }
      assert.ok(ok, "the restarted app answers");
      assert.match(w.stderr(), /"msg":"app output".*Booting worker/, "the app's output reaches the log");
      appPids = mine().map((p) => p.pid);
      assert.ok(appPids.length >= 2, "the restarted app's master and worker run under wharf");
    } finally {
      assert.equal(await w.stop(), 0);
      tree.cleanup();
    }
    assert.deepEqual(
      appPids.filter((pid) => alive(pid)),
      [],
      "the app was stopped with wharf",
    );
  },
);

test("proxy config with app: uwsgi protocol on a socket", needs("uwsgi", "python3:flask"), async () => {
  const tree = makeTree({});
  const port = await freePort();
  writeFileSync(
    join(tree.dir, "wharf.yaml"),
    `server: { workers: 1 }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy:
          app:
            command: uwsgi --plugin python3 --socket {socket_path} --wsgi-file app.py --callable app --die-on-term --disable-logging
            cwd: ${PYAPP}
            protocol: uwsgi
`,
  );
  const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  try {
    const r = await request(w.base, "/echo/x?y=1");
    assert.equal(r.status, 200);
    const e = JSON.parse(r.body.toString());
    assert.equal(e.path_info, "/echo/x");
    assert.equal(e.query, "y=1");
  } finally {
    await w.stop();
    tree.cleanup();
  }
});

test(
  "wharf proxy --to a,b and the body limit (413) on chunked uploads",
  needs("gunicorn", "python3:flask"),
  async () => {
    const { gunicorn } = await import("../helpers/appserver.ts");
    const [pa, pb] = [await freePort(), await freePort()];
    const [a, b] = await Promise.all([
      gunicorn({ port: pa }, { APP_NAME: "a" }, 1),
      gunicorn({ port: pb }, { APP_NAME: "b" }, 1),
    ]);
    const w = await startWharf([
      "proxy",
      "--to",
      `http://127.0.0.1:${pa},http://127.0.0.1:${pb}`,
      "--listen",
      "127.0.0.1:{port}",
      "--workers",
      "1",
      "--quiet",
    ]);
    try {
      const names = new Set<string>();
      for (let i = 0; i < 4; i++)
        names.add(JSON.parse((await request(w.base, "/echo")).body.toString()).name);
      assert.deepEqual([...names].sort(), ["a", "b"]);
      const big = "x".repeat(1024 * 1024);
      const chunks = Array.from({ length: 12 }, () => `${(big.length).toString(16)}\r\n${big}\r\n`);
      const r = await raw(w.port, [
        "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        ...chunks,
        "0\r\n\r\n",
      ]);
      assert.match(r.text, /^HTTP\/1.1 413 /);
      assert.ok(!r.timedOut, "the connection is closed after the 413 (the rest of the body is not read)");
    } finally {
      await w.stop();
      await Promise.all([a.stop(), b.stop()]);
    }
  },
);

test("on SIGTERM a WebSocket keeps working for shutdown_timeout, then is closed and wharf exits", async () => {
  const upstream = wsEchoServer();
  const upPort = await freePort();
  await new Promise<void>((r) => upstream.listen(upPort, "127.0.0.1", r));
  const tree = makeTree({});
  const port = await freePort();
  writeFileSync(
    join(tree.dir, "wharf.yaml"),
    `server: { workers: 1, shutdown_timeout: 3s }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes: [ { proxy: { to: ["http://127.0.0.1:${upPort}"] } } ]
`,
  );
  const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
    const messages: string[] = [];
    ws.addEventListener("message", (e) => messages.push(String(e.data)));
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", () => resolve(Date.now())));
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve());
      ws.addEventListener("error", () => reject(new Error("websocket failed")));
    });
    const t0 = Date.now();
    const exited = w.stop("SIGTERM");
    await new Promise((r) => setTimeout(r, 1500));
    ws.send("still there?");
    await eventually(() => messages.includes("echo: still there?"), 2000, "an echo during the drain");
    // New connections are refused while it drains.
    await assert.rejects(request(`http://127.0.0.1:${port}`, "/"));
    const closedAt = await closed;
    assert.ok(closedAt - t0 >= 2500, `closed after ${closedAt - t0} ms, before shutdown_timeout`);
    assert.ok(closedAt - t0 < 8000, `closed after ${closedAt - t0} ms`);
    assert.equal(await exited, 0);
  } finally {
    await w.stop();
    upstream.close();
    tree.cleanup();
  }
});
