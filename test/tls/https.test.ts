import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { ClientHttp2Session } from "node:http2";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { makeCert } from "../helpers/certs.ts";
import { h2request, h2session } from "../helpers/h2.ts";
import { raw, request } from "../helpers/http.ts";
import { needs } from "../helpers/tools.ts";
import { freePort, makeTree, type Running, startTlsWharf, startWharf } from "../helpers/wharf.ts";

const run = promisify(execFile);

describe("HTTPS: TLS termination, SNI, ALPN h2/http1.1, redirects, HSTS", () => {
  let w: Running;
  let tree: ReturnType<typeof makeTree>;
  let upstream: ReturnType<typeof createServer>;
  let port: number;
  let httpPort: number;
  let caA: Buffer;
  let caB: Buffer;
  let session: ClientHttp2Session;
  const page = Buffer.from("<!doctype html><title>tls</title>\n".repeat(100));

  before(async () => {
    tree = makeTree({ "www/index.html": page, "www/small.txt": "0123456789", "b/index.html": "site b\n" });
    const a = makeCert(tree.dir, "a", ["a.test", "127.0.0.1"]);
    const b = makeCert(tree.dir, "b", ["b.test"]);
    caA = readFileSync(a.cert);
    caB = readFileSync(b.cert);
    [port, httpPort] = [await freePort(), await freePort()];
    const upPort = await freePort();
    upstream = createServer((req, res) => {
      res.setHeader("Connection", "keep-alive");
      res.setHeader("Keep-Alive", "timeout=5");
      res.end(
        JSON.stringify({ url: req.url, proto: req.headers["x-forwarded-proto"], host: req.headers.host }),
      );
    });
    await new Promise<void>((r) => upstream.listen(upPort, "127.0.0.1", r));
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 2 }
sites:
  - hosts: [a.test]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    tls: { cert: a.crt, key: a.key, hsts: 365d, redirect_http: ["127.0.0.1:${httpPort}"] }
    routes:
      - match: { path: /api }
        proxy: { to: "http://127.0.0.1:${upPort}" }
      - match: { path: /teapot }
        respond: { status: 418, body: "short and stout\\n", headers: { X-Tea: earl-grey } }
      - static: { root: www }
  - hosts: [b.test]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    tls: { cert: b.crt, key: b.key }
    routes:
      - static: { root: b }
`,
    );
    w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
    session = await h2session(`https://127.0.0.1:${port}`, caA, "a.test");
  });
  after(async () => {
    session?.close();
    await w?.stop();
    upstream?.close();
    tree?.cleanup();
  });

  const peerCN = (servername?: string) =>
    new Promise<string>((resolve, reject) => {
      const s = tlsConnect(
        { host: "127.0.0.1", port, ...(servername ? { servername } : {}), rejectUnauthorized: false },
        () => {
          resolve(String(s.getPeerCertificate().subject.CN));
          s.end();
        },
      );
      s.on("error", reject);
    });

  test("the certificate is chosen by SNI; no SNI gets the default", async () => {
    assert.equal(await peerCN("a.test"), "a.test");
    assert.equal(await peerCN("b.test"), "b.test");
    assert.equal(await peerCN(), "a.test");
  });

  test("TLS 1.0 and 1.1 are refused; 1.2 and 1.3 work", async () => {
    for (const [min, max, ok] of [
      ["TLSv1", "TLSv1.1", false],
      ["TLSv1.2", "TLSv1.2", true],
      ["TLSv1.3", "TLSv1.3", true],
    ] as const) {
      const result = await new Promise<boolean>((resolve) => {
        const s = tlsConnect(
          {
            host: "127.0.0.1",
            port,
            servername: "a.test",
            ca: caA,
            minVersion: min,
            maxVersion: max,
            ciphers: "DEFAULT:@SECLEVEL=0",
          },
          () => {
            s.end();
            resolve(true);
          },
        );
        s.on("error", () => resolve(false));
      });
      assert.equal(result, ok, `${min}..${max}`);
    }
  });

  test("HTTP/2: static files with validators, ranges and compression; respond; proxy", async () => {
    const r = await h2request(session, "/");
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, page);
    assert.equal(r.headers["strict-transport-security"], "max-age=31536000");
    for (const name of ["connection", "keep-alive", "transfer-encoding"])
      assert.equal(r.headers[name], undefined, name);
    const nm = await h2request(session, "/", { headers: { "if-none-match": String(r.headers.etag) } });
    assert.equal(nm.status, 304);
    const range = await h2request(session, "/small.txt", { headers: { range: "bytes=2-4" } });
    assert.equal(range.status, 206);
    assert.equal(range.body.toString(), "234");
    const gz = await h2request(session, "/", { headers: { "accept-encoding": "gzip" } });
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.deepEqual(gunzipSync(gz.body), page);
    const tea = await h2request(session, "/teapot");
    assert.equal(tea.status, 418);
    assert.equal(tea.headers["x-tea"], "earl-grey");
    const head = await h2request(session, "/", { method: "HEAD" });
    assert.equal(head.body.length, 0);
    assert.equal(head.headers["content-length"], String(page.length));
    assert.equal((await h2request(session, "/nope")).status, 404);
    assert.equal((await h2request(session, "/", { method: "DELETE" })).status, 405);
    const api = await h2request(session, "/api/x?y=1");
    assert.equal(api.status, 200);
    const seen = JSON.parse(api.body.toString());
    assert.deepEqual([seen.url, seen.proto], ["/api/x?y=1", "https"]);
    assert.match(seen.host, /^a\.test(:\d+)?$/, "the :authority becomes Host");
    assert.equal(api.headers["keep-alive"], undefined, "the upstream's connection fields are dropped for h2");
  });

  test("many concurrent streams on one connection", async () => {
    const all = await Promise.all(Array.from({ length: 50 }, () => h2request(session, "/small.txt")));
    assert.ok(all.every((r) => r.status === 200 && r.body.toString() === "0123456789"));
  });

  test("HTTP/1.1 over TLS still works (ALPN http/1.1)", async () => {
    const r = await new Promise<{ status: number; alpn: string | false }>((resolve, reject) => {
      const s = tlsConnect(
        { host: "127.0.0.1", port, servername: "b.test", ca: caB, ALPNProtocols: ["http/1.1"] },
        () => {
          s.write("GET / HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n");
        },
      );
      let text = "";
      s.on("data", (d: Buffer) => {
        text += d.toString();
      });
      s.on("end", () => resolve({ status: Number(text.slice(9, 12)), alpn: s.alpnProtocol ?? false }));
      s.on("error", reject);
    });
    assert.equal(r.status, 200);
    assert.equal(r.alpn, "http/1.1");
  });

  test("plain HTTP for a TLS site gets a 308 to https, path and query kept", async () => {
    const r = await request(`http://127.0.0.1:${httpPort}`, "/a/b?c=d", { headers: { Host: "a.test" } });
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, `https://a.test:${port}/a/b?c=d`);
  });

  test("plain HTTP sent to the HTTPS port gets a 400 that says so", async () => {
    const r = await raw(w.port, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    assert.match(r.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(r.text, /This is an HTTPS port: the request was plain HTTP/);
    assert.match(
      w.stderr(),
      /"msg":"listening".*"https:\/\/127\.0\.0\.1:\d+"/,
      "the listening line names the scheme",
    );
  });

  test("curl --http2 and --http1.1", needs("curl"), async () => {
    const args = (v: string) => [
      "-sS",
      v,
      "--cacert",
      join(tree.dir, "a.crt"),
      "--resolve",
      `a.test:${port}:127.0.0.1`,
      "-o",
      "/dev/null",
      "-w",
      "%{http_version} %{http_code}",
      `https://a.test:${port}/`,
    ];
    assert.equal((await run("curl", args("--http2"))).stdout, "2 200");
    assert.equal((await run("curl", args("--http1.1"))).stdout, "1.1 200");
  });

  test("nghttp (nghttp2's client) fetches over HTTP/2", needs("nghttp"), async () => {
    const r = await run("nghttp", ["-nv", "--no-verify-peer", `https://127.0.0.1:${port}/small.txt`]);
    assert.match(r.stdout, /:status: 200/);
    assert.match(r.stdout, /recv HEADERS frame/);
    assert.doesNotMatch(r.stdout, /connection: |keep-alive: |transfer-encoding: /i);
  });

  test("openssl s_client: TLS 1.1 refused, h2 negotiated", needs("openssl"), async () => {
    const old = await run("sh", [
      "-c",
      `echo | openssl s_client -connect 127.0.0.1:${port} -tls1_1 2>&1 || true`,
    ]);
    assert.match(old.stdout, /alert|no protocols available|wrong version/i);
    const h2 = await run("sh", [
      "-c",
      `echo | openssl s_client -connect 127.0.0.1:${port} -servername a.test -alpn h2 2>&1 || true`,
    ]);
    assert.match(h2.stdout, /ALPN protocol: h2/);
  });
});

