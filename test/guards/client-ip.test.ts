import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startHaproxy } from "../helpers/haproxy.ts";
import { getFrom, request } from "../helpers/http.ts";
import { type NodeUpstream, nodeUpstream } from "../helpers/node-upstream.ts";
import { needs } from "../helpers/tools.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

describe("the real client address", () => {
  let app: NodeUpstream;
  let direct: Running;
  let trusting: Running;
  let tree: ReturnType<typeof makeTree>;

  before(async () => {
    tree = makeTree({});
    app = await nodeUpstream("app");
    const site = (port: number) => `sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: { format: combined, output: stdout }
    routes:
      - match: { path: /denied }
        ip_filter: { deny: [203.0.113.0/24] }
      - proxy: { to: ["http://127.0.0.1:${app.port}"] }
`;
    const [p1, p2] = [await freePort(), await freePort()];
    writeFileSync(join(tree.dir, "direct.yaml"), `server: { workers: 1 }\n${site(p1)}`);
    writeFileSync(
      join(tree.dir, "trusting.yaml"),
      `server: { workers: 1, trusted_proxies: [127.0.0.0/8, 10.0.0.0/8] }\n${site(p2)}`,
    );
    direct = await startWharf(["run", "--config", join(tree.dir, "direct.yaml")], { port: p1 });
    trusting = await startWharf(["run", "--config", join(tree.dir, "trusting.yaml")], { port: p2 });
  });
  after(async () => {
    await direct?.stop();
    await trusting?.stop();
    await app?.close();
    tree?.cleanup();
  });

  test("a spoofed X-Forwarded-For from an untrusted peer is never believed", async () => {
    const mark = direct.stdout().length;
    const r = await request(direct.base, "/echo", { headers: { "X-Forwarded-For": "203.0.113.9" } });
    assert.equal(JSON.parse(r.body.toString()).headers["X-Forwarded-For"], "127.0.0.1");
    assert.match(await direct.waitForStdout(/GET \/echo/, mark), /^127\.0\.0\.1 - - /m);
    const filtered = await request(direct.base, "/denied/echo", {
      headers: { "X-Forwarded-For": "203.0.113.9" },
    });
    assert.equal(filtered.status, 200, "ip_filter looks at the peer, not at what it claims");
  });

  test("from a trusted peer, X-Forwarded-For is read right to left past trusted hops", async () => {
    const mark = trusting.stdout().length;
    const r = await request(trusting.base, "/echo", {
      headers: { "X-Forwarded-For": "198.51.100.7, 203.0.113.9, 10.1.2.3" },
    });
    assert.equal(r.status, 200);
    assert.match(await trusting.waitForStdout(/GET \/echo/, mark), /^203\.0\.113\.9 - - /m);
    const denied = await request(trusting.base, "/denied/echo", {
      headers: { "X-Forwarded-For": "203.0.113.9" },
    });
    assert.equal(denied.status, 403, "ip_filter sees the client behind the trusted proxy");
    const viaForwarded = await request(trusting.base, "/denied/echo", {
      headers: { Forwarded: 'for="203.0.113.50:4711"' },
    });
    assert.equal(viaForwarded.status, 403, "Forwarded: for= too");
  });
});

describe("PROXY protocol v1 and v2 from HAProxy", needs("haproxy"), () => {
  let app: NodeUpstream;
  let w: Running;
  let haproxy: ChildProcess;
  let tree: ReturnType<typeof makeTree>;
  let v1: number;
  let v2: number;
  let wharfPort: number;

  before(async () => {
    tree = makeTree({});
    app = await nodeUpstream("app");
    [wharfPort, v1, v2] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 2, trusted_proxies: [127.0.0.1] }
sites:
  - listen: [{ address: "127.0.0.1:${wharfPort}", proxy_protocol: true }]
    access_log: { format: combined, output: stdout }
    routes:
      - match: { path: /limited }
        rate_limit: { rate: 1/m, burst: 1 }
      - proxy: { to: ["http://127.0.0.1:${app.port}"] }
`,
    );
    w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port: wharfPort });
    haproxy = await startHaproxy(
      tree.dir,
      `defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend v1
  bind 127.0.0.1:${v1}
  default_backend wharf_v1
frontend v2
  bind 127.0.0.1:${v2}
  default_backend wharf_v2
backend wharf_v1
  server w 127.0.0.1:${wharfPort} send-proxy
backend wharf_v2
  server w 127.0.0.1:${wharfPort} send-proxy-v2
`,
      v2,
    );
  });
  after(async () => {
    haproxy?.kill("SIGTERM");
    await w?.stop();
    await app?.close();
    tree?.cleanup();
  });

  for (const version of ["v1", "v2"] as const)
    test(`${version}: the client's address reaches the app and the access log`, async () => {
      const port = version === "v1" ? v1 : v2;
      const mark = w.stdout().length;
      // The client is 127.0.0.2; HAProxy connects to wharf from 127.0.0.1.
      const r = await getFrom("127.0.0.2", port, `/echo/${version}`);
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).headers["X-Forwarded-For"], "127.0.0.2");
      assert.match(await w.waitForStdout(new RegExp(`GET /echo/${version}`), mark), /^127\.0\.0\.2 - - /m);
    });

  test("the rate limit keys on the client behind HAProxy", async () => {
    assert.equal((await getFrom("127.0.0.3", v2, "/limited/echo")).status, 200);
    assert.equal((await getFrom("127.0.0.3", v2, "/limited/echo")).status, 429);
    assert.equal(
      (await getFrom("127.0.0.4", v2, "/limited/echo")).status,
      200,
      "another client has its own bucket",
    );
  });

  test("a connection without a PROXY header, or from an untrusted peer, is closed", async () => {
    await assert.rejects(getFrom("127.0.0.1", wharfPort, "/echo"), "plain HTTP where PROXY is expected");
    await assert.rejects(getFrom("127.0.0.5", wharfPort, "/echo"), "an untrusted peer");
  });
});
