import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type AppServer, pattern, uwsgi } from "../helpers/appserver.ts";
import { request } from "../helpers/http.ts";
import { hashedRequest, sha256 } from "../helpers/stream-request.ts";
import { needs } from "../helpers/tools.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

// uWSGI in each of its modes, over TCP and unix sockets: HTTP, the uwsgi protocol, FastCGI.
// uWSGI's http-socket does not read chunked request bodies, so those sites buffer requests
// (which sends a Content-Length), as the README advises; uwsgi and FastCGI get that always.
const MODES = [
  { name: "uwsgi protocol over TCP", mode: "socket", scheme: "uwsgi", unix: false },
  { name: "uwsgi protocol over a unix socket", mode: "socket", scheme: "uwsgi", unix: true },
  { name: "FastCGI over TCP", mode: "fastcgi-socket", scheme: "fastcgi", unix: false },
  { name: "FastCGI over a unix socket", mode: "fastcgi-socket", scheme: "fastcgi", unix: true },
  { name: "HTTP over a unix socket", mode: "http-socket", scheme: "http", unix: true },
  { name: "HTTP over TCP", mode: "http-socket", scheme: "http", unix: false },
] as const;

describe("reverse proxy to uWSGI", needs("uwsgi", "python3:flask"), () => {
  const servers: AppServer[] = [];
  let w: Running;
  let tree: ReturnType<typeof makeTree>;
  before(async () => {
    tree = makeTree({});
    const port = await freePort();
    let sites = "";
    for (const [i, m] of MODES.entries()) {
      const bind = m.unix ? { path: join(tree.dir, `app${i}.sock`) } : { port: await freePort() };
      servers.push(await uwsgi(m.mode, bind));
      const to =
        "path" in bind
          ? `${m.scheme === "http" ? "" : `${m.scheme}+`}unix:${bind.path}`
          : `${m.scheme}://127.0.0.1:${bind.port}`;
      sites += `  - hosts: [m${i}.test]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy: { to: "${to}", strip_prefix: /mount${m.scheme === "http" ? ", buffer_requests: true" : ""} }
`;
    }
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 1, limits: { max_body_size: 64MB } }\nsites:\n${sites}`,
    );
    w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  });
  after(async () => {
    await w?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    tree?.cleanup();
  });

  for (const [i, m] of MODES.entries()) {
    const host = { Host: `m${i}.test:8080` };
    test(`${m.name}: CGI variables a WSGI app expects`, async () => {
      const r = await request(w.base, "/mount/echo/a%20b?x=1&y=2", { headers: { ...host, "X-Custom": "c" } });
      assert.equal(r.status, 200, r.body.toString());
      const e = JSON.parse(r.body.toString());
      assert.equal(e.method, "GET");
      assert.equal(e.query, "x=1&y=2");
      assert.equal(e.headers["X-Custom"], "c");
      assert.equal(e.headers["X-Forwarded-For"], "127.0.0.1");
      if (m.scheme !== "http") {
        assert.equal(e.script_name, "/mount");
        assert.equal(e.path_info, "/echo/a b");
        assert.equal(e.server_name, `m${i}.test`);
        assert.equal(e.server_port, "8080");
        assert.equal(e.remote_addr, "127.0.0.1");
        assert.equal(e.scheme, "http");
      }
    });
    test(`${m.name}: 10 MiB down, 5 MiB up (Content-Length and chunked), by sha256`, async () => {
      const down = await hashedRequest(`${w.base}/mount/download/${10 * 1024 * 1024}?chunked=1`, {
        headers: host,
      });
      assert.equal(down.status, 200);
      assert.equal(down.sha256, sha256(pattern(10 * 1024 * 1024)));
      for (const chunked of [false, true]) {
        const body = pattern(5 * 1024 * 1024 + 3);
        const up = await hashedRequest(`${w.base}/mount/upload`, {
          method: "POST",
          headers: host,
          body,
          chunked,
        });
        assert.equal(up.status, 200, up.text);
        assert.equal(JSON.parse(up.text).sha256, sha256(body));
      }
      const empty = await hashedRequest(`${w.base}/mount/upload`, {
        method: "POST",
        headers: host,
        body: Buffer.alloc(0),
      });
      assert.equal(JSON.parse(empty.text).size, 0);
    });
    test(`${m.name}: statuses and redirects come through`, async () => {
      assert.equal((await request(w.base, "/mount/status/418", { headers: host })).status, 418);
      const redirect = await request(w.base, "/mount/redirect", { headers: host });
      assert.equal(redirect.status, 302);
      assert.match(String(redirect.headers.location), /\/echo$/);
    });
  }
});
