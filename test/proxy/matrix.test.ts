import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type AppServer, gunicorn, pattern } from "../helpers/appserver.ts";
import { hashedRequest, sha256 } from "../helpers/stream-request.ts";
import { needs } from "../helpers/tools.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

const MiB = 1024 * 1024;

// h2o's reverse-proxy matrix against a real WSGI server (gunicorn + Flask): client
// keep-alive on/off × Content-Length/chunked × sizes, both ways, checked by sha256.
describe("proxy matrix with a real WSGI app server", needs("gunicorn", "python3:flask"), () => {
  let app: AppServer;
  let w: Running;
  let tree: ReturnType<typeof makeTree>;

  before(async () => {
    const appPort = await freePort();
    tree = makeTree({});
    app = await gunicorn({ port: appPort });
    const port = await freePort();
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 2, limits: { max_body_size: 200MB } }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy: { to: ["http://127.0.0.1:${appPort}"] }
`,
    );
    w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  });
  after(async () => {
    await w?.stop();
    await app?.stop();
    tree?.cleanup();
  });

  const url = (path: string) => `${w.base}${path}`;
  const h = (host: string) => ({ Host: host });

  for (const keepAlive of [true, false]) {
    for (const size of [0, 1024, 10 * MiB, 100 * MiB]) {
      for (const chunked of [false, true]) {
        const label = `${size} B, ${chunked ? "chunked" : "Content-Length"}, keep-alive ${keepAlive ? "on" : "off"}`;
        test(`download ${label}`, async () => {
          const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
          const r = await hashedRequest(url(`/download/${size}${chunked ? "?chunked=1" : ""}`), {
            headers: h("rr.test"),
            agent,
          });
          if (agent) agent.destroy();
          const why = () => `wharf's log ends:\n${w.stderr().slice(-3000)}`;
          assert.equal(r.status, 200, why());
          assert.equal(r.size, size, why());
          assert.equal(r.sha256, sha256(pattern(size)));
          if (!chunked) assert.equal(r.headers["content-length"], String(size));
        });
        test(`upload ${label}`, async () => {
          const body = pattern(size);
          const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
          const r = await hashedRequest(url("/upload"), {
            method: "POST",
            headers: h("rr.test"),
            body,
            chunked,
            agent,
          });
          if (agent) agent.destroy();
          assert.equal(r.status, 200, r.text);
          const got = JSON.parse(r.text) as { size: number; sha256: string };
          assert.equal(got.size, size);
          assert.equal(got.sha256, sha256(body));
        });
      }
    }
  }
});
