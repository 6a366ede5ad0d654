import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { brotliDecompressSync, gunzipSync, zstdDecompressSync } from "node:zlib";
import { makeCert } from "../helpers/certs.ts";
import { type Client, clientFor, PROTOCOLS } from "../helpers/clients.ts";
import { raw, splitResponses } from "../helpers/http.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const big = randomBytes(3 * 1024 * 1024 + 17);
const text = Buffer.from("<!doctype html><title>t</title>\n".repeat(200));
const small = Buffer.from("0123456789abcdefghijklmnopqrstuvwxyz");

for (const proto of PROTOCOLS)
  describe(`static files over ${proto}`, () => {
    let w: Running;
    let client: Client;
    let tree: ReturnType<typeof makeTree>;
    let outside: ReturnType<typeof makeTree>;
    before(async () => {
      outside = makeTree({ "secret.txt": "outside the root\n" });
      tree = makeTree({
        "www/index.html": "<!doctype html><title>home</title>\n",
        "www/small.txt": small,
        "www/page.html": text,
        "www/big.bin": big,
        "www/big.txt": Buffer.from("wharf big text line\n".repeat(300_000)),
        "www/pixel.png": randomBytes(4096),
        "www/app.js": "console.log('identity');\n".repeat(100),
        "www/app.js.br": "pretend-brotli",
        "www/app.js.gz": "pretend-gzip",
        "www/data.unknownext": "??",
        "www/dir/index.html": "dir index\n",
        "www/list/a.txt": "a",
        "www/list/.hidden": "h",
        "www/list/sub/b.txt": "b",
        "www/.env": "SECRET=1",
        "www/.git/config": "[core]",
        "www/.well-known/security.txt": "Contact: mailto:x@example.com\n",
        "www/assets/app.3f9a.js": "let hashed = 1;\n",
        "www/caf\u00e9.txt": "utf8 name\n",
        "www/change.txt": "version one\n",
        "www/404.html": "<h1>custom not found</h1>\n",
        "spa/index.html": "<!doctype html><title>spa</title>\n",
        "spa/real.txt": "real\n",
      });
      symlinkSync(join(outside.dir, "secret.txt"), join(tree.dir, "www/escape.txt"));
      symlinkSync(join(tree.dir, "www/small.txt"), join(tree.dir, "www/inside-link.txt"));
      const port = await freePort();
      // Over TLS, every site serves one certificate naming them all.
      const cert = makeCert(tree.dir, "sites", ["localhost", "127.0.0.1", "browse.test", "spa.test"]);
      const tls = proto === "h1" ? "" : `\n    tls: { cert: ${cert.cert}, key: ${cert.key} }`;
      writeFileSync(
        join(tree.dir, "wharf.yaml"),
        `server: { workers: 1 }
sites:
  - hosts: [browse.test]
    listen: ["127.0.0.1:${port}"]${tls}
    access_log: off
    routes:
      - static: { root: www, browse: true }
  - hosts: [spa.test]
    listen: ["127.0.0.1:${port}"]${tls}
    access_log: off
    routes:
      - static: { root: spa, spa: /index.html }
  - listen: ["127.0.0.1:${port}"]${tls}
    access_log: off
    error_pages: { "404": www/404.html }
    routes:
      - static:
          root: www
          cache_control:
            - { match: "*.html", value: no-cache }
            - { match: "/assets/**", value: "public, max-age=31536000, immutable" }
`,
      );
      w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
      client = clientFor(proto, port, readFileSync(cert.cert));
    });
    after(async () => {
      await w?.stop();
      tree?.cleanup();
      outside?.cleanup();
    });

    test("GET answers with the bytes and full metadata", async () => {
      const r = await client.request("/small.txt");
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, small);
      assert.equal(r.headers["content-type"], "text/plain; charset=utf-8");
      assert.equal(r.headers["content-length"], String(small.length));
      assert.match(String(r.headers.etag), /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
      assert.ok(r.headers["last-modified"]);
      assert.equal(r.headers["accept-ranges"], "bytes");
      assert.equal(r.headers["x-content-type-options"], "nosniff");
      assert.ok(r.headers.date);
      const again = await client.request("/small.txt");
      assert.equal(again.headers.etag, r.headers.etag, "ETag is stable");
    });

    test("HEAD has GET's headers and no body", async () => {
      const g = await client.request("/big.bin");
      const h = await client.request("/big.bin", { method: "HEAD" });
      assert.equal(h.status, 200);
      assert.equal(h.body.length, 0);
      assert.equal(h.headers["content-length"], String(big.length));
      assert.equal(h.headers.etag, g.headers.etag);
      if (proto === "h1") {
        const r = await raw(w.port, "HEAD /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert.match(r.text, /content-length: 36\r\n/i);
        assert.ok(r.text.endsWith("\r\n\r\n"), "no body bytes after a HEAD response");
      }
    });

    test("other methods: 405 with Allow; OPTIONS lists them", async () => {
      for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
        const r = await client.request("/small.txt", { method });
        assert.equal(r.status, 405, method);
        assert.equal(r.headers.allow, "GET, HEAD, OPTIONS");
      }
      const o = await client.request("/small.txt", { method: "OPTIONS" });
      assert.equal(o.status, 204);
      assert.equal(o.headers.allow, "GET, HEAD, OPTIONS");
      // OPTIONS * (the whole server); node's HTTP/1.1 client cannot send it, so raw bytes there.
      const star =
        proto === "h1"
          ? {
              status: Number(
                (await raw(w.port, "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).text.slice(
                  9,
                  12,
                ),
              ),
            }
          : await client.request("*", { method: "OPTIONS" });
      assert.equal(star.status, 204);
    });

    test("conditional requests: 304 and 412", async () => {
      const r = await client.request("/small.txt");
      const etag = String(r.headers.etag);
      const lm = String(r.headers["last-modified"]);
      const nm = await client.request("/small.txt", { headers: { "If-None-Match": etag } });
      assert.equal(nm.status, 304);
      assert.equal(nm.body.length, 0);
      assert.equal(nm.headers.etag, etag);
      assert.equal(
        (await client.request("/small.txt", { headers: { "If-None-Match": `"nope", W/${etag}` } })).status,
        304,
      );
      assert.equal((await client.request("/small.txt", { headers: { "If-None-Match": "*" } })).status, 304);
      assert.equal(
        (await client.request("/small.txt", { headers: { "If-Modified-Since": lm } })).status,
        304,
      );
      assert.equal(
        (
          await client.request("/small.txt", {
            headers: { "If-None-Match": '"other"', "If-Modified-Since": lm },
          })
        ).status,
        200,
        "If-Modified-Since is ignored when If-None-Match is present",
      );
      const old = "Sat, 01 Jan 2000 00:00:00 GMT";
      assert.equal(
        (await client.request("/small.txt", { headers: { "If-Modified-Since": old } })).status,
        200,
      );
      assert.equal((await client.request("/small.txt", { headers: { "If-Match": '"other"' } })).status, 412);
      assert.equal((await client.request("/small.txt", { headers: { "If-Match": etag } })).status, 200);
      assert.equal(
        (await client.request("/small.txt", { headers: { "If-Unmodified-Since": old } })).status,
        412,
      );
    });

    test("ranges: single, suffix, open-ended, multipart, unsatisfiable, If-Range", async () => {
      const one = await client.request("/small.txt", { headers: { Range: "bytes=0-9" } });
      assert.equal(one.status, 206);
      assert.equal(one.body.toString(), "0123456789");
      assert.equal(one.headers["content-range"], "bytes 0-9/36");
      assert.equal(
        (await client.request("/small.txt", { headers: { Range: "bytes=-6" } })).body.toString(),
        "uvwxyz",
      );
      assert.equal(
        (await client.request("/small.txt", { headers: { Range: "bytes=30-" } })).body.toString(),
        "uvwxyz",
      );
      const bad = await client.request("/small.txt", { headers: { Range: "bytes=100-200" } });
      assert.equal(bad.status, 416);
      assert.equal(bad.headers["content-range"], "bytes */36");
      const multi = await client.request("/small.txt", { headers: { Range: "bytes=0-1,10-11" } });
      assert.equal(multi.status, 206);
      const ct = String(multi.headers["content-type"]);
      const boundary = /^multipart\/byteranges; boundary=(.+)$/.exec(ct)?.[1];
      assert.ok(boundary, ct);
      assert.equal(
        multi.body.toString(),
        `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/36\r\n\r\n01` +
          `\r\n--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 10-11/36\r\n\r\nab` +
          `\r\n--${boundary}--\r\n`,
      );
      assert.equal(Number(multi.headers["content-length"]), multi.body.length);
      const merged = await client.request("/small.txt", { headers: { Range: "bytes=0-5,3-9" } });
      assert.equal(merged.headers["content-range"], "bytes 0-9/36", "overlapping ranges are merged");
      const adjacent = Array.from({ length: 30 }, (_, i) => `${i}-${i}`).join(",");
      const coalesced = await client.request("/small.txt", { headers: { Range: `bytes=${adjacent}` } });
      assert.equal(
        coalesced.headers["content-range"],
        "bytes 0-29/36",
        "30 adjacent ranges coalesce into one",
      );
      const spread = Array.from({ length: 20 }, (_, i) => `${i * 2}-${i * 2}`).join(",");
      assert.equal(
        (await client.request("/page.html", { headers: { Range: `bytes=${spread}` } })).status,
        200,
        "too many ranges: whole file",
      );
      const etag = String(one.headers.etag);
      assert.equal(
        (await client.request("/small.txt", { headers: { Range: "bytes=0-1", "If-Range": etag } })).status,
        206,
      );
      assert.equal(
        (await client.request("/small.txt", { headers: { Range: "bytes=0-1", "If-Range": '"stale"' } }))
          .status,
        200,
      );
      const bigRange = await client.request("/big.bin", { headers: { Range: "bytes=1000000-1000099" } });
      assert.equal(bigRange.status, 206);
      assert.deepEqual(bigRange.body, big.subarray(1_000_000, 1_000_100));
      const bigMulti = await client.request("/big.bin", { headers: { Range: "bytes=0-9,-10" } });
      assert.equal(bigMulti.status, 206);
      assert.ok(bigMulti.body.includes(big.subarray(0, 10)));
      assert.ok(bigMulti.body.includes(big.subarray(big.length - 10)));
      assert.equal(Number(bigMulti.headers["content-length"]), bigMulti.body.length);
    });

    test("large files stream whole and intact", async () => {
      const r = await client.request("/big.bin");
      assert.equal(r.status, 200);
      assert.equal(r.body.length, big.length);
      assert.equal(sha(r.body), sha(big));
      assert.equal(r.headers["content-type"], "application/octet-stream");
    });

    test("compression: negotiated by q-value, cached, never for images", async () => {
      const decoders = { br: brotliDecompressSync, gzip: gunzipSync, zstd: zstdDecompressSync };
      for (const [coding, decode] of Object.entries(decoders)) {
        const r = await client.request("/page.html", { headers: { "Accept-Encoding": coding } });
        assert.equal(r.headers["content-encoding"], coding);
        assert.equal(r.headers.vary, "Accept-Encoding");
        assert.ok(r.body.length < text.length);
        assert.deepEqual(decode(r.body), text);
        assert.match(String(r.headers.etag), new RegExp(`-${coding}"$`));
      }
      const pref = await client.request("/page.html", {
        headers: { "Accept-Encoding": "gzip;q=1, br;q=0.5" },
      });
      assert.equal(pref.headers["content-encoding"], "gzip");
      const none = await client.request("/page.html", { headers: { "Accept-Encoding": "identity" } });
      assert.equal(none.headers["content-encoding"], undefined);
      assert.deepEqual(none.body, text);
      const png = await client.request("/pixel.png", { headers: { "Accept-Encoding": "gzip, br" } });
      assert.equal(png.headers["content-encoding"], undefined);
      const tiny = await client.request("/small.txt", { headers: { "Accept-Encoding": "gzip, br" } });
      assert.equal(tiny.headers["content-encoding"], undefined, "below the size threshold");
      // A compressed representation has its own validators and ranges.
      const nm = await client.request("/page.html", {
        headers: {
          "Accept-Encoding": "br",
          "If-None-Match": String(
            (await client.request("/page.html", { headers: { "Accept-Encoding": "br" } })).headers.etag,
          ),
        },
      });
      assert.equal(nm.status, 304);
      const bigText = await client.request("/big.txt", { headers: { "Accept-Encoding": "gzip" } });
      assert.equal(bigText.headers["content-encoding"], "gzip");
      assert.equal(gunzipSync(bigText.body).toString(), "wharf big text line\n".repeat(300_000));
    });

    test("precompressed sidecars are preferred and keep their own bytes", async () => {
      const br = await client.request("/app.js", { headers: { "Accept-Encoding": "gzip, br" } });
      assert.equal(br.headers["content-encoding"], "br");
      assert.equal(br.body.toString(), "pretend-brotli");
      assert.equal(br.headers["content-type"], "text/javascript; charset=utf-8");
      const gz = await client.request("/app.js", { headers: { "Accept-Encoding": "gzip" } });
      assert.equal(gz.body.toString(), "pretend-gzip");
      assert.notEqual(gz.headers.etag, br.headers.etag);
      const id = await client.request("/app.js");
      assert.equal(id.headers["content-encoding"], undefined);
      assert.match(id.body.toString(), /identity/);
    });

    test("index files, directory redirect keeping the query, no listing by default", async () => {
      const dir = await client.request("/dir?x=1&y=2");
      assert.equal(dir.status, 301);
      assert.equal(dir.headers.location, "/dir/?x=1&y=2");
      const idx = await client.request("/dir/");
      assert.equal(idx.status, 200);
      assert.equal(idx.body.toString(), "dir index\n");
      assert.equal((await client.request("/list/")).status, 404);
      assert.equal((await client.request("/small.txt/")).status, 404);
    });

    test("directory listings in HTML and JSON when enabled", async () => {
      const html = await client.request("/list/", { headers: { Host: "browse.test" } });
      assert.equal(html.status, 200);
      assert.match(String(html.headers["content-type"]), /^text\/html/);
      assert.match(html.body.toString(), /href="a.txt"/);
      assert.match(html.body.toString(), /href="sub\/"/);
      assert.doesNotMatch(html.body.toString(), /hidden/);
      const json = await client.request("/list/", {
        headers: { Host: "browse.test", Accept: "application/json" },
      });
      assert.match(String(json.headers["content-type"]), /^application\/json/);
      const items = JSON.parse(json.body.toString()) as { name: string; type: string }[];
      assert.deepEqual(
        items.map((i) => [i.name, i.type]),
        [
          ["sub", "directory"],
          ["a.txt", "file"],
        ],
      );
    });

    test("SPA fallback answers unknown paths with /index.html", async () => {
      const r = await client.request("/some/client/route", { headers: { Host: "spa.test" } });
      assert.equal(r.status, 200);
      assert.match(r.body.toString(), /<title>spa<\/title>/);
      assert.equal(
        (await client.request("/real.txt", { headers: { Host: "spa.test" } })).body.toString(),
        "real\n",
      );
    });

    test("per-site error page and Cache-Control rules", async () => {
      const r = await client.request("/missing");
      assert.equal(r.status, 404);
      assert.equal(r.body.toString(), "<h1>custom not found</h1>\n");
      assert.equal((await client.request("/page.html")).headers["cache-control"], "no-cache");
      assert.equal(
        (await client.request("/assets/app.3f9a.js")).headers["cache-control"],
        "public, max-age=31536000, immutable",
      );
      assert.equal((await client.request("/small.txt")).headers["cache-control"], undefined);
      // A directory's index page is an HTML page like any other: `*.html` covers it.
      assert.equal((await client.request("/")).headers["cache-control"], "no-cache");
      assert.equal((await client.request("/dir/")).headers["cache-control"], "no-cache");
      const def = await client.request("/missing", { headers: { Host: "browse.test" } });
      assert.equal(def.status, 404);
      assert.match(def.body.toString(), /request id: [0-9a-f]+-[0-9a-z]+/);
    });

    test("dotfiles hidden except /.well-known/", async () => {
      assert.equal((await client.request("/.env")).status, 404);
      assert.equal((await client.request("/.git/config")).status, 404);
      assert.equal((await client.request("/.well-known/security.txt")).status, 200);
    });

    test("no path escapes the root", async () => {
      const attempts = [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/..%5c..%5cetc%5cpasswd",
        "/dir/..%2f..%2f..%2fetc/passwd",
        "/%c0%ae%c0%ae/etc/passwd",
        "/small.txt%00.html",
        "/%u002e%u002e/etc/passwd",
      ];
      for (const path of attempts) {
        const r = await client.request(path);
        assert.ok(r.status === 400 || r.status === 404, `${path} → ${r.status}`);
        assert.doesNotMatch(r.body.toString("latin1"), /root:/);
      }
      assert.equal((await client.request("/escape.txt")).status, 404, "symlink out of the root");
      assert.equal((await client.request("/inside-link.txt")).status, 200, "symlink within the root");
      assert.equal((await client.request("/caf%C3%A9.txt")).body.toString(), "utf8 name\n");
      assert.equal(
        (await client.request("/data.unknownext")).headers["content-type"],
        "application/octet-stream",
      );
    });

    test("a changed file is served fresh (cache revalidated)", async () => {
      const first = await client.request("/change.txt");
      assert.equal(first.body.toString(), "version one\n");
      writeFileSync(join(tree.dir, "www/change.txt"), "version two, longer\n");
      const t = new Date(Date.now() + 5000);
      utimesSync(join(tree.dir, "www/change.txt"), t, t);
      await new Promise((r) => setTimeout(r, 1100));
      const second = await client.request("/change.txt");
      assert.equal(second.body.toString(), "version two, longer\n");
      assert.notEqual(second.headers.etag, first.headers.etag);
    });

    test(
      "HTTP/1.0 and keep-alive with pipelining",
      { skip: proto !== "h1" && "HTTP/1.1 on a plain socket only" },
      async () => {
        const r10 = await raw(w.port, "GET /small.txt HTTP/1.0\r\n\r\n");
        assert.match(r10.text, /^HTTP\/1.1 200 OK/);
        assert.ok(r10.text.endsWith(small.toString()));
        const piped = await raw(
          w.port,
          "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /small.txt HTTP/1.1\r\nHost: x\r\n\r\n" +
            "GET /missing HTTP/1.1\r\nHost: x\r\n\r\nGET /dir/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        const parts = splitResponses(piped.text, ["GET", "HEAD", "GET", "GET"]);
        assert.deepEqual(
          parts.map((p) => p.status),
          [200, 200, 404, 200],
        );
        assert.equal(parts[0]?.body, small.toString());
        assert.equal(parts[1]?.body, "");
        assert.equal(parts[3]?.body, "dir index\n");
      },
    );
  });
