import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { join } from "node:path";
import { test } from "node:test";
import { makeCert } from "../helpers/certs.ts";
import { request } from "../helpers/http.ts";
import { eventually } from "../helpers/wait.ts";
import { freePort, makeTree, startWharf } from "../helpers/wharf.ts";

test("https upstreams are verified (custom CA, SNI); active health checks take a failing upstream out", async () => {
  const tree = makeTree({});
  const cert = makeCert(tree.dir, "up", ["app.internal"]);
  const secure = createHttpsServer(
    { cert: readFileSync(cert.cert), key: readFileSync(cert.key) },
    (req, res) => {
      res.end(`secure ${(req.socket as import("node:tls").TLSSocket).servername} ${req.url}`);
    },
  );
  const sick = createServer((req, res) => {
    res.statusCode = req.url === "/health" ? 500 : 200;
    res.end("sick");
  });
  const well = createServer((_req, res) => res.end("well"));
  const [sp, kp, wp, port] = [await freePort(), await freePort(), await freePort(), await freePort()];
  await Promise.all([
    new Promise<void>((r) => secure.listen(sp, "127.0.0.1", r)),
    new Promise<void>((r) => sick.listen(kp, "127.0.0.1", r)),
    new Promise<void>((r) => well.listen(wp, "127.0.0.1", r)),
  ]);
  writeFileSync(
    join(tree.dir, "wharf.yaml"),
    `server: { workers: 1 }
sites:
  - hosts: [verified.test]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy: { to: "https://127.0.0.1:${sp}", tls: { ca: up.crt, server_name: app.internal } }
  - hosts: [unverified.test]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy: { to: "https://127.0.0.1:${sp}", tries: 1 }
  - hosts: [health.test]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy: { to: ["http://127.0.0.1:${kp}", "http://127.0.0.1:${wp}"], health_check: { path: /health, interval: 100ms } }
`,
  );
  const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  try {
    const ok = await request(w.base, "/x", { headers: { Host: "verified.test" } });
    assert.equal(ok.status, 200, w.stderr());
    assert.equal(ok.body.toString(), "secure app.internal /x", "SNI names the configured server");
    const refused = await request(w.base, "/x", { headers: { Host: "unverified.test" } });
    assert.equal(refused.status, 502, "a certificate the proxy cannot verify is refused");
    // Once the first checks are in, requests go only to the healthy upstream.
    const sample = async () => {
      const bodies = new Set<string>();
      for (let i = 0; i < 8; i++)
        bodies.add((await request(w.base, "/", { headers: { Host: "health.test" } })).body.toString());
      return [...bodies].join(",") === "well" ? bodies : undefined;
    };
    assert.deepEqual([...(await eventually(sample, 5000, "only the healthy upstream"))], ["well"]);
  } finally {
    await w.stop();
    secure.close();
    sick.close();
    well.close();
    tree.cleanup();
  }
});
