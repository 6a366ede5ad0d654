import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { makeCert } from "../helpers/certs.ts";
import { startHaproxy } from "../helpers/haproxy.ts";
import { getFrom } from "../helpers/http.ts";
import { type NodeUpstream, nodeUpstream } from "../helpers/node-upstream.ts";
import { type Redis, startRedis } from "../helpers/redis.ts";
import { handshake } from "../helpers/tls-session.ts";
import { needs } from "../helpers/tools.ts";
import { freePort, makeTree, type Running, runWharf, startWharf } from "../helpers/wharf.ts";

describe("TLS session tickets across instances on one Redis", needs("redis-server"), () => {
  let redis: Redis;
  let tree: ReturnType<typeof makeTree>;
  const running: Running[] = [];
  before(async () => {
    redis = await startRedis();
    tree = makeTree({ "www/index.html": "x" });
    makeCert(tree.dir, "c", ["localhost", "127.0.0.1"]);
  });
  after(async () => {
    await Promise.all(running.map((w) => w.stop()));
    await redis?.stop();
    tree?.cleanup();
  });

  const instance = async (name: string, storage: boolean) => {
    const port = await freePort();
    const file = join(tree.dir, `${name}.yaml`);
    writeFileSync(
      file,
      `server:
  workers: 2
  admin: off
  ${storage ? `storage: { redis: { url: "${redis.url}", prefix: tickets } }` : ""}
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    tls: { cert: c.crt, key: c.key }
    routes: [{ static: { root: www } }]
`,
    );
    const w = await startWharf(["run", "--config", file], { port });
    running.push(w);
    return port;
  };

  test("a session from one instance resumes on the other; not without the shared storage", async () => {
    const ca = readFileSync(join(tree.dir, "c.crt"));
    const [a, b, alone] = [
      await instance("a", true),
      await instance("b", true),
      await instance("alone", false),
    ];
    const first = await handshake(a, ca);
    assert.ok(first.ticket, "a ticket from instance a");
    // New connections to b land on either of its workers: each must take a's ticket.
    for (let i = 0; i < 6; i++) {
      const r = await handshake(b, ca, first.ticket);
      assert.equal(r.reused, true, `resumed on instance b (attempt ${i})`);
    }
    const r = await handshake(alone, ca, first.ticket);
    assert.equal(r.reused, false, "an instance without the storage has keys of its own");
  });
});

