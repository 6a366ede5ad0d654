import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { FeedReader, postEvent } from "../../src/storage/feed.ts";
import { FileStorage } from "../../src/storage/file.ts";
import { RedisStorage } from "../../src/storage/redis.ts";
import type { Storage } from "../../src/storage/storage.ts";
import { makeCert } from "../helpers/certs.ts";
import { type Redis, startRedis } from "../helpers/redis.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What every storage must do; run against the filesystem and against a real Redis. */
function contract(name: string, spec: () => Spec, open: () => Promise<Storage>, close: () => Promise<void>) {
  describe(`storage contract: ${name}`, () => {
    let s: Storage;
    let other: Storage;
    before(async () => {
      s = await open();
      other = await open();
    });
    // Counters and buckets of a file storage are its process's: another client shares them only on Redis.
    const peer = () => (name === "redis" ? other : s);
    after(async () => {
      await s.close();
      await other.close();
      await close();
    });

    test("put, get, overwrite, delete; a missing key is undefined", async () => {
      assert.equal(await s.get("certificates/ca/a.test/cert.pem"), undefined);
      await s.put("certificates/ca/a.test/cert.pem", "-----BEGIN-----\nx\n");
      assert.equal(await other.get("certificates/ca/a.test/cert.pem"), "-----BEGIN-----\nx\n");
      await s.put("certificates/ca/a.test/cert.pem", "second");
      assert.equal(await other.get("certificates/ca/a.test/cert.pem"), "second");
      await other.delete("certificates/ca/a.test/cert.pem");
      assert.equal(await s.get("certificates/ca/a.test/cert.pem"), undefined);
      await s.delete("never/there");
    });

    test("list by prefix, sorted, nothing else", async () => {
      await s.put("list/b/two", "2");
      await s.put("list/a/one", "1");
      await s.put("list/a/three", "3");
      await s.put("listing/x", "no");
      assert.deepEqual(await other.list("list/"), ["list/a/one", "list/a/three", "list/b/two"]);
      assert.deepEqual(await other.list("list/a/"), ["list/a/one", "list/a/three"]);
      assert.deepEqual(await other.list("nothing/"), []);
    });

    test("a key put with a ttl goes away", async () => {
      await s.put("challenges/http-01/tok", "answer", 150);
      assert.equal(await s.get("challenges/http-01/tok"), "answer");
      await sleep(300);
      assert.equal(await s.get("challenges/http-01/tok"), undefined);
    });

    test("a lock has one holder; released, it can be taken again", async () => {
      const a = await s.lock("order/a.test", 5000);
      assert.ok(a);
      assert.equal(await other.lock("order/a.test", 5000), undefined);
      assert.equal(await s.lock("order/a.test", 5000), undefined, "not reentrant either");
      await a.release();
      const b = await other.lock("order/a.test", 5000);
      assert.ok(b);
      await b.release();
    });

    test("a held lock is renewed past its ttl; an abandoned one expires", async () => {
      const held = await s.lock("order/renewed", 300);
      assert.ok(held);
      await sleep(800);
      assert.equal(held.lost, false);
      assert.equal(await other.lock("order/renewed", 300), undefined, "still held after 2.5 ttls");
      await held.release();

      // A holder that dies stops renewing: its lock is free once the ttl has run out.
      const child = await lockInChild(spec(), "order/abandoned", 300);
      assert.equal(await other.lock("order/abandoned", 300), undefined, "held by the child");
      child.kill("SIGKILL");
      await sleep(450);
      const taken = await other.lock("order/abandoned", 300);
      assert.ok(taken, "an expired lock is taken over");
      await taken.release();
    });

    test("counters add up across clients and expire", async () => {
      assert.equal(await s.counter("rate/k"), 0);
      assert.equal(await s.incr("rate/k", 1, 300), 1);
      assert.equal(await s.incr("rate/k", 2, 300), 3);
      assert.equal(await s.counter("rate/k"), 3);
      await sleep(450);
      assert.equal(await s.counter("rate/k"), 0);
      assert.equal(await s.incr("rate/k", 1, 300), 1, "a new counter after expiry");
    });

    test("a token bucket: a burst of its capacity, then its rate, shared by every client", async () => {
      const rule = { perSecond: 20, capacity: 5, queue: 0 };
      const second = peer();
      const first = await s.take("rate/t/k", rule, 3);
      assert.deepEqual([first.granted, first.remaining], [3, 2]);
      const rest = await second.take("rate/t/k", rule, 3);
      assert.equal(rest.granted, 2, "the other client takes what is left");
      const none = await s.take("rate/t/k", rule, 1);
      assert.equal(none.granted, 0);
      assert.ok(none.retryMs > 0 && none.retryMs <= 50, `retry in ${none.retryMs} ms`);
      await sleep(160);
      const refill = await second.take("rate/t/k", rule, 10);
      assert.ok(
        refill.granted >= 3 && refill.granted <= 4,
        `${refill.granted} tokens back after 160 ms at 20/s`,
      );
      // Delay mode: one token borrowed ahead, with the wait until it would have come.
      const queued = await s.take("rate/t/q", { perSecond: 10, capacity: 1, queue: 2 }, 1);
      assert.equal(queued.granted, 1);
      const delayed = await second.take("rate/t/q", { perSecond: 10, capacity: 1, queue: 2 }, 1);
      assert.equal(delayed.granted, 1);
      assert.ok(delayed.waitMs > 50 && delayed.waitMs <= 100, `waits ${delayed.waitMs} ms`);
    });

    test("a feed gives each event once, in order, from the reader's first poll on", async () => {
      const poster = peer();
      await postEvent(poster, "feed", "before", 60_000);
      const reader = new FeedReader("feed");
      assert.deepEqual(await reader.poll(s), []);
      await postEvent(poster, "feed", "one", 60_000);
      await postEvent(poster, "feed", "two", 60_000);
      assert.deepEqual(await reader.poll(s), ["one", "two"]);
      assert.deepEqual(await reader.poll(s), []);
      await postEvent(poster, "feed", "three", 60_000);
      assert.deepEqual(await reader.poll(s), ["three"]);
    });
  });
}

