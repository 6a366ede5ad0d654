import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { raw, request, splitResponses } from "../helpers/http.ts";
import { eventually } from "../helpers/wait.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

// The bad-input suite: each malformed request gets its 4xx, and the server keeps answering.
describe("HTTP/1.1 behaviour and limits", () => {
  let w: Running;
  let tree: ReturnType<typeof makeTree>;
  before(async () => {
    tree = makeTree({ "www/index.html": "home\n", "www/a.txt": "aaa\n" });
    const port = await freePort();
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server:
  workers: 1
  limits:
    max_uri_length: 1KB
    max_header_size: 4KB
    max_body_size: 1KB
    header_timeout: 1s
    request_timeout: 3s
    idle_timeout: 2s
    max_connections: 40
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - match: { method: POST }
        respond: { status: 201, body: "created\\n" }
      - static: { root: www }
`,
    );
    w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  });
  after(async () => {
    await w?.stop();
    tree?.cleanup();
  });

  const stillServes = async () => {
    const r = await request(w.base, "/a.txt");
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "aaa\n");
  };

  const malformed: [string, string, number][] = [
    ["missing Host on HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400],
    ["two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["invalid Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400],
    [
      "Content-Length with Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
    ["non-numeric Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400],
    [
      "conflicting Content-Length",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      400,
    ],
    ["chunked not final", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400],
    [
      "repeated chunked",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
    [
      "unknown transfer coding",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
      501,
    ],
    ["obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400],
    ["whitespace before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400],
    ["NUL in a field value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n", 400],
    ["bare CR", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400],
    ["invalid method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["not HTTP at all", "hello\r\n\r\n", 400],
    ["HTTP/0.9 request", "GET /\r\n\r\n", 400],
    ["HTTP/2.0 over HTTP/1", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
    ["control byte in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405],
    ["target too long", `GET /${"a".repeat(2000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414],
    ["header block too large", `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"b".repeat(6000)}\r\n\r\n`, 431],
    ["header block far too large", `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"b".repeat(40_000)}\r\n\r\n`, 431],
    [
      "body over the limit",
      `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n${"x".repeat(5000)}`,
      413,
    ],
  ];
  for (const [name, req, status] of malformed) {
    test(`${name} → ${status}, connection closed, server fine`, async () => {
      const r = await raw(w.port, req);
      assert.equal(Number(r.text.slice(9, 12)), status, r.text.slice(0, 200));
      assert.ok(!r.timedOut, "the connection is closed after a bad request");
      await stillServes();
    });
  }

  test("absolute-form target: its authority is the host", async () => {
    const r = await raw(
      w.port,
      "GET http://example.com/a.txt HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n",
    );
    assert.match(r.text, /^HTTP\/1.1 200 /);
    assert.ok(r.text.endsWith("aaa\n"));
  });

  test("Connection: close is honoured; keep-alive otherwise", async () => {
    const closed = await raw(w.port, "GET /a.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert.ok(!closed.timedOut);
    assert.match(closed.text, /\r\nConnection: close\r\n/i);
    const open = await raw(w.port, "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", { timeoutMs: 800 });
    assert.ok(open.timedOut, "keep-alive connection stays open");
    assert.match(open.text, /^HTTP\/1.1 200 /);
  });

  test("pipelined requests are answered in order", async () => {
    const reqs = ["/a.txt", "/index.html", "/missing", "/a.txt"];
    const data = reqs
      .map(
        (p, i) =>
          `GET ${p} HTTP/1.1\r\nHost: a\r\n${i === reqs.length - 1 ? "Connection: close\r\n" : ""}\r\n`,
      )
      .join("");
    const r = await raw(w.port, data);
    const parts = splitResponses(r.text);
    assert.deepEqual(
      parts.map((p) => [p.status, p.body]),
      [
        [200, "aaa\n"],
        [200, "home\n"],
        [404, parts[2]?.body],
        [200, "aaa\n"],
      ],
    );
  });

  test("a chunked request body is read and the connection stays in sync", async () => {
    const r = await raw(
      w.port,
      "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n" +
        "GET /a.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    const parts = splitResponses(r.text);
    assert.deepEqual(
      parts.map((p) => p.status),
      [201, 200],
    );
  });

  test("a slow client sending its head is cut off (header timeout → 408)", async () => {
    const t0 = Date.now();
    const r = await raw(
      w.port,
      ["GET / HTTP/1.1\r\n", "Host: a\r\n", "X-Slow: 1\r\n", "X-Slow: 2\r\n", "X-Slow: 3\r\n"],
      {
        gapMs: 700,
        timeoutMs: 6000,
      },
    );
    assert.ok(!r.timedOut, "server closed the slow connection");
    assert.ok(Date.now() - t0 < 5000);
    assert.match(r.text, /^HTTP\/1.1 408 /);
    await stillServes();
  });

  test("an idle keep-alive connection is closed after the idle timeout", async () => {
    const t0 = Date.now();
    const r = await raw(w.port, "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", { timeoutMs: 6000 });
    assert.ok(!r.timedOut);
    const waited = Date.now() - t0;
    assert.ok(waited >= 1500 && waited < 5000, `closed after ${waited} ms`);
  });

  test("connections over the cap are refused while the server keeps serving", async () => {
    const socks = await Promise.all(
      Array.from(
        { length: 60 },
        () =>
          new Promise<import("node:net").Socket>((res) => {
            const s = connect(w.port, "127.0.0.1", () => res(s));
            s.on("error", () => {});
          }),
      ),
    );
    const countClosed = () => socks.filter((s) => s.destroyed || s.readableEnded).length;
    await eventually(() => countClosed() >= 15, 5000, "refusals").catch(() => {});
    const closed = countClosed();
    for (const s of socks) s.destroy();
    assert.ok(closed >= 15, `${closed} of 60 connections were refused`);
    await new Promise((r) => setTimeout(r, 200));
    await stillServes();
  });

  test("the server answers after the whole bad-input suite", stillServes);
});
