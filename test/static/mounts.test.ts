import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { request } from "../helpers/http.ts";
import { makeTree, ROOT, type Running, runWharf, startWharf } from "../helpers/wharf.ts";

const APP = `node ${join(ROOT, "test/fixtures/apps/echo-app.mjs")} unix:{socket_path}`;

// The layout of a Django or Flask deployment: files under /static/ and /media/ from their
// own directories, everything else to the app.
describe("wharf serve --static PREFIX=DIR … --app", () => {
  let w: Running;
  let tree: ReturnType<typeof makeTree>;

  before(async () => {
    tree = makeTree({
      "staticfiles/admin/css/base.css": "body{color:red}\n",
      "staticfiles/app.js": "1;\n",
      "media/u/avatar.txt": "me\n",
      "public/index.html": "<p>home</p>\n",
      "public/docs/index.html": "<p>docs</p>\n",
      "public/admin/readme.txt": "a directory without an index file\n",
    });
    w = await startWharf(
      [
        "serve",
        join(tree.dir, "public"),
        "--static",
        `/static/=${join(tree.dir, "staticfiles")}`,
        "--static",
        `/media=${join(tree.dir, "media")}`,
        "--app",
        APP,
        "--listen",
        "127.0.0.1:{port}",
        "--workers",
        "1",
        "--quiet",
      ],
      { env: { WHARF_LOG_LEVEL: "debug" } },
    );
  });
  after(async () => {
    await w?.stop();
    tree?.cleanup();
  });

  test("each prefix is served from its directory, the prefix taken off", async () => {
    const css = await request(w.base, "/static/admin/css/base.css");
    assert.equal(css.status, 200);
    assert.equal(css.body.toString(), "body{color:red}\n");
    assert.match(String(css.headers["content-type"]), /^text\/css/);
    assert.equal((await request(w.base, "/static/app.js")).body.toString(), "1;\n");
    assert.equal((await request(w.base, "/media/u/avatar.txt")).body.toString(), "me\n");
  });

  test("a missing file under a static prefix is wharf's 404, not the app's", async () => {
    const r = await request(w.base, "/static/nope.css");
    assert.equal(r.status, 404);
    assert.match(r.body.toString(), /404 Not Found/);
  });

  test("everything else goes to the app; DIR is served at / first", async () => {
    const app = await request(w.base, "/accounts/login/?next=/");
    assert.equal(app.status, 200);
    assert.equal(JSON.parse(app.body.toString()).url, "/accounts/login/?next=/");
    assert.equal((await request(w.base, "/")).body.toString(), "<p>home</p>\n");
    const post = await request(w.base, "/static/app.js", { method: "POST" });
    assert.equal(post.status, 405, "a static prefix belongs to the files, whatever the method");
  });

  test("a directory without an index file does not shadow the app's path", async () => {
    const admin = await request(w.base, "/admin");
    assert.equal(admin.status, 200, "the app's /admin, not a 301 to /admin/");
    assert.equal(JSON.parse(admin.body.toString()).url, "/admin");
    assert.equal(JSON.parse((await request(w.base, "/admin/")).body.toString()).url, "/admin/");
    const docs = await request(w.base, "/docs");
    assert.equal(docs.status, 301, "a directory with an index page gets its slash");
    assert.equal(docs.headers.location, "/docs/");
  });

  test("a debug log line names the file looked for behind a static 404", async () => {
    const mark = w.stderr().length;
    await request(w.base, "/static/missing/file.css");
    const rec = await w.waitForLog("static: no such file", mark);
    assert.equal(rec.file, join(tree.dir, "staticfiles/missing/file.css"));
  });
});

test("serve errors are said in the command line's words", async () => {
  const missing = await runWharf(["serve", "/nonexistent/dir"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^wharf: DIR: must be a directory \(\/nonexistent\/dir is not\)$/m);
  assert.doesNotMatch(missing.stderr, /sites\[0\]/);
  const mount = await runWharf(["serve", "--static", "/static/=/nonexistent/s"]);
  assert.match(mount.stderr, /^wharf: --static \/static\/: must be a directory/m);
  const bad = await runWharf(["serve", "--static", "static"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--static takes URL-PREFIX=DIRECTORY/);
  const listen = await runWharf(["serve", ".", "--listen", "nowhere:port"]);
  assert.match(listen.stderr, /^wharf: --listen: must be an address/m);
});
