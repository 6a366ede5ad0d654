import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { RedisStorage } from "../../src/storage/redis.ts";
import { httpsGet, request } from "../helpers/http.ts";
import { type Pebble, startPebble } from "../helpers/pebble.ts";
import { type Redis, startRedis } from "../helpers/redis.ts";
import { needs } from "../helpers/tools.ts";
import { eventually } from "../helpers/wait.ts";
import { freePort, makeTree, type Running, runWharf, startWharf } from "../helpers/wharf.ts";

/** The issuer and serial of the certificate an HTTPS port presents for `name`. */
function servedCert(port: number, name: string): Promise<{ issuer: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, servername: name, rejectUnauthorized: false }, () => {
      const c = s.getPeerCertificate();
      resolve({ issuer: String(c.issuer.CN), serial: c.serialNumber });
      s.end();
    });
    s.on("error", reject);
  });
}

const NAMES = ["a.test", "b.test", "c.test", "d.test", "e.test", "f.test"];

describe(
  "several instances on one Redis: certificates ordered once, shared, and served by all",
  needs("pebble", "pebble-challtestsrv", "redis-server"),
  () => {
    let pebble: Pebble;
    let redis: Redis;
    let tree: ReturnType<typeof makeTree>;
    let httpPort: number;
    const running: Running[] = [];

    /** One instance: its own HTTPS port and data directory, the shared HTTP-01 port and Redis. */
    const instance = async (
      name: string,
      names: string[],
      acme: Record<string, unknown> = {},
      opts: { httpsPort?: number; ca?: Pebble } = {},
    ) => {
      const httpsPort = opts.httpsPort ?? (await freePort());
      const ca = opts.ca ?? pebble;
      const dataDir = join(tree.dir, `data-${name}`);
      mkdirSync(dataDir, { recursive: true });
      const config = join(tree.dir, `${name}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          server: {
            workers: 2,
            admin: "off",
            acme: {
              directory: ca.directory,
              data_dir: dataDir,
              http_listen: [`127.0.0.1:${httpPort}`],
              challenges: ["http-01"],
              ...acme,
            },
            storage: { redis: { url: redis.url, prefix: "cluster" } },
          },
          sites: names.map((n) => ({
            hosts: [n],
            listen: [`127.0.0.1:${httpsPort}`],
            tls: "auto",
            access_log: "off",
            routes: [
              { match: { path: "/metrics" }, metrics: {} },
              { respond: { status: 200, body: `${n} from ${name}\n` } },
            ],
          })),
        }),
      );
      const w = await startWharf(["run", "--config", config], {
        port: httpsPort,
        env: { NODE_EXTRA_CA_CERTS: ca.caFile },
      });
      running.push(w);
      return { w, httpsPort, dataDir };
    };
    /** Orders Pebble finalized so far (one line per issued certificate in its log). */
    const issued = () => (pebble.output().match(/Issued certificate serial/g) ?? []).length;
    const allServed = async (port: number, names: string[]) => {
      const out: Record<string, string> = {};
      for (const n of names) {
        const c = await servedCert(port, n);
        assert.match(c.issuer, /Pebble/i, `${n} on ${port}: issued by Pebble, not a temporary certificate`);
        out[n] = c.serial;
      }
      return out;
    };

    before(async () => {
      tree = makeTree({ "www/index.html": "x\n" });
      httpPort = await freePort();
      redis = await startRedis();
      pebble = await startPebble(tree.dir, httpPort, await freePort());
    });
    after(async () => {
      await Promise.all(running.map((w) => w.stop("SIGKILL")));
      await pebble?.stop();
      await redis?.stop();
      tree?.cleanup();
    });

    let a: Awaited<ReturnType<typeof instance>>;
    let b: Awaited<ReturnType<typeof instance>>;

    test("two instances, six names: each certificate ordered once, both serve all six", async () => {
      [a, b] = await Promise.all([instance("a", NAMES), instance("b", NAMES)]);
      const serials = await eventually(
        () => allServed(a.httpsPort, NAMES).catch(() => undefined),
        30_000,
      ).catch((e) => {
        // What the instances and the CA said, for whoever reads a failure.
        console.log(a.w.stderr().slice(-6000), b.w.stderr().slice(-3000), pebble.output().slice(-3000));
        throw e;
      });
      assert.deepEqual(
        await eventually(() => allServed(b.httpsPort, NAMES).catch(() => undefined), 20_000),
        serials,
        "both instances serve the same certificates",
      );
      assert.equal(issued(), 6, `Pebble issued six certificates:\n${pebble.output().slice(-3000)}`);
      const ordered = (w: Running) => (w.stderr().match(/"msg":"ordering certificate"/g) ?? []).length;
      assert.equal(ordered(a.w) + ordered(b.w), 6, "six orders between the two instances");
    });

    test("an HTTP-01 answer in Redis is given by every instance on the shared port", async () => {
      const s = await RedisStorage.open({ url: redis.url, prefix: "cluster" });
      await s.put("challenges/http-01/tok-123_x", "tok-123_x.thumbprint", 60_000);
      // New connections land on either instance (SO_REUSEPORT): all must answer.
      for (let i = 0; i < 12; i++) {
        const r = await request(`http://127.0.0.1:${httpPort}`, "/.well-known/acme-challenge/tok-123_x", {
          headers: { host: "a.test", connection: "close" },
        });
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), "tok-123_x.thumbprint");
      }
      const gone = await request(`http://127.0.0.1:${httpPort}`, "/.well-known/acme-challenge/unknown", {
        headers: { host: "a.test" },
      });
      assert.notEqual(gone.status, 200);
      await s.close();
    });

    test("wharf storage export|import moves certificates from Redis to a data directory and back", async () => {
      const out = await runWharf(["storage", "export", "--config", join(tree.dir, "a.json")]);
      assert.equal(out.code, 0, out.stderr);
      const lines = out.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { key: string; value: string });
      const keys = lines.map((l) => l.key);
      for (const n of NAMES) {
        assert.ok(
          keys.some((k) => k.endsWith(`/${n}/cert.pem`)),
          `${n}'s certificate exported`,
        );
        assert.ok(
          keys.some((k) => k.endsWith(`/${n}/key.pem`)),
          `${n}'s key exported`,
        );
      }
      assert.ok(keys.some((k) => k.endsWith("/_account/account.key")));
      assert.ok(keys.includes("tls/ticket-keys"));
      assert.ok(!keys.some((k) => /^(locks|challenges|rate)\//.test(k)), "nothing of the moment");

      const dir = join(tree.dir, "exported");
      const imported = await runWharf(["storage", "import", "--dir", dir], { input: out.stdout });
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stderr, new RegExp(`imported ${lines.length} key`));
      const cert = lines.find((l) => l.key.endsWith("/a.test/cert.pem"))!;
      assert.equal(readFileSync(join(dir, cert.key), "utf8"), cert.value, "where a file storage keeps it");

      const again = await runWharf(["storage", "export", "--dir", dir]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, out.stdout, "the same keys and values come back out");

      const bad = await runWharf(["storage", "import", "--dir", dir], { input: '{"key": 1}\n' });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /line 1: needs "key" and "value" strings/);
    });

    test("an instance started with an empty data directory serves from Redis without ordering", async () => {
      const before = issued();
      const c = await instance("c", NAMES);
      await eventually(() => allServed(c.httpsPort, NAMES).catch(() => undefined), 10_000);
      assert.equal(issued(), before);
      assert.doesNotMatch(c.w.stderr(), /"msg":"ordering certificate"/);
      await c.w.stop();
    });

    test("the instance holding an order's lock dies mid-order: another completes it", async () => {
      const before = issued();
      const doomed = await instance("doomed", ["k.test"]);
      await doomed.w.waitForLog("ordering certificate", 0, 20_000);
      doomed.w.proc.kill("SIGKILL");
      const heir = await instance("heir", ["k.test"]);
      await heir.w.waitForLog("another instance is ordering this certificate; waiting for it", 0, 10_000);
      await eventually(() => allServed(heir.httpsPort, ["k.test"]).catch(() => undefined), 60_000);
      assert.equal(issued(), before + 1);
    });

    test("renewals happen once across instances; each serves the renewed certificate", async () => {
      // Pebble's certificates live five years: 6e-8 of that is about 9.5 s.
      const acme = { renewal_ratio: 0.00000006 };
      // Counted from before the instances start: the first may order while the second starts.
      const before = issued();
      const t0 = Date.now();
      const [r1, r2] = await Promise.all([
        instance("r1", ["r.test"], acme),
        instance("r2", ["r.test"], acme),
      ]);
      const first = await eventually(
        () => allServed(r1.httpsPort, ["r.test"]).catch(() => undefined),
        30_000,
      );
      // Two renewals come due in 22 s; each instance on its own would order both.
      await new Promise((r) => setTimeout(r, 22_000));
      const renewals = issued() - before - 1;
      const due = Math.ceil((Date.now() - t0) / 9500);
      const orders = (w: Running) =>
        w
          .stderr()
          .split("\n")
          .filter((l) => /certificate|order/.test(l))
          .join("\n");
      assert.ok(
        renewals >= 1 && renewals <= due,
        `${renewals} renewals for ${due} due\nr1:\n${orders(r1.w)}\nr2:\n${orders(r2.w)}`,
      );
      const last = await eventually(async () => {
        const [x, y] = await Promise.all([
          allServed(r1.httpsPort, ["r.test"]).catch(() => undefined),
          allServed(r2.httpsPort, ["r.test"]).catch(() => undefined),
        ]);
        return x && y && x["r.test"] === y["r.test"] && x["r.test"] !== first["r.test"] ? x : undefined;
      }, 15_000);
      assert.ok(last, "both serve the same renewed certificate");
      await Promise.all([r1.w.stop(), r2.w.stop()]);
    });

    test("a TLS-ALPN-01 certificate in Redis answers the CA at whichever instance it reaches", async () => {
      // This CA validates at the HTTPS port of "gate" only; "orderer" orders there too.
      const gatePort = await freePort();
      const alpnDir = join(tree.dir, "alpn");
      mkdirSync(alpnDir);
      const ca = await startPebble(alpnDir, await freePort(), gatePort);
      try {
        const acme = { challenges: ["tls-alpn-01"] };
        const gate = await instance("gate", ["gate.test"], acme, { httpsPort: gatePort, ca });
        await eventually(() => allServed(gatePort, ["gate.test"]).catch(() => undefined), 30_000);
        const names = ["alpn1.test", "alpn2.test"];
        const orderer = await instance("orderer", names, acme, { ca });
        await eventually(() => allServed(orderer.httpsPort, names).catch(() => undefined), 45_000).catch(
          (e) => {
            console.log(
              orderer.w.stderr().slice(-4000),
              gate.w.stderr().slice(-4000),
              ca.output().slice(-3000),
            );
            throw e;
          },
        );
        const ordered = orderer.w.stderr().match(/"msg":"ordering certificate"/g) ?? [];
        assert.equal(ordered.length, 2, "the orderer ordered both names itself");
        const answered = gate.w
          .stderr()
          .split("\n")
          .filter((l) => l.includes('"msg":"answered a TLS-ALPN-01 validation"'));
        for (const n of names)
          assert.ok(
            answered.some((l) => l.includes(`"name":"${n}"`)),
            `the gate answered for ${n}:\n${answered.join("\n")}`,
          );
        await Promise.all([gate.w.stop(), orderer.w.stop()]);
      } finally {
        await ca.stop();
      }
    });

    test("Redis killed and restarted under load: no request fails, a log line and a metric say so", async () => {
      let stop = false;
      let done = 0;
      const failures: string[] = [];
      const load = async (port: number) => {
        while (!stop) {
          const name = NAMES[done % NAMES.length]!;
          try {
            const r = await httpsGet(port, name, "/");
            if (r.status !== 200 || r.body !== `${name} from ${port === a.httpsPort ? "a" : "b"}\n`)
              failures.push(`${r.status} ${r.body}`);
          } catch (err) {
            failures.push(String(err));
          }
          done++;
        }
      };
      const loaders = [load(a.httpsPort), load(b.httpsPort), load(a.httpsPort), load(b.httpsPort)];
      const mark = a.w.stderr().length;
      await new Promise((r) => setTimeout(r, 300));
      await redis.kill();
      await a.w.waitForLog(
        "storage unreachable: serving goes on from what this instance holds; orders retry, rate limits count per instance",
        mark,
      );
      assert.match((await httpsGet(a.httpsPort, "a.test", "/metrics")).body, /^wharf_storage_up 0$/m);
      await new Promise((r) => setTimeout(r, 1000));
      await redis.start();
      await a.w.waitForLog("storage reachable again: shared state resumes", mark, 20_000);
      const metrics = (await httpsGet(a.httpsPort, "a.test", "/metrics")).body;
      assert.match(metrics, /^wharf_storage_up 1$/m);
      assert.match(metrics, /^wharf_storage_outages_total 1$/m);
      stop = true;
      await Promise.all(loaders);
      assert.deepEqual(failures, []);
      assert.ok(done > 40, `${done} requests made`);
    });
  },
);
