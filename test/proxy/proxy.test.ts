import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pattern } from "../helpers/appserver.ts";
import { raw, request } from "../helpers/http.ts";
import { type NodeUpstream, nodeUpstream } from "../helpers/node-upstream.ts";
import { hashedRequest, sha256 } from "../helpers/stream-request.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

const MiB = 1024 * 1024;

describe("reverse proxy: forwarding, balancing, retries, failures (Node upstreams)", () => {
  let a: NodeUpstream;
  let b: NodeUpstream;
  let hopUpstream: ReturnType<typeof createServer>;
  let w: Running;
  let tree: ReturnType<typeof makeTree>;
  let portA: number;
  let portB: number;
  let portDead: number;
  let hopPort: number;

  before(async () => {
    [portA, portB, portDead, hopPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    tree = makeTree({});
    [a, b] = await Promise.all([nodeUpstream("a", portA), nodeUpstream("b", portB)]);
    // A plain upstream for what gunicorn would not send: its own hop-by-hop fields.
    hopUpstream = createServer((req, res) => {
      res.setHeader("Connection", "keep-alive, X-Secret-Hop");
      res.setHeader("X-Secret-Hop", "must not pass");
      res.setHeader("Keep-Alive", "timeout=5");
      res.setHeader("X-Visible", "yes");
      res.end(JSON.stringify(req.headers));
    });
    await new Promise<void>((r) => hopUpstream.listen(hopPort, "127.0.0.1", r));
    const port = await freePort();
    const site = (hosts: string, proxy: string) => `  - hosts: [${hosts}]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy: ${proxy}
`;
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 2, limits: { max_body_size: 200MB } }
sites:
${site("rr.test", `{ to: ["http://127.0.0.1:${portA}", "http://127.0.0.1:${portB}"] }`)}${site(
  "dead.test",
  `{ to: ["http://127.0.0.1:${portDead}", "http://127.0.0.1:${portA}"], policy: first }`,
)}${site("alldown.test", `{ to: ["http://127.0.0.1:${portDead}"] }`)}${site(
  "slow.test",
  `{ to: ["http://127.0.0.1:${portA}"], timeouts: { header: 1s } }`,
)}${site("trusted.test", `{ to: ["http://127.0.0.1:${portA}"], trusted_proxies: ["127.0.0.0/8"], forwarded: true }`)}${site(
  "rewrite.test",
  `{ to: ["http://127.0.0.1:${portA}"], preserve_host: false, strip_prefix: /app, add_prefix: /echo, request_headers: { set: { X-Added: "1" }, remove: [X-Drop] }, response_headers: { set: { X-Resp: "r" }, remove: [X-Visible] } }`,
)}${site("hop.test", `{ to: ["http://127.0.0.1:${hopPort}"] }`)}${site(
  "sticky.test",
  `{ to: ["http://127.0.0.1:${portA}", "http://127.0.0.1:${portB}"], policy: cookie }`,
)}${site("iphash.test", `{ to: ["http://127.0.0.1:${portA}", "http://127.0.0.1:${portB}"], policy: ip_hash }`)}${site(
  "least.test",
  `{ to: ["http://127.0.0.1:${portA}", "http://127.0.0.1:${portB}"], policy: least_conn }`,
)}${site("random.test", `{ to: ["http://127.0.0.1:${portA}", "http://127.0.0.1:${portB}"], policy: random }`)}${site(
  "health.test",
  `{ to: ["http://127.0.0.1:${portA}", "http://127.0.0.1:${portB}"], health_check: { path: /status/200, interval: 200ms } }`,
)}${site("buffered.test", `{ to: ["http://127.0.0.1:${portA}"], buffer_requests: true, buffer_memory: 64KB }`)}`,
    );
    w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  });
  after(async () => {
    await w?.stop();
    await Promise.all([a?.close(), b?.close()]);
    hopUpstream?.close();
    tree?.cleanup();
  });

  const url = (path: string) => `${w.base}${path}`;
  const h = (host: string, extra: Record<string, string> = {}) => ({ Host: host, ...extra });

  test("forwarding headers: X-Forwarded-*, Via, X-Request-Id, Host preserved; untrusted client values dropped", async () => {
    const r = await request(w.base, "/echo?q=1", {
      headers: h("rr.test", {
        "X-Forwarded-For": "6.6.6.6",
        "X-Forwarded-Proto": "https",
        Forwarded: "for=6.6.6.6",
      }),
    });
    const e = JSON.parse(r.body.toString());
    assert.equal(e.headers["X-Forwarded-For"], "127.0.0.1");
    assert.equal(e.headers["X-Forwarded-Proto"], "http");
    assert.equal(e.headers["X-Forwarded-Host"], "rr.test");
    assert.equal(e.headers.Forwarded, undefined);
    assert.equal(e.headers.Host, "rr.test");
    assert.equal(e.headers.Via, "1.1 wharf");
    assert.match(e.headers["X-Request-Id"], /^[0-9a-f]{8}-[0-9a-z]+$/);
    assert.equal(e.query, "q=1");
  });

  test("trusted proxies: their X-Forwarded-For is extended, Forwarded appended", async () => {
    const r = await request(w.base, "/echo", {
      headers: h("trusted.test", {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        Forwarded: "for=203.0.113.7",
      }),
    });
    const e = JSON.parse(r.body.toString());
    assert.equal(e.headers["X-Forwarded-For"], "203.0.113.7, 127.0.0.1");
    assert.equal(e.headers["X-Forwarded-Proto"], "https");
    assert.equal(e.headers.Forwarded, 'for=203.0.113.7, for=127.0.0.1;proto=http;host="trusted.test"');
  });

  test("hop-by-hop fields are removed both ways", async () => {
    const r = await raw(
      w.port,
      "GET /echo HTTP/1.1\r\nHost: rr.test\r\nConnection: close, X-Client-Hop\r\nX-Client-Hop: secret\r\n" +
        "Keep-Alive: timeout=9\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\nUpgrade-Insecure-Requests: 1\r\n\r\n",
    );
    const body = r.text.slice(r.text.indexOf("\r\n\r\n") + 4);
    const e = JSON.parse(body);
    for (const name of ["X-Client-Hop", "Keep-Alive", "Te", "Proxy-Authorization"])
      assert.equal(e.headers[name], undefined, name);
    assert.equal(
      e.headers["Upgrade-Insecure-Requests"],
      "1",
      "an ordinary field that merely starts with Upgrade passes",
    );
    const down = await request(w.base, "/", { headers: h("hop.test") });
    assert.equal(down.status, 200);
    assert.equal(down.headers["x-secret-hop"], undefined);
    assert.notEqual(down.headers["keep-alive"], "timeout=5", "the upstream's Keep-Alive does not pass");
    assert.equal(down.headers["x-visible"], "yes");
    const seen = JSON.parse(down.body.toString());
    assert.equal(seen.host, "hop.test");
  });

  test("repeated response fields (Set-Cookie) pass unchanged", async () => {
    const r = await request(w.base, "/hop", { headers: h("rr.test") });
    assert.deepEqual(r.headers["set-cookie"], ["a=1", "b=2"]);
  });

  test("path prefix stripping/adding, upstream Host, request and response header changes", async () => {
    const r = await request(w.base, "/app/x/y?z=1", { headers: h("rewrite.test", { "X-Drop": "1" }) });
    assert.equal(r.status, 200);
    const e = JSON.parse(r.body.toString());
    assert.equal(e.path, "/echo/x/y");
    assert.equal(e.query, "z=1");
    assert.equal(e.headers.Host, `127.0.0.1:${portA}`);
    assert.equal(e.headers["X-Added"], "1");
    assert.equal(e.headers["X-Drop"], undefined);
    assert.equal(r.headers["x-resp"], "r");
  });

  test("server-sent events are flushed as they come", async () => {
    const t0 = Date.now();
    const times = await new Promise<number[]>((resolve, reject) => {
      const out: number[] = [];
      httpRequest(url("/sse"), { headers: h("rr.test"), agent: false }, (res) => {
        res.on("data", (c: Buffer) => {
          for (const _ of c.toString().matchAll(/data: /g)) out.push(Date.now() - t0);
        });
        res.on("end", () => resolve(out));
      })
        .on("error", reject)
        .end();
    });
    assert.equal(times.length, 3);
    assert.ok(times[2]! - times[0]! >= 800, `events spread over time: ${times}`);
    assert.ok(times[0]! < 700, `the first event arrived at ${times[0]} ms, before the last was produced`);
  });

  test("round robin spreads load; a dead upstream is skipped", async () => {
    const names = new Set<string>();
    for (let i = 0; i < 8; i++)
      names.add(JSON.parse((await request(w.base, "/echo", { headers: h("rr.test") })).body.toString()).name);
    assert.deepEqual([...names].sort(), ["a", "b"]);
    for (let i = 0; i < 6; i++) {
      const r = await request(w.base, "/echo", { headers: h("dead.test") });
      assert.equal(r.status, 200, "connect failure is retried on the next upstream");
      assert.equal(JSON.parse(r.body.toString()).name, "a");
    }
  });

  test("policies: ip_hash and cookie are sticky; least_conn and random spread", async () => {
    const namesOf = async (host: string, n: number, headers: Record<string, string> = {}) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++)
        out.push(
          JSON.parse((await request(w.base, "/echo", { headers: h(host, headers) })).body.toString()).name,
        );
      return out;
    };
    assert.equal(new Set(await namesOf("iphash.test", 6)).size, 1);
    const first = await request(w.base, "/echo", { headers: h("sticky.test") });
    const cookie = String(first.headers["set-cookie"]).split(";")[0]!;
    assert.match(cookie, /^wharf_upstream=[0-9a-f]{16}$/);
    const stickyName = JSON.parse(first.body.toString()).name;
    assert.deepEqual(new Set(await namesOf("sticky.test", 6, { Cookie: cookie })), new Set([stickyName]));
    assert.equal(new Set(await namesOf("least.test", 8)).size, 2);
    assert.equal(new Set(await namesOf("random.test", 30)).size, 2);
  });

  test("all upstreams down → 502 with a request id; slow upstream → 504", async () => {
    const down = await request(w.base, "/echo", { headers: h("alldown.test") });
    assert.equal(down.status, 502);
    assert.match(down.body.toString(), /request id: [0-9a-f]{8}-[0-9a-z]+/);
    const t0 = Date.now();
    const slow = await request(w.base, "/slow?s=3", { headers: h("slow.test") });
    assert.equal(slow.status, 504);
    assert.ok(Date.now() - t0 < 2900);
    assert.equal((await request(w.base, "/echo", { headers: h("slow.test") })).status, 200, "still serving");
  });

  test("request buffering (memory, then a temporary file) delivers the body whole", async () => {
    const body = pattern(3 * MiB + 5);
    const r = await hashedRequest(url("/upload"), {
      method: "POST",
      headers: h("buffered.test"),
      body,
      chunked: true,
    });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).sha256, sha256(body));
  });

  test("Expect: 100-continue is answered and the body goes through", async () => {
    const r = await raw(
      w.port,
      [
        "POST /upload HTTP/1.1\r\nHost: rr.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        "hello",
      ],
      { gapMs: 200 },
    );
    assert.match(r.text, /^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 OK/);
    assert.match(r.text, /"size":5/);
  });

  test("an upstream dying mid-response closes the client connection; the next request is served", async () => {
    const r = await hashedRequest(url("/die"), { headers: h("rr.test") });
    assert.ok(!r.complete || r.size < 1_000_000, "not a silent, whole-looking 200");
    for (let i = 0; i < 4; i++)
      assert.equal((await request(w.base, "/echo", { headers: h("rr.test") })).status, 200);
  });

  test("active health checks keep requests on healthy upstreams", async () => {
    const names = new Set<string>();
    for (let i = 0; i < 6; i++)
      names.add(
        JSON.parse((await request(w.base, "/echo", { headers: h("health.test") })).body.toString()).name,
      );
    assert.equal(names.size, 2);
  });
});