describe(
  "two instances behind HAProxy (PROXY protocol v2) on one Redis",
  needs("redis-server", "haproxy"),
  () => {
    let redis: Redis;
    let app: NodeUpstream;
    let tree: ReturnType<typeof makeTree>;
    let haproxy: ChildProcess;
    let front: number;
    const instances: Running[] = [];

    before(async () => {
      redis = await startRedis();
      app = await nodeUpstream("app");
      tree = makeTree({});
      front = await freePort();
      const ports = [await freePort(), await freePort()];
      for (const [i, port] of ports.entries()) {
        const file = join(tree.dir, `w${i}.yaml`);
        writeFileSync(
          file,
          `server:
  workers: 2
  trusted_proxies: [127.0.0.1]
  storage: { redis: { url: "${redis.url}", prefix: lb } }
sites:
  - listen: [{ address: "127.0.0.1:${port}", proxy_protocol: true }]
    access_log: { format: combined, output: stdout }
    routes:
      - match: { path: /metrics }
        metrics: {}
      - match: { path: /limited }
        rate_limit: { rate: 10/s, burst: 10 }
      - proxy: { to: ["http://127.0.0.1:${app.port}"] }
`,
        );
        instances.push(await startWharf(["run", "--config", file], { port }));
      }

      haproxy = await startHaproxy(
        tree.dir,
        `defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend front
  bind 127.0.0.1:${front}
  default_backend wharf
backend wharf
  balance roundrobin
  server w0 127.0.0.1:${ports[0]} send-proxy-v2
  server w1 127.0.0.1:${ports[1]} send-proxy-v2
`,
        front,
      );
    });
    after(async () => {
      haproxy?.kill("SIGTERM");
      await Promise.all(instances.map((w) => w.stop()));
      await app?.close();
      await redis?.stop();
      tree?.cleanup();
    });

    test("the client's address reaches the app and both instances' access logs", async () => {
      const marks = instances.map((w) => w.stdout().length);
      for (let i = 0; i < 4; i++) {
        const r = await getFrom("127.0.0.7", front, `/echo/lb${i}`);
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.body).headers["X-Forwarded-For"], "127.0.0.7");
      }
      for (const [i, w] of instances.entries())
        assert.match(
          await w.waitForStdout(/GET \/echo\/lb/, marks[i]),
          /^127\.0\.0\.7 - - .*GET \/echo\/lb/m,
        );
    });

    test("the rate limit holds across both instances (rate × time + burst)", async () => {
      const marks = instances.map((w) => w.stdout().length);
      const t0 = Date.now();
      const seconds = 3;
      let ok = 0;
      let refused = 0;
      const worker = async () => {
        while (Date.now() - t0 < seconds * 1000) {
          const r = await getFrom("127.0.0.8", front, "/limited/echo");
          if (r.status === 200) ok++;
          else if (r.status === 429) refused++;
          else assert.fail(`status ${r.status}`);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      const elapsed = (Date.now() - t0) / 1000;
      const allowed = 10 * elapsed + 10;
      assert.ok(refused > ok, `the client went well over the rate (${ok} let through, ${refused} refused)`);
      // Per instance, twice as many would pass; shared, within a few percent of the limit.
      assert.ok(
        ok <= allowed * 1.1 + 1,
        `${ok} let through in ${elapsed.toFixed(2)} s; at most ${allowed} expected`,
      );
      assert.ok(
        ok >= allowed * 0.9,
        `${ok} let through in ${elapsed.toFixed(2)} s; about ${allowed} expected`,
      );
      for (const [i, w] of instances.entries())
        assert.match(w.stdout().slice(marks[i]), /" 200 /, `instance ${i} let some through`);
    });
    test("a Redis that hangs (connections open, no answers) does not hold requests up", async () => {
      redis.freeze(true);
      try {
        const t0 = Date.now();
        for (let i = 0; i < 3; i++)
          assert.equal((await getFrom("127.0.0.10", front, "/limited/echo")).status, 200);
        assert.ok(Date.now() - t0 < 3000, `three requests took ${Date.now() - t0} ms`);
      } finally {
        redis.freeze(false);
      }
    });

    test("Redis away: the limits count per instance, and the metrics say so; back, shared again", async () => {
      const mark = instances.map((w) => w.stderr().length);
      await redis.kill();
      await Promise.all(
        instances.map((w, i) =>
          w.waitForLog(
            "storage unreachable: serving goes on from what this instance holds; orders retry, rate limits count per instance",
            mark[i],
          ),
        ),
      );
      for (let i = 0; i < 4; i++)
        assert.equal((await getFrom("127.0.0.9", front, "/limited/echo")).status, 200);
      const metrics = (await getFrom("127.0.0.1", front, "/metrics")).body;
      assert.match(metrics, /^wharf_storage_up 0$/m);
      assert.match(metrics, /^wharf_ratelimit_local_total [1-9]/m);
      const status = await runWharf(["status", "--config", join(tree.dir, "w0.yaml")]);
      assert.match(
        status.stdout,
        /^storage: redis redis:\/\/127\.0\.0\.1:\d+\/0, UNREACHABLE, 1 outage\(s\)/m,
      );
      await redis.start();
      await Promise.all(
        instances.map((w, i) =>
          w.waitForLog("storage reachable again: shared state resumes", mark[i], 20_000),
        ),
      );
      assert.match((await getFrom("127.0.0.1", front, "/metrics")).body, /^wharf_storage_up 1$/m);
      const back = await runWharf(["status", "--config", join(tree.dir, "w0.yaml")]);
      assert.match(back.stdout, /^storage: redis .*, reachable, 1 outage\(s\) since start$/m);
    });
  },
);
