import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, get } from "node:http";
import { connect } from "node:http2";
import { join } from "node:path";
import { test } from "node:test";
import { makeCert } from "../helpers/certs.ts";
import { raw } from "../helpers/http.ts";
import { freePort, makeTree, startWharf } from "../helpers/wharf.ts";

test("trailers from the upstream reach HTTP/1.1 (chunked) and HTTP/2 clients; forbidden ones do not", async () => {
  const upstream = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain", Trailer: "X-Checksum, Set-Cookie" });
    res.write("hello ");
    res.write("world");
    res.addTrailers({ "X-Checksum": "abc123", "Set-Cookie": "a=b" });
    res.end();
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const up = (upstream.address() as { port: number }).port;
  const tree = makeTree({});
  const c = makeCert(tree.dir, "c", ["localhost", "127.0.0.1"]);
  const [plain, secure] = [await freePort(), await freePort()];
  writeFileSync(
    join(tree.dir, "wharf.yaml"),
    `server: { workers: 1 }
sites:
  - listen: ["127.0.0.1:${plain}"]
    access_log: off
    routes: [{ proxy: { to: ["http://127.0.0.1:${up}"] } }]
  - listen: ["127.0.0.1:${secure}"]
    access_log: off
    tls: { cert: ${c.cert}, key: ${c.key} }
    routes: [{ proxy: { to: ["http://127.0.0.1:${up}"] } }]
`,
  );
  const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port: plain });
  try {
    // HTTP/1.1: a chunked body, Trailer announced, the allowed field after the last chunk.
    const h1 = await new Promise<{
      body: string;
      trailers: NodeJS.Dict<string>;
      trailer?: string | undefined;
    }>((resolve, reject) =>
      get(`http://127.0.0.1:${plain}/t`, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("end", () => resolve({ body, trailers: res.trailers, trailer: res.headers.trailer }));
      }).on("error", reject),
    );
    assert.equal(h1.body, "hello world");
    assert.deepEqual(h1.trailers, { "x-checksum": "abc123" });
    assert.equal(h1.trailer, "x-checksum");
    const bytes = await raw(plain, "GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(bytes.text, /\r\n0\r\nx-checksum: abc123\r\n\r\n$/);
    // HTTP/1.0 has no chunked framing, so no trailers; the body is whole.
    const old = await raw(plain, "GET /t HTTP/1.0\r\n\r\n");
    assert.ok(old.text.endsWith("\r\n\r\nhello world"), JSON.stringify(old));
    // HTTP/2: a trailing HEADERS frame.
    const s = connect(`https://127.0.0.1:${secure}`, { ca: readFileSync(c.cert) });
    const h2 = await new Promise<{ body: string; trailers: Record<string, unknown> }>((resolve, reject) => {
      const req = s.request({ ":path": "/t" });
      let body = "";
      let trailers: Record<string, unknown> = {};
      req.setEncoding("utf8");
      req.on("data", (d: string) => {
        body += d;
      });
      req.on("trailers", (t) => {
        trailers = t;
      });
      req.on("end", () => resolve({ body, trailers }));
      req.on("error", reject);
    });
    s.close();
    assert.equal(h2.body, "hello world");
    assert.equal(h2.trailers["x-checksum"], "abc123");
    assert.equal(h2.trailers["set-cookie"], undefined);
  } finally {
    await w.stop();
    upstream.close();
    tree.cleanup();
  }
});
