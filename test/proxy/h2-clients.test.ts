import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { type ClientHttp2Session, connect } from "node:http2";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pattern } from "../helpers/appserver.ts";
import { makeCert } from "../helpers/certs.ts";
import { type NodeUpstream, nodeUpstream } from "../helpers/node-upstream.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** One HTTP/2 exchange: headers out, body out (in pieces, without a length unless given), all of the answer back. */
function exchange(
  s: ClientHttp2Session,
  headers: Record<string, string | string[]>,
  body?: Buffer,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; times: number[] }> {
  return new Promise((resolve, reject) => {
    const req = s.request(headers);
    const chunks: Buffer[] = [];
    const times: number[] = [];
    let status = 0;
    let head: Record<string, unknown> = {};
    req.on("response", (h) => {
      status = Number(h[":status"]);
      head = h;
    });
    req.on("data", (c: Buffer) => {
      chunks.push(c);
      times.push(Date.now());
    });
    req.on("end", () => resolve({ status, headers: head, body: Buffer.concat(chunks), times }));
    req.on("error", reject);
    if (body) {
      // Written in pieces, so the body arrives as DATA frames over time.
      for (let i = 0; i < body.length; i += 256 * 1024) req.write(body.subarray(i, i + 256 * 1024));
    }
    req.end();
  });
}

describe("reverse proxy for HTTP/2 clients", () => {
  let app: NodeUpstream;
  let hop: ReturnType<typeof createServer>;
  let w: Running;
  let tree: ReturnType<typeof makeTree>;
  let s: ClientHttp2Session;

  before(async () => {
    const [appPort, hopPort, deadPort, port] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    tree = makeTree({});
    app = await nodeUpstream("h2", appPort);
    hop = createServer((_req, res) => {
      // An upstream that sends HTTP/1.1 connection fields, which HTTP/2 must not carry.
      res.setHeader("Connection", "keep-alive, X-Secret-Hop");
      res.setHeader("X-Secret-Hop", "no");
      res.setHeader("Keep-Alive", "timeout=5");
      res.setHeader("Transfer-Encoding", "chunked");
      res.setHeader("X-Visible", "yes");
      res.end("hop\n");
    });
    await new Promise<void>((r) => hop.listen(hopPort, "127.0.0.1", r));
    const c = makeCert(tree.dir, "c", [
      "localhost",
      "127.0.0.1",
      "app.test",
      "hop.test",
      "down.test",
      "logged.test",
    ]);
    const site = (host: string, to: number, log = "off") =>
      `  - hosts: [${host}]\n    listen: ["127.0.0.1:${port}"]\n    access_log: ${log}\n    tls: { cert: ${c.cert}, key: ${c.key} }\n    routes: [{ proxy: { to: ["http://127.0.0.1:${to}"] } }]\n`;
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 1, limits: { max_body_size: 64MB } }\nsites:\n${site("app.test", appPort)}${site("hop.test", hopPort)}${site("down.test", deadPort)}${site("logged.test", appPort, "{ format: combined, output: stdout }")}`,
    );
    w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
    s = connect(`https://127.0.0.1:${port}`, { ca: readFileSync(c.cert) });
    await new Promise((r, j) => s.once("connect", r).once("error", j));
  });
  after(async () => {
    s?.close();
    await w?.stop();
    await app?.close();
    hop?.close();
    tree?.cleanup();
  });

  test("the app sees the request as an HTTP/1.1 proxy would send it", async () => {
    const r = await exchange(s, { ":path": "/echo?q=1", ":authority": "app.test", "x-client": "c" });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body.toString());
    assert.equal(seen.headers.Host, "app.test", ":authority becomes Host");
    assert.equal(seen.headers["X-Forwarded-Proto"], "https");
    assert.equal(seen.headers["X-Client"], "c");
    assert.equal(seen.query, "q=1");
  });

  test("10 MiB up without a length and 10 MiB down, by sha256", async () => {
    const body = Buffer.concat([...Array(10)].map((_, i) => Buffer.alloc(1024 * 1024, i)));
    const up = await exchange(s, { ":method": "POST", ":path": "/upload", ":authority": "app.test" }, body);
    assert.equal(up.status, 200);
    assert.deepEqual(JSON.parse(up.body.toString()), { size: body.length, sha256: sha(body), name: "h2" });
    for (const path of ["/download/10485760", "/download/10485760?chunked=1"]) {
      const down = await exchange(s, { ":path": path, ":authority": "app.test" });
      assert.equal(down.status, 200);
      assert.equal(sha(down.body), sha(pattern(10 * 1024 * 1024)), path);
    }
  });

  test("server-sent events reach an HTTP/2 client as they are produced", async () => {
    const t0 = Date.now();
    const r = await exchange(s, { ":path": "/sse", ":authority": "app.test" });
    assert.equal((r.body.toString().match(/data: /g) ?? []).length, 3);
    assert.ok(r.times[0]! - t0 < 800, `first event after ${r.times[0]! - t0} ms, not at the end`);
  });

  test("connection-specific fields from the upstream are not sent over HTTP/2", async () => {
    const r = await exchange(s, { ":path": "/", ":authority": "hop.test" });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "hop\n");
    for (const name of ["connection", "keep-alive", "transfer-encoding", "x-secret-hop"])
      assert.equal(r.headers[name], undefined, name);
    assert.equal(r.headers["x-visible"], "yes");
  });

  test("an upstream that is down: 502 on this stream, the connection carries on", async () => {
    const r = await exchange(s, { ":path": "/", ":authority": "down.test" });
    assert.equal(r.status, 502);
    assert.match(r.body.toString(), /request id/);
    assert.equal((await exchange(s, { ":path": "/echo", ":authority": "app.test" })).status, 200);
  });

  test("X-Forwarded-Host keeps the port of :authority (HTTP/2 has no Host field)", async () => {
    const r = await exchange(s, { ":path": "/echo", ":authority": "app.test:8443" });
    const seen = JSON.parse(r.body.toString());
    assert.equal(seen.headers.Host, "app.test:8443");
    assert.equal(seen.headers["X-Forwarded-Host"], "app.test:8443", "as HTTP/1.1 sends it");
  });

  test("cookies sent as separate HTTP/2 fields reach the app as one Cookie field, joined with '; '", async () => {
    const r = await exchange(s, {
      ":path": "/echo",
      ":authority": "app.test",
      cookie: ["a=1", "b=2", "c=3"],
    });
    const seen = JSON.parse(r.body.toString());
    assert.equal(seen.headers.Cookie, "a=1; b=2; c=3");
  });

  test("HTTP/2 access-log lines carry the client's address", async () => {
    const mark = w.stdout().length;
    const r = await exchange(
      s,
      { ":method": "POST", ":path": "/echo", ":authority": "logged.test" },
      Buffer.from("x"),
    );
    assert.equal(r.status, 200);
    const line = await w.waitForStdout(/"POST \/echo HTTP\/2\.0"/, mark);
    assert.match(line, /^127\.0\.0\.1 - - \[/m);
  });
});
