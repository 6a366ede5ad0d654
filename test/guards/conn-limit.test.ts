import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { connect as h2connect } from "node:http2";
import { join } from "node:path";
import { test } from "node:test";
import { makeCert } from "../helpers/certs.ts";
import { request } from "../helpers/http.ts";
import { nodeUpstream } from "../helpers/node-upstream.ts";
import { freePort, makeTree, startWharf } from "../helpers/wharf.ts";

test("conn_limit: requests in progress per client across workers; 429 on HTTP/1.1, REFUSED_STREAM on HTTP/2", async () => {
  const tree = makeTree({});
  const app = await nodeUpstream("app");
  const cert = makeCert(tree.dir, "c", ["localhost", "127.0.0.1"]);
  const [plain, secure] = [await freePort(), await freePort()];
  writeFileSync(
    join(tree.dir, "wharf.yaml"),
    `server: { workers: 2 }
sites:
  - listen: ["127.0.0.1:${plain}"]
    access_log: off
    routes:
      - conn_limit: { max: 2 }
        proxy: { to: ["http://127.0.0.1:${app.port}"] }
  - listen: ["127.0.0.1:${secure}"]
    access_log: off
    tls: { cert: ${cert.cert}, key: ${cert.key} }
    routes:
      - conn_limit: { max: 1 }
        proxy: { to: ["http://127.0.0.1:${app.port}"] }
`,
  );
  const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port: plain });
  try {
    // Three slow requests at once (new connections: both workers): two run, one is refused.
    const slow = () => request(w.base, "/slow?s=1", { headers: { Connection: "close" } });
    const statuses = (await Promise.all([slow(), slow(), slow()])).map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.equal((await request(w.base, "/echo")).status, 200, "slots are given back");

    const { readFileSync } = await import("node:fs");
    const s = h2connect(`https://127.0.0.1:${secure}`, { ca: readFileSync(cert.cert) });
    await new Promise((r) => s.once("connect", r));
    const first = s.request({ ":path": "/slow?s=1" });
    first.resume();
    await new Promise((r) => setTimeout(r, 200));
    const code = await new Promise<number>((resolve) => {
      const second = s.request({ ":path": "/echo" });
      second.on("error", () => {});
      second.on("close", () => resolve(second.rstCode));
      second.resume();
    });
    assert.equal(code, 7, "RST_STREAM(REFUSED_STREAM): the client may retry it");
    await new Promise((r) => first.on("close", r));
    s.close();
  } finally {
    await w.stop();
    await app.close();
    tree.cleanup();
  }
});
