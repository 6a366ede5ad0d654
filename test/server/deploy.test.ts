import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import { PYAPP } from "../helpers/appserver.ts";
import { request } from "../helpers/http.ts";
import { alive } from "../helpers/processes.ts";
import { needs } from "../helpers/tools.ts";
import { eventually } from "../helpers/wait.ts";
import { freePort, makeTree, runWharf, startWharf } from "../helpers/wharf.ts";

/** Steady traffic through the app: `clients` loops of GET and POST over keep-alive connections. */
function steadyLoad(base: string, clients: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const failures: string[] = [];
  let done = 0;
  let running = true;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const post = i % 2 === 1;
      const body = post ? Buffer.alloc(2048, 120) : undefined;
      const req = httpRequest(
        `${base}/echo`,
        {
          agent,
          method: post ? "POST" : "GET",
          headers: post ? { "Content-Type": "application/octet-stream" } : {},
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () => {
            if (res.statusCode !== 200) failures.push(`${res.statusCode} ${Buffer.concat(parts)}`);
            else if (post && JSON.parse(Buffer.concat(parts).toString()).body_size !== 2048)
              failures.push("POST body lost");
            done++;
            resolve();
          });
          res.on("error", (err) => {
            failures.push(String(err));
            resolve();
          });
        },
      );
      req.on("error", (err) => {
        failures.push(String(err));
        resolve();
      });
      req.end(body);
    });
  const loops = Array.from({ length: clients }, async (_, i) => {
    while (running) await one(i);
  });
  return {
    failures,
    done: () => done,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

const whoami = async (base: string) =>
  JSON.parse((await request(base, "/whoami")).body.toString()) as { name: string; master: number };

test(
  "zero-downtime app deploys: wharf deploy, a changed environment on SIGHUP, and a code change under watch cost no request",
  needs("gunicorn"),
  async () => {
    const tree = makeTree({ "code/views.py": "# v1\n" });
    const port = await freePort();
    const file = join(tree.dir, "wharf.yaml");
    const yaml = (name: string) => `server: { workers: 2 }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy:
          app:
            command: "gunicorn -b {socket} -w 2 --graceful-timeout 10 app:app"
            cwd: ${PYAPP}
            env: { APP_NAME: ${name} }
            ready_path: /health
            watch: [./code]
`;
    writeFileSync(file, yaml("blue"));
    const env = { XDG_RUNTIME_DIR: tree.dir };
    const w = await startWharf(["run", "--config", file], { port, env });
    const load = steadyLoad(w.base, 6);
    try {
      const first = await whoami(w.base);
      assert.equal(first.name, "blue");
      await eventually(() => load.done() > 50);

      // A request in flight at the old app when it is replaced finishes there.
      const slow = request(w.base, "/slow?s=2");
      await new Promise((r) => setTimeout(r, 300));
      const deployed = await runWharf(["deploy", "--config", file], { env });
      assert.equal(deployed.code, 0, deployed.stderr);
      const second = await whoami(w.base);
      assert.notEqual(second.master, first.master, "a new app server answers");
      assert.equal(second.name, "blue");
      const s = await slow;
      assert.equal(s.status, 200);
      assert.equal(s.body.toString(), "slow\n");
      await eventually(() => !alive(first.master), 15_000);

      // A changed environment: SIGHUP deploys it blue-green.
      const mark = load.done();
      writeFileSync(file, yaml("green"));
      w.proc.kill("SIGHUP");
      await eventually(async () => (await whoami(w.base)).name === "green", 20_000);
      const third = await whoami(w.base);
      await eventually(() => !alive(second.master), 15_000);
      assert.ok(load.done() > mark, "traffic flowed through the switch");

      // A change in a watched path deploys by itself.
      mkdirSync(join(tree.dir, "code/pkg"), { recursive: true });
      writeFileSync(join(tree.dir, "code/pkg/models.py"), "# v2\n");
      await eventually(async () => (await whoami(w.base)).master !== third.master, 20_000);
      assert.equal((await whoami(w.base)).name, "green");
      await eventually(() => !alive(third.master), 15_000);
    } finally {
      await load.stop();
      await w.stop();
      tree.cleanup();
    }
    assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.done()} requests failed`);
    assert.ok(load.done() > 200, `only ${load.done()} requests ran`);
  },
);
