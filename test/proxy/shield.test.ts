import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createGunzip, gunzipSync } from "node:zlib";
import { request } from "../helpers/http.ts";
import { type NodeUpstream, nodeUpstream } from "../helpers/node-upstream.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

// What operators put a server in front of an app for, against a Node upstream: compression
// of its answers (encode), X-Accel-Redirect and X-Sendfile to files, internal routes,
// intercepted error pages.

const HTML = `<!doctype html><title>page</title>${"<p>wharf compresses what the app answers</p>\n".repeat(200)}`;

describe("encode, X-Accel-Redirect, X-Sendfile, intercept_errors", () => {
  let app: NodeUpstream;
  let w: Running;
  let tree: ReturnType<typeof makeTree>;

  before(async () => {
    tree = makeTree({
      "private/report.csv": "a,b\n1,2\n".repeat(500),
      "private/page.html": HTML,
      "sendfile/export.bin": Buffer.alloc(100_000, 7),
      "errors/503.html": "<h1>we are down for a moment</h1>\n",
    });
    app = await nodeUpstream("app", 0, {
      "/html": (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", ETag: '"v1"', Vary: "Cookie" });
        res.end(HTML);
      },
      "/tiny": (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": 5 });
        res.end("small");
      },
      "/png": (_req, res) => {
        res.writeHead(200, { "Content-Type": "image/png" });
        res.end(Buffer.alloc(5000, 1));
      },
      "/no-transform": (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/html", "Cache-Control": "public, no-transform" });
        res.end(HTML);
      },
      "/already": (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/html", "Content-Encoding": "gzip" });
        res.end("not really gzip");
      },
      "/report": (_req, res) => {
        res.writeHead(200, {
          "X-Accel-Redirect": "/private/report.csv",
          "Content-Type": "text/csv",
          "Content-Disposition": 'attachment; filename="report.csv"',
          "Cache-Control": "private, max-age=60",
          "Set-Cookie": "seen=1",
        });
        res.end("this body is dropped");
      },
      "/report-page": (_req, res) => {
        res.writeHead(200, { "X-Accel-Redirect": "/private/page.html" });
        res.end();
      },
      "/export": (_req, res) => {
        res.writeHead(200, {
          "X-Sendfile": join(tree.dir, "sendfile/export.bin"),
          "Content-Type": "application/x-thing",
        });
        res.end();
      },
      "/escape": (_req, res) => {
        res.writeHead(200, { "X-Sendfile": "/etc/passwd" });
        res.end();
      },
      "/unbuffered": (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/plain", "X-Accel-Buffering": "no" });
        res.end("streamed as it comes\n");
      },
    });
    const port = await freePort();
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 1 }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    error_pages: { "503": errors/503.html }
    routes:
      - match: { path: /private }
        internal: true
        static: { root: private, strip_prefix: /private }
      - match: { path: /intercepted }
        proxy: { to: ["http://127.0.0.1:${app.port}"], strip_prefix: /intercepted, intercept_errors: true }
      - match: { path: /best }
        encode: { levels: { gzip: 9 } }
        proxy: { to: ["http://127.0.0.1:${app.port}"], strip_prefix: /best }
      - encode: {}
        proxy:
          to: ["http://127.0.0.1:${app.port}"]
          sendfile_roots: [sendfile]
`,
    );
    w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  });
  after(async () => {
    await w?.stop();
    await app?.close();
    tree?.cleanup();
  });

  const get = (path: string, headers: Record<string, string> = {}) => request(w.base, path, { headers });

  test("encode: an app's HTML is compressed by Accept-Encoding, with Vary and a weak ETag", async () => {
    for (const [accept, coding] of [
      ["gzip", "gzip"],
      ["br", "br"],
      ["zstd", "zstd"],
      ["gzip;q=0.5, br;q=0.9", "br"],
      ["gzip, br, zstd", "zstd"],
      ["*", "zstd"],
    ] as const) {
      const r = await get("/html", { "Accept-Encoding": accept });
      assert.equal(r.status, 200);
      assert.equal(r.headers["content-encoding"], coding, accept);
      assert.equal(r.headers["content-length"], undefined);
      assert.equal(r.headers.vary, "Cookie, Accept-Encoding");
      assert.equal(r.headers.etag, 'W/"v1"');
      assert.ok(r.body.length < HTML.length / 4, `${coding}: ${r.body.length} bytes`);
    }
    const plain = await get("/html");
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.equal(plain.body.toString(), HTML);
    assert.equal(plain.headers.vary, "Cookie, Accept-Encoding", "Vary also when not compressed");
    assert.equal(plain.headers.etag, '"v1"');
    assert.equal(
      (await get("/html", { "Accept-Encoding": "gzip;q=0" })).headers["content-encoding"],
      undefined,
    );
  });

  test("encode levels: gzip 1 by default (as nginx), more when asked", async () => {
    const fast = await get("/html", { "Accept-Encoding": "gzip" });
    const best = await get("/best/html", { "Accept-Encoding": "gzip" });
    assert.equal(gunzipSync(fast.body).toString(), HTML);
    assert.equal(gunzipSync(best.body).toString(), HTML);
    assert.ok(
      best.body.length < fast.body.length,
      `level 9: ${best.body.length} < level 1: ${fast.body.length}`,
    );
  });

  test("encode leaves alone: small bodies (of a known length), images, no-transform, already encoded", async () => {
    assert.equal((await get("/tiny", { "Accept-Encoding": "gzip" })).headers["content-encoding"], undefined);
    assert.equal((await get("/png", { "Accept-Encoding": "gzip" })).headers["content-encoding"], undefined);
    const nt = await get("/no-transform", { "Accept-Encoding": "gzip" });
    assert.equal(nt.headers["content-encoding"], undefined);
    assert.equal(nt.body.toString(), HTML);
    const already = await get("/already", { "Accept-Encoding": "br" });
    assert.equal(already.headers["content-encoding"], "gzip");
    assert.equal(already.body.toString(), "not really gzip");
  });

  test("encode flushes each chunk: server-sent events arrive event by event, compressed", async () => {
    const t0 = Date.now();
    const times = await new Promise<number[]>((resolve, reject) => {
      const out: number[] = [];
      httpRequest(`${w.base}/sse`, { headers: { "Accept-Encoding": "gzip" }, agent: false }, (res) => {
        assert.equal(res.headers["content-encoding"], "gzip");
        const gunzip = createGunzip();
        res.pipe(gunzip);
        gunzip.on("data", (c: Buffer) => {
          for (const _ of c.toString().matchAll(/data: /g)) out.push(Date.now() - t0);
        });
        gunzip.on("end", () => resolve(out));
        gunzip.on("error", reject);
      })
        .on("error", reject)
        .end();
    });
    assert.equal(times.length, 3);
    assert.ok(times[0]! < 500, `the first event arrived at ${times[0]} ms, not with the last`);
    assert.ok(times[2]! - times[0]! >= 800, `events spread over time: ${times}`);
  });

  test("X-Accel-Redirect: the file answers, with the app's type, disposition, policy and cookies", async () => {
    const r = await get("/report");
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "a,b\n1,2\n".repeat(500));
    assert.equal(r.headers["content-type"], "text/csv");
    assert.equal(r.headers["content-disposition"], 'attachment; filename="report.csv"');
    assert.equal(r.headers["cache-control"], "private, max-age=60");
    assert.deepEqual(r.headers["set-cookie"], ["seen=1"]);
    assert.equal(r.headers["x-accel-redirect"], undefined, "the header never reaches the client");
    assert.ok(r.headers.etag, "the file's validators");
    const range = await get("/report", { Range: "bytes=0-7" });
    assert.equal(range.status, 206);
    assert.equal(range.body.toString(), "a,b\n1,2\n");
    const notMod = await get("/report", { "If-None-Match": String(r.headers.etag) });
    assert.equal(notMod.status, 304);
    const page = await get("/report-page", { "Accept-Encoding": "br" });
    assert.match(
      String(page.headers["content-type"]),
      /^text\/html/,
      "the file's own type when the app set none",
    );
    assert.equal(page.headers["content-encoding"], "br", "compressed as a static file is");
  });

  test("an internal route is not reachable from outside", async () => {
    assert.equal((await get("/private/report.csv")).status, 404);
  });

  test("X-Sendfile under sendfile_roots is served; outside them, 404", async () => {
    const r = await get("/export");
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 100_000);
    assert.equal(r.headers["content-type"], "application/x-thing");
    assert.equal(r.headers["x-sendfile"], undefined);
    assert.equal((await get("/escape")).status, 404);
  });

  test("intercept_errors: an upstream 5xx gets the site's error page, status kept", async () => {
    const r = await get("/intercepted/status/503");
    assert.equal(r.status, 503);
    assert.equal(r.body.toString(), "<h1>we are down for a moment</h1>\n");
    const ok = await get("/intercepted/status/404");
    assert.equal(ok.status, 404);
    assert.equal(ok.body.toString(), "status 404\n", "4xx pass as the app sent them");
  });

  test("X-Accel-Buffering: no streams the response; the header stays wharf's", async () => {
    const r = await get("/unbuffered");
    assert.equal(r.body.toString(), "streamed as it comes\n");
    assert.equal(r.headers["x-accel-buffering"], undefined);
  });
});
