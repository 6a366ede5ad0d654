import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { request } from "../helpers/http.ts";
import { alive, descendants } from "../helpers/processes.ts";
import { needs } from "../helpers/tools.ts";
import { eventually } from "../helpers/wait.ts";
import { freePort, makeTree, ROOT, runWharf, startWharf } from "../helpers/wharf.ts";

const ECHO_APP = join(ROOT, "test/fixtures/apps/echo-app.mjs");
/** The app itself among wharf's processes (the workers' command lines name it too). */
const isApp = (args: string) => /^node \S*echo-app\.mjs/.test(args);

test("an app command that does not exist is said at once (exit 127), not after a 30 s wait", async () => {
  const t0 = Date.now();
  const r = await runWharf([
    "proxy",
    "--app",
    "no-such-app-server-xyz -b {socket} app:app",
    "--listen",
    "127.0.0.1:0",
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the app's command was not found: no-such-app-server-xyz \(exit 127\)/);
  assert.match(r.stderr, /not found/);
  assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
});

test("an app that answers 5xx on its ready path is not ready; the error shows what it printed", async () => {
  const tree = makeTree({});
  const port = await freePort();
  writeFileSync(
    join(tree.dir, "wharf.yaml"),
    `sites:
  - listen: ["127.0.0.1:${port}"]
    routes:
      - proxy:
          app:
            command: "sh -c 'echo booting the broken app >&2; exec node ${ECHO_APP} unix:{socket_path}'"
            ready_path: /fail
            start_timeout: 2s
`,
  );
  const r = await runWharf(["run", "--config", join(tree.dir, "wharf.yaml")]);
  tree.cleanup();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the app did not answer within 2000 ms/);
  assert.match(r.stderr, /booting the broken app/, "its last output is part of the message");
});

test(
  "gunicorn that binds and then cannot import its app: a crash loop, reported with its traceback",
  needs("gunicorn"),
  async () => {
    const r = await runWharf([
      "proxy",
      "--app",
      "gunicorn -b {socket} no_such_module:app",
      "--listen",
      "127.0.0.1:0",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exited 3 times before it was ready|did not answer/);
    assert.match(r.stderr, /No module named 'no_such_module'/);
  },
);

test("while the app restarts, requests wait for it instead of getting 502", async () => {
  const w = await startWharf([
    "proxy",
    "--app",
    `node ${ECHO_APP} unix:{socket_path}`,
    "--listen",
    "127.0.0.1:{port}",
    "--workers",
    "1",
    "--quiet",
  ]);
  try {
    assert.equal((await request(w.base, "/before")).status, 200);
    const app = descendants(w.proc.pid!).find((p) => isApp(p.args));
    assert.ok(app);
    const mark = w.stderr().length;
    process.kill(app.pid, "SIGKILL");
    await w.waitForLog("app exited; restarting", mark);
    const during = await request(w.base, "/during");
    assert.equal(during.status, 200, during.body.toString());
    assert.equal(JSON.parse(during.body.toString()).url, "/during");
  } finally {
    assert.equal(await w.stop(), 0);
  }
});

test("an app never outlives wharf, even when wharf is killed with SIGKILL", async () => {
  const w = await startWharf([
    "proxy",
    "--app",
    `node ${ECHO_APP} unix:{socket_path}`,
    "--listen",
    "127.0.0.1:{port}",
    "--workers",
    "1",
    "--quiet",
  ]);
  const tree = descendants(w.proc.pid!);
  const app = tree.find((p) => isApp(p.args));
  assert.ok(app, "the app runs under wharf");
  await w.stop("SIGKILL");
  await eventually(() => !alive(app.pid), 5000, "the app's exit");
  // The workers went too (a cluster worker stops when its primary's channel closes).
  await eventually(() => tree.every((p) => !alive(p.pid)), 5000, "every process of wharf's tree gone");
});
