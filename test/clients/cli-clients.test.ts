import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { needs } from "../helpers/tools.ts";
import { ROOT, type Running } from "../helpers/wharf.ts";
import { startExampleSite } from "./example-site.ts";

const run = promisify(execFile);

describe("real command-line clients against the example site", () => {
  let w: Running;
  before(async () => {
    w = await startExampleSite();
  });
  after(async () => {
    await w?.stop();
  });

  test("curl: page, compressed, HEAD, range, conditional", needs("curl"), async () => {
    const page = await run("curl", ["-sS", "--fail", `${w.base}/`]);
    assert.match(page.stdout, /It works: wharf is serving this site/);
    const gz = await run("curl", [
      "-sS",
      "--fail",
      "--compressed",
      "-D",
      "-",
      "-o",
      "/dev/null",
      `${w.base}/index.html`,
    ]);
    assert.match(gz.stdout, /^content-encoding: (br|gzip|zstd)\r$/im);
    assert.match(gz.stdout, /^vary: Accept-Encoding\r$/im);
    const head = await run("curl", ["-sS", "-I", `${w.base}/assets/site.css`]);
    assert.match(head.stdout, /^HTTP\/1.1 200 OK/);
    assert.match(head.stdout, /^content-type: text\/css; charset=utf-8\r$/im);
    assert.match(head.stdout, /^cache-control: public, max-age=31536000, immutable\r$/im);
    const range = await run("curl", ["-sS", "-r", "0-14", `${w.base}/index.html`]);
    assert.equal(range.stdout, "<!doctype html>");
    const etag = /^etag: (.*)\r$/im.exec(head.stdout)?.[1];
    assert.ok(etag);
    const cond = await run("curl", [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-H",
      `If-None-Match: ${etag}`,
      `${w.base}/assets/site.css`,
    ]);
    assert.equal(cond.stdout, "304");
    const missing = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", `${w.base}/nope`]);
    assert.equal(missing.stdout, "404");
    const redirect = await run("curl", [
      "-sS",
      "-L",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{url_effective}",
      `${w.base}/docs?x=1`,
    ]);
    assert.equal(redirect.stdout, `200 ${w.base}/docs/?x=1`);
  });

  test("wget --mirror fetches the whole site with no broken link", needs("wget"), async () => {
    const dir = mkdtempSync(join(tmpdir(), "wharf-wget-"));
    try {
      // wget exits 8 when any request failed, so a broken link fails this call.
      await run("wget", [
        "--mirror",
        "--page-requisites",
        "--no-parent",
        "-nH",
        "-e",
        "robots=off",
        "-q",
        "-P",
        dir,
        `${w.base}/`,
      ]);
      for (const f of [
        "index.html",
        "about.html",
        "docs/index.html",
        "docs/guide.txt",
        "assets/site.css",
        "assets/app.js",
        "assets/logo.svg",
        "assets/pixel.png",
      ]) {
        assert.ok(existsSync(join(dir, f)), `mirrored ${f}`);
        assert.deepEqual(readFileSync(join(dir, f)), readFileSync(join(ROOT, "examples/site", f)), f);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("lynx -dump renders the page text and its links", needs("lynx"), async () => {
    const r = await run("lynx", ["-dump", "-nolist=false", `${w.base}/`], {
      env: { ...process.env, TERM: "dumb", HOME: tmpdir() },
    });
    assert.match(r.stdout, /It works: wharf is serving this site/);
    assert.match(r.stdout, /About this example/);
    assert.match(r.stdout, new RegExp(`${w.base.replace(/[.]/g, "\\.")}/about\\.html`));
  });
});