test(
  "HTTP/2 clients get GOAWAY on shutdown and their in-flight stream completes",
  { timeout: 20_000 },
  async () => {
    const tree = makeTree({ "big.bin": Buffer.alloc(4 * 1024 * 1024, 3) });
    const w = await startTlsWharf(tree.dir);
    try {
      const s = await h2session(`https://127.0.0.1:${w.port}`, w.ca);
      let goaway = false;
      s.on("goaway", () => {
        goaway = true;
      });
      const req = s.request({ ":path": "/big.bin" });
      let slow = true;
      let size = 0;
      const done = new Promise<void>((resolve) => {
        // A slow reader until the shutdown begins, so the stream is in flight then; after
        // that it reads as a browser would (a paused stream's buffer is dropped when the
        // server closes the finished connection, by node's client, not by the server).
        req.on("data", (d: Buffer) => {
          size += d.length;
          if (!slow) return;
          req.pause();
          setTimeout(() => req.resume(), 1);
        });
        // A cut stream ends in "close" without "end": the size check below then fails.
        req.on("close", () => resolve());
      });
      await new Promise((r) => req.once("response", r));
      const code = w.stop();
      slow = false;
      req.resume();
      await done;
      assert.equal(size, 4 * 1024 * 1024);
      assert.ok(goaway, "GOAWAY received");
      assert.equal(await code, 0);
      s.close();
    } finally {
      await w.stop();
      tree.cleanup();
    }
  },
);
