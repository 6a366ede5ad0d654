import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { connect as h2connect } from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hashPassword } from "../../src/handlers/basic-auth/passwords.ts";
import { makeCert } from "../helpers/certs.ts";
import { type Client, clientFor, PROTOCOLS } from "../helpers/clients.ts";
import { raw } from "../helpers/http.ts";
import { type NodeUpstream, nodeUpstream } from "../helpers/node-upstream.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

// The guards in front of an app, each over HTTP/1.1, HTTP/1.1 on TLS and HTTP/2, in the
// config shape the issue gives (a route holding only a filter applies it and goes on).

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;

for (const proto of PROTOCOLS)
  describe(`guards over ${proto}`, () => {
    let w: Running;
    let app: NodeUpstream;
    let auth: Server;
    let client: Client;
    let tree: ReturnType<typeof makeTree>;
    let ca: Buffer;

    before(async () => {
      tree = makeTree({
        "www/page.html": "<p>page</p>\n",
        "www/docs/index.html": "docs\n",
        "www/about.html": "about\n",
      });
      app = await nodeUpstream("app");
      // An auth service: a session cookie "ok" passes (and names the user), else a 302 to /login.
      auth = createServer((req, res) => {
        if ((req.headers.cookie ?? "").includes("session=ok")) {
          res.writeHead(200, { "X-User": "alice", "X-Other": "not copied" });
          return res.end();
        }
        res.writeHead(302, {
          Location: `/login?next=${req.headers["x-forwarded-uri"]}`,
          "Set-Cookie": "tried=1",
        });
        res.end("go log in\n");
      });
      await new Promise<void>((r) => auth.listen(0, "127.0.0.1", r));
      const authPort = (auth.address() as AddressInfo).port;
      const hash = await hashPassword("s3cret");
      const port = await freePort();
      const cert = makeCert(tree.dir, "site", ["localhost", "127.0.0.1"]);
      ca = (await import("node:fs")).readFileSync(cert.cert);
      const tls = proto === "h1" ? "" : `\n    tls: { cert: ${cert.cert}, key: ${cert.key} }`;
      writeFileSync(
        join(tree.dir, "wharf.yaml"),
        `server: { workers: 1 }
sites:
  - listen: ["127.0.0.1:${port}"]${tls}
    access_log: off
    routes:
      - match: { path: /admin }
        basic_auth: { realm: staff, users: { alice: "${hash}" } }
      - match: { path: /lan }
        ip_filter: { allow: [10.0.0.0/8] }
      - match: { path: /local }
        ip_filter: { allow: [127.0.0.0/8, "::1"], deny: [127.0.0.2] }
      - match: { path: /limited }
        rate_limit: { key: "{client_ip}", rate: 1/m, burst: 2 }
      - match: { path: /members }
        forward_auth: { to: "http://127.0.0.1:${authPort}", uri: /check, copy_headers: [X-User] }
      - match: { path: /old }
        rewrite: { path: "^/old/(.*)$", to: "/echo/new/{1}" }
      - match: { path: /drop }
        abort: {}
      - match: { path: /site }
        static: { root: www, strip_prefix: /site, try_files: ["{path}", "{path}.html", "{path}/"] }
      - proxy: { to: ["http://127.0.0.1:${app.port}"] }
`,
      );
      w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
      client = clientFor(proto, port, ca);
    });
    after(async () => {
      await w?.stop();
      await app?.close();
      auth?.close();
      tree?.cleanup();
    });

    test("basic_auth: 401 with the realm without credentials or with wrong ones; the right ones pass", async () => {
      const none = await client.request("/admin/echo");
      assert.equal(none.status, 401);
      assert.equal(none.headers["www-authenticate"], 'Basic realm="staff", charset="UTF-8"');
      assert.equal(
        (await client.request("/admin/echo", { headers: { Authorization: basic("alice", "nope") } })).status,
        401,
      );
      assert.equal(
        (await client.request("/admin/echo", { headers: { Authorization: basic("mallory", "s3cret") } }))
          .status,
        401,
      );
      const ok = await client.request("/admin/echo", {
        headers: { Authorization: basic("alice", "s3cret") },
      });
      assert.equal(ok.status, 200, "a route holding only a filter goes on to the next routes (the app)");
      assert.equal(JSON.parse(ok.body.toString()).path, "/admin/echo");
      // Verified once: the second time is answered from the cache of verified credentials.
      const t0 = performance.now();
      await client.request("/admin/echo", { headers: { Authorization: basic("alice", "s3cret") } });
      assert.ok(performance.now() - t0 < 150, "no slow hash the second time");
    });

    test("ip_filter: 403 outside the allow list or on the deny list; IPv4-mapped addresses count as IPv4", async () => {
      assert.equal((await client.request("/lan/echo")).status, 403);
      assert.equal((await client.request("/local/echo")).status, 200);
    });

    test("rate_limit: the burst, then 429 with Retry-After and the RateLimit fields", async () => {
      const a = await client.request("/limited/echo");
      const b = await client.request("/limited/echo");
      const c = await client.request("/limited/echo");
      assert.deepEqual([a.status, b.status, c.status], [200, 200, 429]);
      assert.match(String(c.headers["retry-after"]), /^\d+$/);
      assert.ok(Number(c.headers["retry-after"]) > 1 && Number(c.headers["retry-after"]) <= 60);
      assert.match(String(c.headers["ratelimit-policy"]), /^"[a-z0-9_-]+";q=1;w=60$/);
      assert.match(String(c.headers.ratelimit), /;r=0;t=\d+$/);
      assert.match(String(a.headers["ratelimit-policy"]), /;q=1;w=60$/);
    });

    test("forward_auth: a 2xx lets through with the listed fields copied; anything else reaches the client as is", async () => {
      const out = await client.request("/members/echo", { headers: { "X-User": "forged" } });
      assert.equal(out.status, 302);
      assert.equal(out.headers.location, "/login?next=/members/echo");
      assert.equal(out.body.toString(), "go log in\n");
      const ok = await client.request("/members/echo", {
        headers: { Cookie: "session=ok", "X-User": "forged" },
      });
      assert.equal(ok.status, 200);
      const seen = JSON.parse(ok.body.toString()).headers;
      assert.equal(seen["X-User"], "alice", "the auth service's value, never the client's");
      assert.equal(seen["X-Other"], undefined);
    });

    test("rewrite: the routes after it see the new path, the query kept", async () => {
      const r = await client.request("/old/a/b?x=1");
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.body.toString());
      assert.equal(seen.path, "/echo/new/a/b");
      assert.equal(seen.query, "x=1");
    });

    test("static try_files: {path}, then {path}.html, then the directory's index", async () => {
      assert.equal((await client.request("/site/page.html")).body.toString(), "<p>page</p>\n");
      assert.equal((await client.request("/site/about")).body.toString(), "about\n");
      assert.equal((await client.request("/site/docs")).body.toString(), "docs\n");
      assert.equal((await client.request("/site/nothing")).status, 404);
    });

    if (proto === "h1")
      test("abort: the connection closes without an answer", async () => {
        const r = await raw(w.port, "GET /drop HTTP/1.1\r\nHost: x\r\n\r\n");
        assert.equal(r.text, "");
      });
    if (proto === "h2")
      test("abort: the stream is reset, the connection carries on", async () => {
        const s = h2connect(`https://127.0.0.1:${w.port}`, { ca });
        await new Promise((r) => s.once("connect", r));
        const code = await new Promise<number>((resolve) => {
          const req = s.request({ ":path": "/drop" });
          req.on("close", () => resolve(req.rstCode));
          req.on("error", () => {});
          req.end();
        });
        assert.equal(code, 8, "RST_STREAM(CANCEL)");
        const ok = s.request({ ":path": "/echo" });
        const status = await new Promise((r) => ok.on("response", (h) => r(h[":status"])));
        assert.equal(status, 200);
        ok.resume();
        s.close();
      });
  });
