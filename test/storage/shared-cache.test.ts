import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { request } from "../helpers/http.ts";
import { startRedis } from "../helpers/redis.ts";
import { needs } from "../helpers/tools.ts";
import { eventually } from "../helpers/wait.ts";
import { makeTree, type Running, runConfig } from "../helpers/wharf.ts";

const HOST = "www.example.test";

test(
  "cache.shared on Redis: what one instance fetched, another serves; an invalidation on one reaches the other",
  needs("redis-server"),
  async () => {
    let fetched = 0;
    const upstream = createServer((req, res) => {
      if (req.method === "GET") fetched++;
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "public, max-age=300" });
      res.end(req.method === "GET" ? `version ${fetched}\n` : "changed\n");
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    const tree = makeTree({ "www/index.html": "x\n" });
    const redis = await startRedis();
    const running: Running[] = [];
    const instance = async (name: string) => {
      const w = await runConfig(
        tree.dir,
        name,
        (port) => `server:
  workers: 2
  admin: off
  storage: { redis: { url: "${redis.url}", prefix: web } }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy: { to: "http://127.0.0.1:${upstreamPort}", cache: { shared: true } }
`,
      );
      running.push(w);
      return w.base;
    };
    // Behind a balancer, every instance sees the site's own name.
    const get = (base: string) => request(base, "/page", { headers: { host: HOST } });
    try {
      const [a, b] = await Promise.all([instance("a"), instance("b")]);
      const first = await get(a);
      assert.equal(first.body.toString(), "version 1\n");
      assert.match(String(first.headers["cache-status"]), /fwd=miss.*stored/);
      // a stores its copy in Redis as its response ends: a moment later, b finds it there.
      await new Promise((r) => setTimeout(r, 200));
      const there = await get(b);
      assert.equal(there.body.toString(), "version 1\n", "b serves what a fetched");
      assert.match(String(there.headers["cache-status"]), /hit/);
      assert.equal(fetched, 1, "the upstream was asked once");
      // A POST through a changes the page (RFC 9111 §4.4): b forgets its copy too.
      assert.equal(
        (await request(a, "/page", { method: "POST", headers: { host: HOST, "content-length": "0" } }))
          .status,
        200,
      );
      const after = await eventually(async () => {
        const r = await get(b);
        return r.body.toString() === "version 2\n" ? r : undefined;
      }, 5_000);
      assert.match(String(after.headers["cache-status"]), /fwd=miss/);
      assert.equal((await get(a)).body.toString(), "version 2\n", "a serves b's new copy");
      assert.equal(fetched, 2);
    } finally {
      await Promise.all(running.map((w) => w.stop()));
      await redis.stop();
      upstream.close();
      tree.cleanup();
    }
  },
);
