import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { request } from "../helpers/http.ts";
import { type NodeUpstream, nodeUpstream } from "../helpers/node-upstream.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

// The RFC 9111 shared cache, case by case, against an upstream whose answers the test
// programs through the query: /r/NAME?cc=…&etag=…&vary=…&status=…&lm=old&expires=…&cookie=1
// &delay=MS. Each answer says how many times the upstream was asked for NAME ("NAME #n"),
// so a body tells whether it came from the cache. Two workers: the cache is shared.

const OLD = new Date(Date.now() - 30 * 86_400_000).toUTCString();
const counts = new Map<string, number>();
const seen = new Map<string, IncomingMessage["headers"][]>();

function programmed(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://x");
  const name = url.pathname.slice(3);
  const q = url.searchParams;
  const n = (counts.get(name) ?? 0) + 1;
  counts.set(name, n);
  seen.set(name, [...(seen.get(name) ?? []), req.headers]);
  const headers: Record<string, string> = { "Content-Type": "text/plain" };
  if (q.get("cc")) headers["Cache-Control"] = q.get("cc")!;
  if (q.get("etag")) headers.ETag = `"${q.get("etag")}"`;
  if (q.get("vary")) headers.Vary = q.get("vary")!;
  if (q.get("lm")) headers["Last-Modified"] = OLD;
  if (q.get("expires")) headers.Expires = q.get("expires")!;
  if (q.get("cookie")) headers["Set-Cookie"] = "s=1";
  const reply = () => {
    if (q.get("etag") && req.headers["if-none-match"] === `"${q.get("etag")}"`) {
      res.writeHead(304, headers);
      return res.end();
    }
    const body = `${name} #${n}${q.get("vary") ? ` ${req.headers[q.get("vary")!.toLowerCase()] ?? "-"}` : ""}`;
    res.writeHead(Number(q.get("status") ?? 200), { ...headers, "Content-Length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  const delay = Number(q.get("delay") ?? 0);
  if (delay > 0) setTimeout(reply, delay);
  else reply();
}

describe("RFC 9111 shared cache in front of the proxy", () => {
  let app: NodeUpstream;
  let w: Running;
  let tree: ReturnType<typeof makeTree>;

  before(async () => {
    tree = makeTree({});
    const upstreamPort = await freePort();
    app = await nodeUpstream("cache", upstreamPort);
    app.server.removeAllListeners("request");
    app.server.on("request", programmed);
    const port = await freePort();
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 2 }
sites:
  - hosts: [micro.test]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy: { to: ["http://127.0.0.1:${upstreamPort}"], cache: { default_ttl: 30s, zone: micro } }
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - proxy:
          to: ["http://127.0.0.1:${upstreamPort}"]
          cache: { stale_if_error: 1m, bypass: { cookies: [sessionid], headers: [X-No-Cache] } }
`,
    );
    w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  });
  after(async () => {
    await w?.stop();
    await app?.close();
    tree?.cleanup();
  });

  const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
    request(w.base, path, { headers, method });
  /** Two requests: the bodies tell whether the second came from the cache. */
  const twice = async (path: string, headers: Record<string, string> = {}) => {
    const a = await get(path, headers);
    const b = await get(path, headers);
    return { a, b, stored: b.body.toString() === a.body.toString() };
  };

  for (const [why, query, stored] of [
    ["§3: max-age makes a response storable", "cc=max-age%3D60", true],
    ["§3: no freshness information, not stored", "", false],
    ["§3: no-store", "cc=max-age%3D60,no-store", false],
    ["§5.2.2.7: private is not for a shared cache", "cc=private,max-age%3D60", false],
    ["Set-Cookie responses are not stored", "cc=max-age%3D60&cookie=1", false],
    ["§4.1: Vary: * is never a match", "cc=max-age%3D60&vary=*", false],
    ["§4.2.2: heuristic freshness from an old Last-Modified", "lm=old", true],
    [
      "§5.3: a future Expires",
      `expires=${encodeURIComponent(new Date(Date.now() + 60_000).toUTCString())}`,
      true,
    ],
    ["§5.3: an invalid Expires means expired", "expires=0", false],
    ["§5.2.2.10: s-maxage wins over max-age=0", "cc=max-age%3D0,s-maxage%3D60", true],
    ["a 500 is passed on, not stored", "cc=max-age%3D60&status=500", false],
  ] as const) {
    test(why, async () => {
      const name = `t${Math.random().toString(36).slice(2, 8)}`;
      const { a, b, stored: got } = await twice(`/r/${name}?${query}`);
      assert.equal(got, stored, `${a.body} then ${b.body}; Cache-Status ${b.headers["cache-status"]}`);
      if (stored) {
        assert.match(String(b.headers["cache-status"]), /^wharf; hit; ttl=\d+/);
        assert.match(String(b.headers.age), /^\d+$/, "Age on every stored response served (§4)");
      } else assert.match(String(b.headers["cache-status"]), /^wharf; fwd=(miss|stale)/);
    });
  }

  test("§3.5: a request with Authorization is stored only when the response says it may be shared", async () => {
    const auth = { Authorization: "Bearer x" };
    assert.equal((await twice("/r/auth1?cc=max-age%3D60", auth)).stored, false);
    assert.equal((await twice("/r/auth2?cc=public,max-age%3D60", auth)).stored, true);
    assert.equal((await twice("/r/auth3?cc=s-maxage%3D60", auth)).stored, true);
  });

  test("micro-caching: default_ttl for responses that state no freshness", async () => {
    const { stored, b } = await twice("/r/micro1", { Host: "micro.test" });
    assert.ok(stored, String(b.headers["cache-status"]));
    assert.equal(
      (await twice("/r/micro2?cookie=1", { Host: "micro.test" })).stored,
      false,
      "not with Set-Cookie",
    );
  });

  test("§4.1: Vary keeps a variant per request field value", async () => {
    const path = "/r/vary?cc=max-age%3D60&vary=Accept-Language";
    const en = await get(path, { "Accept-Language": "en" });
    const fr = await get(path, { "Accept-Language": "fr" });
    assert.notEqual(en.body.toString(), fr.body.toString());
    assert.equal((await get(path, { "Accept-Language": "en" })).body.toString(), en.body.toString());
    assert.equal((await get(path, { "Accept-Language": "fr" })).body.toString(), fr.body.toString());
  });

  test("§4.3: a stale response is revalidated with its validators; a 304 freshens it", async () => {
    const path = "/r/reval?cc=max-age%3D1&etag=v1";
    const first = await get(path);
    await new Promise((r) => setTimeout(r, 2100));
    const again = await get(path);
    assert.equal(again.body.toString(), first.body.toString(), "the stored body, freshened");
    assert.match(String(again.headers["cache-status"]), /fwd=stale; fwd-status=304/);
    const asked = seen.get("reval")!.at(-1)!;
    assert.equal(asked["if-none-match"], '"v1"', "the upstream was asked conditionally");
    assert.match(String((await get(path)).headers["cache-status"]), /^wharf; hit/);
  });

  test("§5.2.1: request no-cache and max-age=0 revalidate; only-if-cached never forwards", async () => {
    const path = "/r/reqcc?cc=max-age%3D60&etag=e";
    await get(path);
    const before = counts.get("reqcc")!;
    await get(path, { "Cache-Control": "no-cache" });
    assert.equal(counts.get("reqcc"), before + 1, "no-cache: asked again");
    await new Promise((r) => setTimeout(r, 1100));
    await get(path, { "Cache-Control": "max-age=0" });
    assert.equal(counts.get("reqcc"), before + 2, "max-age=0: older than that, asked again");
    await get(path);
    assert.equal(counts.get("reqcc"), before + 2, "and fresh again for the others");
    assert.equal(
      (await get("/r/never-seen?cc=max-age%3D60", { "Cache-Control": "only-if-cached" })).status,
      504,
    );
  });

  test("HEAD, ranges and the client's conditionals are answered from a stored GET", async () => {
    const path = "/r/forms?cc=max-age%3D60&etag=f1";
    const full = await get(path);
    const n = counts.get("forms");
    const head = await get(path, {}, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers["content-length"], String(full.body.length));
    const part = await get(path, { Range: "bytes=0-4" });
    assert.equal(part.status, 206);
    assert.equal(part.body.toString(), full.body.toString().slice(0, 5));
    assert.equal(part.headers["content-range"], `bytes 0-4/${full.body.length}`);
    const notMod = await get(path, { "If-None-Match": '"f1"' });
    assert.equal(notMod.status, 304);
    assert.equal(counts.get("forms"), n, "none of these reached the upstream");
  });

  test("§4.4: a successful unsafe method invalidates the stored response", async () => {
    const path = "/r/inval?cc=max-age%3D60";
    const a = await get(path);
    assert.equal((await get(path)).body.toString(), a.body.toString());
    assert.equal((await get(path, { "Content-Type": "text/plain" }, "POST")).status, 200);
    assert.notEqual((await get(path)).body.toString(), a.body.toString(), "a fresh answer after the POST");
  });

  test("concurrent misses for one key send one request upstream, across both workers", async () => {
    const path = "/r/collapsed?cc=max-age%3D60&delay=400";
    const all = await Promise.all(Array.from({ length: 24 }, () => get(path, { Connection: "close" })));
    assert.equal(counts.get("collapsed"), 1, "one upstream request");
    assert.ok(all.every((r) => r.status === 200 && r.body.toString() === "collapsed #1"));
  });

  test("a response stored by one worker is a hit on the other", async () => {
    const path = "/r/spread?cc=max-age%3D60";
    for (let i = 0; i < 10; i++) await get(path, { Connection: "close" });
    assert.equal(counts.get("spread"), 1);
  });

  test("bypass: listed cookies and fields go past the cache", async () => {
    const path = "/r/bypass?cc=max-age%3D60";
    await get(path);
    const r = await get(path, { Cookie: "theme=dark; sessionid=abc" });
    assert.equal(r.headers["cache-status"], "wharf; fwd=bypass");
    assert.equal((await get(path, { "X-No-Cache": "1" })).headers["cache-status"], "wharf; fwd=bypass");
    assert.equal(counts.get("bypass"), 3);
  });

  test("stale-while-revalidate: the stale answer at once, a refresh behind it", async () => {
    const path = "/r/swr?cc=max-age%3D1,stale-while-revalidate%3D30";
    const first = await get(path);
    await new Promise((r) => setTimeout(r, 1600));
    const stale = await get(path);
    assert.equal(stale.body.toString(), first.body.toString());
    assert.match(String(stale.headers["cache-status"]), /detail=stale-while-revalidate/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(counts.get("swr"), 2, "refreshed in the background");
    assert.equal((await get(path)).body.toString(), "swr #2");
  });

  test("stale-if-error: with the app gone, the stale response is served", async () => {
    const path = "/r/sie?cc=max-age%3D1";
    const first = await get(path);
    await new Promise((r) => setTimeout(r, 1600));
    await app.close();
    const r = await get(path);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), first.body.toString());
    assert.match(String(r.headers["cache-status"]), /detail=stale-if-error/);
    assert.equal((await get("/r/never-stored?cc=max-age%3D60")).status, 502, "nothing stored: 502");
  });
});
