import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { request } from "../helpers/http.ts";
import { eventually } from "../helpers/wait.ts";
import { freePort, makeTree, startWharf } from "../helpers/wharf.ts";

test("wharf serve --browse lists directories; --spa falls back to /index.html; access log on stdout", async () => {
  const tree = makeTree({ "index.html": "<title>app</title>\n", "files/a.txt": "a" });
  const w = await startWharf([
    "serve",
    tree.dir,
    "--listen",
    "127.0.0.1:{port}",
    "--workers",
    "1",
    "--browse",
    "--spa",
  ]);
  try {
    const list = await request(w.base, "/files/");
    assert.equal(list.status, 200);
    assert.match(list.body.toString(), /href="a.txt"/);
    const spa = await request(w.base, "/deep/link", { headers: { "User-Agent": "spa-test" } });
    assert.equal(spa.status, 200);
    assert.equal(spa.body.toString(), "<title>app</title>\n");
    assert.match(
      await w.waitForStdout(/deep\/link/),
      /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/deep\/link HTTP\/1\.1" 200 19 "-" "spa-test"$/m,
    );
  } finally {
    await w.stop();
    tree.cleanup();
  }
});

test("wharf serve without flags: no listing, 404 for unknown paths; --quiet logs nothing", async () => {
  const tree = makeTree({ "files/a.txt": "a" });
  const w = await startWharf([
    "serve",
    tree.dir,
    "--listen",
    "127.0.0.1:{port}",
    "--workers",
    "1",
    "--quiet",
  ]);
  try {
    assert.equal((await request(w.base, "/files/")).status, 404);
    assert.equal((await request(w.base, "/deep/link")).status, 404);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(w.stdout(), "");
  } finally {
    await w.stop();
    tree.cleanup();
  }
});

test("access log in JSON to a file, per site", async () => {
  const tree = makeTree({ "www/a.txt": "hello" });
  const port = await freePort();
  writeFileSync(
    join(tree.dir, "wharf.yaml"),
    `server: { workers: 2 }
sites:
  - hosts: [logged.test]
    listen: ["127.0.0.1:${port}"]
    access_log: { format: json, output: access.jsonl }
    routes: [{ static: { root: www } }]
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes: [{ static: { root: www } }]
`,
  );
  const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  try {
    for (let i = 0; i < 20; i++)
      await request(w.base, "/a.txt", { headers: { Host: "logged.test", Referer: "http://r/" } });
    await request(w.base, "/a.txt", { headers: { Host: "other.test" } });
    await request(w.base, "/nope", { headers: { Host: "logged.test" } });
    const read = () =>
      readFileSync(join(tree.dir, "access.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
    await eventually(() => read().length >= 21, 10_000, "21 access-log lines");
    await new Promise((r) => setTimeout(r, 100)); // and no more than 21
    const lines = read();
    assert.equal(lines.length, 21, "the other site logs nothing");
    assert.equal(lines.filter((l) => l.status === 200 && l.bytes === 5 && l.uri === "/a.txt").length, 20);
    const miss = lines.find((l) => l.status === 404);
    assert.ok(miss);
    assert.equal(miss.host, "logged.test");
    assert.match(miss.request_id, /^[0-9a-f]{8}-[0-9a-z]+$/);
    assert.equal(lines[0].referer, "http://r/");
    assert.equal(typeof lines[0].duration_ms, "number");
  } finally {
    await w.stop();
    tree.cleanup();
  }
});
