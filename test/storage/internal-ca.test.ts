import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { httpsGet } from "../helpers/http.ts";
import { startRedis } from "../helpers/redis.ts";
import { needs } from "../helpers/tools.ts";
import { makeTree, type Running, runConfig } from "../helpers/wharf.ts";

test(
  "the internal CA is one across instances on Redis: a client trusting one root reaches every instance",
  needs("redis-server"),
  async () => {
    const tree = makeTree({ "www/index.html": "internal\n" });
    const redis = await startRedis();
    const running: Running[] = [];
    const instance = async (name: string, shared = true) => {
      const w = await runConfig(
        tree.dir,
        name,
        (port) => `server:
  workers: 1
  admin: off
  acme: { data_dir: data-${name} }
  storage: ${shared ? `{ redis: { url: "${redis.url}", prefix: pki } }` : "null"}
sites:
  - hosts: [internal.test]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    tls: internal
    routes: [{ static: { root: www } }]
`,
      );
      running.push(w);
      return {
        port: w.port,
        root: () => readFileSync(join(tree.dir, `data-${name}`, "internal-ca/root.crt"), "utf8"),
      };
    };
    try {
      // "c" has run alone before: it made a CA of its own.
      const alone = await instance("c", false);
      const ownRoot = alone.root();
      await running.pop()!.stop();
      // Two instances start together: one root is made, not two.
      const [a, b] = await Promise.all([instance("a"), instance("b")]);
      assert.equal(a.root(), b.root(), "both hold the same root");
      for (const port of [a.port, b.port]) {
        const r = await httpsGet(port, "internal.test", "/", a.root());
        assert.equal(r.status, 200);
        assert.equal(r.body, "internal\n");
      }
      // A third instance with a CA of its own adopts the shared one (its own kept aside).
      const c = await instance("c");
      assert.notEqual(ownRoot, a.root());
      assert.equal(c.root(), a.root());
      assert.equal((await httpsGet(c.port, "internal.test", "/", a.root())).status, 200);
      assert.equal(
        readFileSync(join(tree.dir, "data-c/internal-ca/root.crt.replaced"), "utf8"),
        ownRoot,
        "its own root is kept aside",
      );
    } finally {
      await Promise.all(running.map((w) => w.stop()));
      await redis.stop();
      tree.cleanup();
    }
  },
);
