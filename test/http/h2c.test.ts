import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect } from "node:http2";
import { join } from "node:path";
import { test } from "node:test";
import { raw, request } from "../helpers/http.ts";
import { needs } from "../helpers/tools.ts";
import { freePort, makeTree, startWharf } from "../helpers/wharf.ts";

async function h2cGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const s = connect(`http://127.0.0.1:${port}`);
  try {
    const req = s.request({ ":path": path });
    let status = 0;
    let body = "";
    req.on("response", (h) => {
      status = Number(h[":status"]);
    });
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      body += d;
    });
    await new Promise<void>((resolve, reject) => {
      req.on("end", resolve);
      req.on("error", reject);
    });
    return { status, body };
  } finally {
    s.close();
  }
}

test("h2c: HTTP/2 with prior knowledge and HTTP/1.1 on one cleartext port; off by default", async () => {
  const tree = makeTree({ "www/index.html": "hello h2c\n" });
  for (const h2c of [true, false]) {
    const port = await freePort();
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 1, h2c: ${h2c} }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes: [{ static: { root: www } }]
`,
    );
    const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
    try {
      if (h2c) {
        const r = await h2cGet(port, "/index.html");
        assert.equal(r.status, 200);
        assert.equal(r.body, "hello h2c\n");
      } else {
        const r = await raw(port, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert.match(r.text, /^HTTP\/1.1 505 /);
      }
      // HTTP/1.1 on the same port, including a first packet that is only "P".
      assert.equal((await request(w.base, "/index.html")).status, 200);
      const split = await raw(
        port,
        ["P", "UT /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
        {
          gapMs: 50,
        },
      );
      assert.match(split.text, /^HTTP\/1.1 405 /);
    } finally {
      await w.stop();
    }
  }
  tree.cleanup();
});

test("h2c: curl --http2-prior-knowledge", needs("curl"), async () => {
  const tree = makeTree({ "www/index.html": "curl h2c\n" });
  const port = await freePort();
  writeFileSync(
    join(tree.dir, "wharf.yaml"),
    `server: { workers: 1, h2c: true }\nsites:\n  - listen: ["127.0.0.1:${port}"]\n    access_log: off\n    routes: [{ static: { root: www } }]\n`,
  );
  const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  try {
    const out = execFileSync("curl", [
      "-s",
      "-i",
      "--http2-prior-knowledge",
      `http://127.0.0.1:${port}/index.html`,
    ]).toString();
    assert.match(out, /^HTTP\/2 200/);
    assert.ok(out.endsWith("curl h2c\n"));
  } finally {
    await w.stop();
    tree.cleanup();
  }
});
