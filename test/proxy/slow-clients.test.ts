import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type AppServer, gunicorn, pattern } from "../helpers/appserver.ts";
import { request } from "../helpers/http.ts";
import { needs } from "../helpers/tools.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

// gunicorn's deploy docs: with sync workers, the proxy in front must buffer slow clients,
// or the app is "easily susceptible to denial-of-service attacks". One sync worker with a
// 3 s timeout: a slow download or a slow upload must not hold it, and both must arrive
// whole.

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** GET `path` over a raw socket, reading at about `bytesPerSecond`; resolves with the body. */
function slowDownload(port: number, path: string, bytesPerSecond: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () =>
      s.write(`GET ${path} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n`),
    );
    const parts: Buffer[] = [];
    const t0 = Date.now();
    let got = 0;
    s.on("data", (c: Buffer) => {
      parts.push(c);
      got += c.length;
      // Ahead of the pace: stop reading until the clock catches up.
      const ahead = got / bytesPerSecond - (Date.now() - t0) / 1000;
      if (ahead > 0) {
        s.pause();
        setTimeout(() => s.resume(), ahead * 1000);
      }
    });
    s.on("end", () => {
      const raw = Buffer.concat(parts);
      resolve(raw.subarray(raw.indexOf("\r\n\r\n") + 4));
    });
    s.on("error", reject);
  });
}

/** POSTs `body` over a raw socket in pieces spread over `ms`; resolves with the response text. */
function slowUpload(port: number, path: string, body: Buffer, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let out = "";
    s.on("data", (c: Buffer) => {
      out += c.toString();
    });
    s.on("end", () => resolve(out));
    s.on("error", reject);
    s.write(
      `POST ${path} HTTP/1.1\r\nHost: app\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    const pieces = 20;
    const size = Math.ceil(body.length / pieces);
    for (let i = 0; i < pieces; i++)
      setTimeout(() => s.write(body.subarray(i * size, (i + 1) * size)), (ms / pieces) * (i + 1));
  });
}

describe(
  "buffering shields a sync gunicorn worker from slow clients",
  needs("gunicorn", "python3:flask"),
  () => {
    let app: AppServer;
    let w: Running;
    let tree: ReturnType<typeof makeTree>;
    let temp: string;

    before(async () => {
      tree = makeTree({});
      temp = join(tree.dir, "spool");
      mkdirSync(temp);
      const appPort = await freePort();
      app = await gunicorn({ port: appPort }, {}, 1, ["--timeout", "3"]);
      const port = await freePort();
      writeFileSync(
        join(tree.dir, "wharf.yaml"),
        `server: { workers: 1, limits: { max_body_size: 64MB } }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy: { to: ["http://127.0.0.1:${appPort}"], temp_dir: spool }
`,
      );
      w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
    });
    after(async () => {
      await w?.stop();
      await app?.stop();
      tree?.cleanup();
    });

    /** How long the app takes to answer a small request now. */
    const echoTime = async () => {
      const t0 = Date.now();
      const r = await request(w.base, "/echo");
      assert.equal(r.status, 200);
      return Date.now() - t0;
    };

    test("a slow download: the worker is free within moments, and the body arrives whole", async () => {
      const size = 20 * MiB;
      const download = slowDownload(w.port, `/download/${size}`, 5 * MiB);
      await new Promise((r) => setTimeout(r, 800));
      const waited = await echoTime();
      assert.ok(waited < 1500, `another request waited ${waited} ms for the only worker`);
      const body = await download;
      assert.equal(body.length, size, "not cut off by the worker's timeout");
      assert.equal(sha(body), sha(pattern(size)));
      assert.deepEqual(readdirSync(temp), [], "no temporary file left behind (nor named, ever)");
    });

    test("a slow upload: the app gets the body at once, whole, after the client finished", async () => {
      const body = pattern(4 * MiB + 3);
      const upload = slowUpload(w.port, "/upload", body, 4000);
      await new Promise((r) => setTimeout(r, 1000));
      const waited = await echoTime();
      assert.ok(waited < 1500, `another request waited ${waited} ms while an upload trickled in`);
      const text = await upload;
      assert.match(text, /^HTTP\/1\.1 200 /);
      const json = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as { size: number; sha256: string };
      assert.equal(json.size, body.length);
      assert.equal(json.sha256, sha(body));
      assert.deepEqual(readdirSync(temp), []);
    });
  },
);