/** How a child process opens the same storage. */
type Spec = { file: string } | { redis: { url: string; prefix: string } };

/** A process that takes a lock and holds it (renewing) until it is killed. */
async function lockInChild(spec: Spec, name: string, ttlMs: number): Promise<ChildProcess> {
  const url = (f: string) => pathToFileURL(join(import.meta.dirname, "../../src/storage", f)).href;
  const script = `
    const spec = ${JSON.stringify(spec)};
    const s = "file" in spec
      ? new (await import(${JSON.stringify(url("file.ts"))})).FileStorage(spec.file)
      : await (await import(${JSON.stringify(url("redis.ts"))})).RedisStorage.open(spec.redis);
    const lock = await s.lock(${JSON.stringify(name)}, ${ttlMs});
    process.stdout.write(lock ? "locked\\n" : "refused\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  assert.equal(line, "locked");
  return child;
}

const dir = mkdtempSync(join(tmpdir(), "wharf-storage-"));
contract(
  "file",
  () => ({ file: dir }),
  async () => new FileStorage(dir),
  async () => rmSync(dir, { recursive: true, force: true }),
);

let redis: Redis;
contract(
  "redis",
  () => ({ redis: { url: redis.url, prefix: "t" } }),
  async () => {
    redis ??= await startRedis();
    return RedisStorage.open({ url: redis.url, prefix: "t" });
  },
  async () => redis.stop(),
);

test("redis: a Redis that hangs fails a command within seconds, and answers again when it wakes", async () => {
  const hung = await startRedis();
  const s = await RedisStorage.open({ url: hung.url, prefix: "h" });
  try {
    await s.put("k", "v");
    hung.freeze(true);
    const t0 = Date.now();
    await assert.rejects(s.get("k"));
    const waited = Date.now() - t0;
    assert.ok(waited >= 4000 && waited < 9000, `rejected after ${waited} ms`);
    hung.freeze(false);
    let v: string | undefined;
    for (let i = 0; i < 50 && v === undefined; i++) {
      v = await s.get("k").catch(() => undefined);
      if (v === undefined) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(v, "v");
  } finally {
    hung.freeze(false);
    await s.close();
    await hung.stop();
  }
});

test("redis: why it cannot connect is kept for the logs", async () => {
  const s = await RedisStorage.open({ url: "redis://127.0.0.1:1/0", prefix: "x" });
  try {
    assert.equal(s.up, false);
    assert.match(String(s.lastError), /ECONNREFUSED/);
    await assert.rejects(s.get("k"));
  } finally {
    await s.close();
  }
});

test("redis over TLS with a password: trusted by its CA (or unverified when asked); an unknown certificate or a wrong password is refused, and why is kept", async () => {
  const certDir = mkdtempSync(join(tmpdir(), "wharf-redis-tls-"));
  const tls = makeCert(certDir, "redis", ["127.0.0.1"]);
  const server = await startRedis({ tls, password: "s3cret" });
  const open = (url: string, t?: { ca?: string; insecure_skip_verify?: boolean }) =>
    RedisStorage.open({ url, prefix: "tls", ...(t ? { tls: t } : {}) });
  const opened: Storage[] = [];
  try {
    for (const t of [{ ca: tls.cert }, { insecure_skip_verify: true }]) {
      const s = await open(server.url, t);
      opened.push(s);
      await s.put("k", "over tls");
      assert.equal(await s.get("k"), "over tls");
    }
    const untrusted = await open(server.url);
    opened.push(untrusted);
    assert.equal(untrusted.up, false);
    assert.match(String(untrusted.lastError), /certificate/);
    const wrong = await open(server.url.replace("s3cret", "wrong"), { ca: tls.cert });
    opened.push(wrong);
    assert.equal(wrong.up, false);
    assert.match(String(wrong.lastError), /WRONGPASS/);
  } finally {
    await Promise.all(opened.map((s) => s.close()));
    await server.stop();
    rmSync(certDir, { recursive: true, force: true });
  }
});
