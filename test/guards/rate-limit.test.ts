import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { test } from "node:test";
import { withConfig } from "../helpers/wharf.ts";

/** One request on a new connection (so the kernel spreads them over the workers); its status. */
function hit(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, agent: false, headers: { Connection: "close" } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", () => resolve(0));
    req.end();
  });
}

test("one rate limit for the instance: across 2 workers, what passes stays within rate × time + burst", () =>
  withConfig(
    (port) => `server: { workers: 2 }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - match: { path: /limited }
        rate_limit: { key: "everyone", rate: 20/s, burst: 5 }
      - respond: { body: "ok" }
`,
    async ({ port }) => {
      const counts = new Map<number, number>();
      const t0 = performance.now();
      const deadline = t0 + 3000;
      // 8 clients in parallel, as fast as they can, for 3 s.
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (performance.now() < deadline) {
            const status = await hit(port, "/limited");
            counts.set(status, (counts.get(status) ?? 0) + 1);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const passed = counts.get(200) ?? 0;
      const allowed = 20 * seconds + 5;
      assert.ok(
        (counts.get(429) ?? 0) > passed,
        `the load was over the limit: ${JSON.stringify([...counts])}`,
      );
      assert.ok(
        passed <= allowed,
        `${passed} passed in ${seconds.toFixed(2)} s; at most ${allowed.toFixed(1)}`,
      );
      assert.ok(
        passed >= allowed * 0.85,
        `${passed} passed; at least 85 % of ${allowed.toFixed(1)} expected`,
      );
      assert.deepEqual([...counts.keys()].sort(), [200, 429]);
    },
  ));

test("delay: requests over the rate wait their turn within the burst instead of a 429", () =>
  withConfig(
    (port) => `server: { workers: 1 }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - rate_limit: { key: "{client_ip}", rate: 10/s, burst: 3, delay: true }
      - respond: { body: "ok" }
`,
    async ({ port }) => {
      const t0 = performance.now();
      const statuses = await Promise.all(Array.from({ length: 6 }, () => hit(port, "/")));
      const took = performance.now() - t0;
      // One at once, three queued (100, 200, 300 ms), two over the queue: 429.
      assert.deepEqual(statuses.sort(), [200, 200, 200, 200, 429, 429]);
      assert.ok(took >= 250, `the queued ones waited: ${took.toFixed(0)} ms`);
    },
  ));

test("dry_run lets everything through", () =>
  withConfig(
    (port) => `server: { workers: 1 }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - rate_limit: { rate: 1/h, dry_run: true }
      - respond: { body: "ok" }
`,
    async (w) => {
      for (let i = 0; i < 4; i++) assert.equal(await hit(w.port, "/"), 200);
      await w.waitForLog("rate limit would refuse");
    },
  ));
