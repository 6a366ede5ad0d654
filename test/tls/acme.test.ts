import assert from "node:assert/strict";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { request } from "../helpers/http.ts";
import { type Pebble, startPebble } from "../helpers/pebble.ts";
import { needs } from "../helpers/tools.ts";
import { freePort, makeTree, type Running, startWharf } from "../helpers/wharf.ts";

function servedCert(
  port: number,
  name: string,
): Promise<{ issuer: string; subject: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, servername: name, rejectUnauthorized: false }, () => {
      const c = s.getPeerCertificate();
      resolve({ issuer: String(c.issuer.CN), subject: String(c.subject.CN), serial: c.serialNumber });
      s.end();
    });
    s.on("error", reject);
  });
}

describe(
  "automatic certificates from a real ACME server (Pebble)",
  needs("pebble", "pebble-challtestsrv"),
  () => {
    let pebble: Pebble;
    let tree: ReturnType<typeof makeTree>;
    let httpPort: number;
    let tlsPort: number;
    const wharf = async (extraEnv: Record<string, string> = {}): Promise<Running> =>
      startWharf(
        [
          "serve",
          join(tree.dir, "www"),
          "--domain",
          "example.test",
          "--domain",
          "www.example.test",
          "--acme-ca",
          pebble.directory,
          "--listen",
          `127.0.0.1:${tlsPort}`,
          "--http-listen",
          `127.0.0.1:${httpPort}`,
          "--workers",
          "2",
        ],
        {
          port: httpPort,
          env: { NODE_EXTRA_CA_CERTS: pebble.caFile, WHARF_DATA_DIR: join(tree.dir, "data"), ...extraEnv },
        },
      );

    before(async () => {
      tree = makeTree({ "www/index.html": "secure hello\n" });
      [httpPort, tlsPort] = [await freePort(), await freePort()];
      // Pebble rejects a share of nonces at random, as the real CA may: wharf must retry.
      pebble = await startPebble(tree.dir, httpPort, tlsPort, { PEBBLE_WFE_NONCEREJECT: "30" });
    });
    after(async () => {
      await pebble?.stop();
      tree?.cleanup();
    });

    test("renews at the configured share of the lifetime and serves the new certificate", async () => {
      const port = await freePort();
      const file = join(tree.dir, "renew.yaml");
      // Pebble's certificates live five years; 2e-8 of that is about three seconds.
      writeFileSync(
        file,
        `server:
  workers: 2
  acme: { directory: "${pebble.directory}", http_listen: ["127.0.0.1:${httpPort}"], data_dir: renew-data, renewal_ratio: 0.00000002 }
sites:
  - hosts: [renew.test]
    listen: ["127.0.0.1:${port}"]
    tls: auto
    routes:
      - static: { root: www }
`,
      );
      const w = await startWharf(["run", "--config", file], {
        port: httpPort,
        env: { NODE_EXTRA_CA_CERTS: pebble.caFile },
      });
      try {
        await w.waitForLog("certificate obtained", 0, 30_000);
        let mark = w.stderr().length;
        await w.waitForLog("config reloaded", 0);
        const first = await servedCert(port, "renew.test");
        assert.match(first.issuer, /Pebble/i);
        mark = w.stderr().indexOf('"certificate obtained"') + 1;
        await w.waitForLog("certificate obtained", mark, 30_000);
        await w.waitForLog("config reloaded", w.stderr().lastIndexOf('"certificate obtained"'), 10_000);
        const second = await servedCert(port, "renew.test");
        assert.match(second.issuer, /Pebble/i);
        assert.notEqual(second.serial, first.serial, "the renewed certificate is served");
      } finally {
        await w.stop();
      }
    });

    test("issues by HTTP-01, serves the certificate, keeps keys private, reuses it after a restart", async () => {
      let w = await wharf();
      try {
        await w.waitForLog("certificate obtained", 0, 30_000);
        await w.waitForLog("config reloaded");
        const cert = await servedCert(tlsPort, "example.test");
        assert.match(cert.issuer, /Pebble/i, `issued by Pebble, not self-signed: ${JSON.stringify(cert)}`);
        assert.equal(cert.subject, "example.test");
        assert.match((await servedCert(tlsPort, "www.example.test")).issuer, /Pebble/i);
        const redirect = await request(`http://127.0.0.1:${httpPort}`, "/x?y=1", {
          headers: { Host: "example.test" },
        });
        assert.equal(redirect.status, 308);
        assert.equal(redirect.headers.location, `https://example.test:${tlsPort}/x?y=1`);
        const dir = join(tree.dir, "data/certificates");
        assert.ok(existsSync(dir));
      } finally {
        await w.stop();
      }
      w = await wharf();
      try {
        await w.waitForLog("certificate loaded from storage");
        assert.doesNotMatch(w.stderr(), /ordering certificate/, "no new order after a restart");
        assert.match((await servedCert(tlsPort, "example.test")).issuer, /Pebble/i);
      } finally {
        await w.stop();
      }
      const { execFileSync } = await import("node:child_process");
      const keys = execFileSync("find", [join(tree.dir, "data"), "-name", "*.key", "-o", "-name", "key.pem"])
        .toString()
        .trim()
        .split("\n");
      assert.ok(keys.length >= 2);
      for (const k of keys) assert.equal(statSync(k).mode & 0o077, 0, `${k} is private`);
    });
  },
);

test(
  "a CA that cannot be reached: HTTP keeps serving and the order is retried",
  needs("pebble"),
  async () => {
    const tree = makeTree({ "www/index.html": "hello\n" });
    const [httpPort, tlsPort, deadCa] = [await freePort(), await freePort(), await freePort()];
    const w = await startWharf(
      [
        "serve",
        join(tree.dir, "www"),
        "--domain",
        "down.test",
        "--acme-ca",
        `https://127.0.0.1:${deadCa}/dir`,
        "--listen",
        `127.0.0.1:${tlsPort}`,
        "--http-listen",
        `127.0.0.1:${httpPort}`,
        "--workers",
        "1",
      ],
      { port: httpPort, env: { WHARF_DATA_DIR: join(tree.dir, "data") } },
    );
    try {
      const failed = await w.waitForLog(
        "certificate order failed; the site keeps its current certificate",
        0,
        20_000,
      );
      assert.equal(typeof failed.retry_in_ms, "number");
      const r = await request(`http://127.0.0.1:${httpPort}`, "/", { headers: { Host: "down.test" } });
      assert.equal(r.status, 308, "the HTTP listener answers");
      const tls = await servedCert(tlsPort, "down.test");
      assert.equal(tls.subject, "down.test", "a temporary certificate is served meanwhile");
    } finally {
      await w.stop();
      tree.cleanup();
    }
  },
);

test(
  "External Account Binding: a CA that requires it issues with the configured kid and key",
  needs("pebble"),
  async () => {
    const tree = makeTree({ "www/index.html": "eab\n" });
    const [httpPort, tlsPort] = [await freePort(), await freePort()];
    const hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    const pebble = await startPebble(
      tree.dir,
      httpPort,
      tlsPort,
      {},
      {
        externalAccountBindingRequired: true,
        externalAccountMACKeys: { "kid-1": hmac },
      },
    );
    // `eab` is the extra flow-mapping text for server.acme (empty for none).
    const config = (dataDir: string, eab: string) => `server:
  workers: 1
  acme: { directory: "${pebble.directory}", http_listen: ["127.0.0.1:${httpPort}"], data_dir: ${dataDir}${eab} }
sites:
  - hosts: [eab.test]
    listen: ["127.0.0.1:${tlsPort}"]
    tls: auto
    routes: [{ static: { root: www } }]
`;
    try {
      writeFileSync(join(tree.dir, "without.yaml"), config("data-none", ""));
      let w = await startWharf(["run", "--config", join(tree.dir, "without.yaml")], {
        port: httpPort,
        env: { NODE_EXTRA_CA_CERTS: pebble.caFile },
      });
      try {
        await w.waitForLog("certificate order failed; the site keeps its current certificate", 0, 30_000);
      } finally {
        await w.stop();
      }
      writeFileSync(
        join(tree.dir, "with.yaml"),
        config("data-eab", `, eab: { kid: kid-1, hmac_key: ${hmac} }`),
      );
      w = await startWharf(["run", "--config", join(tree.dir, "with.yaml")], {
        port: httpPort,
        env: { NODE_EXTRA_CA_CERTS: pebble.caFile },
      });
      try {
        await w.waitForLog("certificate obtained", 0, 30_000);
        assert.match((await servedCert(tlsPort, "eab.test")).issuer, /Pebble/i);
      } finally {
        await w.stop();
      }
    } finally {
      await pebble.stop();
      tree.cleanup();
    }
  },
);

test("TLS-ALPN-01: the certificate is obtained through the TLS listener alone", needs("pebble"), async () => {
  const tree = makeTree({ "www/index.html": "alpn\n" });
  // Pebble validates HTTP-01 on a port where nothing listens: only TLS-ALPN-01 can succeed.
  const [deadHttp, tlsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const pebble = await startPebble(tree.dir, deadHttp, tlsPort);
  const file = join(tree.dir, "wharf.yaml");
  writeFileSync(
    file,
    `server:
  workers: 2
  acme: { directory: "${pebble.directory}", challenges: [tls-alpn-01], http_listen: ["127.0.0.1:${httpPort}"], data_dir: data }
sites:
  - hosts: [alpn.test]
    listen: ["127.0.0.1:${tlsPort}"]
    tls: auto
    routes: [{ static: { root: www } }]
`,
  );
  const w = await startWharf(["run", "--config", file], {
    port: httpPort,
    env: { NODE_EXTRA_CA_CERTS: pebble.caFile },
  });
  try {
    const answering = await w.waitForLog("answering challenge", 0, 30_000);
    assert.equal(answering.type, "tls-alpn-01");
    await w.waitForLog("answered a TLS-ALPN-01 validation", 0, 30_000);
    await w.waitForLog("certificate obtained", 0, 30_000);
    await w.waitForLog("config reloaded", w.stderr().indexOf('"certificate obtained"'), 10_000);
    const served = await servedCert(tlsPort, "alpn.test");
    assert.match(served.issuer, /Pebble/i);
    assert.equal(served.subject, "alpn.test");
    // With the validation over, an ordinary client offering acme-tls/1 gets nothing special.
    const plain = await new Promise<string | false>((resolve, reject) => {
      const s = tlsConnect(
        {
          host: "127.0.0.1",
          port: tlsPort,
          servername: "alpn.test",
          rejectUnauthorized: false,
          ALPNProtocols: ["h2"],
        },
        () => {
          resolve(s.alpnProtocol ?? false);
          s.end();
        },
      );
      s.on("error", reject);
    });
    assert.equal(plain, "h2");
  } finally {
    await w.stop();
    await pebble.stop();
    tree.cleanup();
  }
});

test(
  "on-demand TLS: names the ask endpoint approves get a certificate at their first handshake, within the rate",
  needs("pebble"),
  async () => {
    const tree = makeTree({ "www/index.html": "on demand\n" });
    const [httpPort, tlsPort] = [await freePort(), await freePort()];
    const pebble = await startPebble(tree.dir, httpPort, tlsPort);
    const asked: string[] = [];
    const ask = createServer((req, res) => {
      const name = new URL(req.url ?? "/", "http://x").searchParams.get("domain") ?? "";
      asked.push(name);
      res.writeHead(name.startsWith("yes") ? 200 : 403).end();
    });
    await new Promise<void>((r) => ask.listen(0, "127.0.0.1", r));
    const askPort = (ask.address() as { port: number }).port;
    const file = join(tree.dir, "wharf.yaml");
    writeFileSync(
      file,
      `server:
  workers: 2
  acme:
    directory: "${pebble.directory}"
    http_listen: ["127.0.0.1:${httpPort}"]
    data_dir: data
    on_demand: { ask: "http://127.0.0.1:${askPort}/check", burst: 1, interval: 1h }
sites:
  - listen: ["127.0.0.1:${tlsPort}"]
    tls: on_demand
    routes: [{ static: { root: www } }]
`,
    );
    const env = { NODE_EXTRA_CA_CERTS: pebble.caFile };
    let w = await startWharf(["run", "--config", file], { port: httpPort, env });
    try {
      const first = await servedCert(tlsPort, "yes.test");
      assert.match(first.issuer, /Pebble/i, "the first handshake waits for its certificate");
      assert.equal(first.subject, "yes.test");
      assert.equal(
        (await servedCert(tlsPort, "no.test")).subject,
        "on-demand.default.invalid",
        "refused by ask",
      );
      assert.equal(
        (await servedCert(tlsPort, "yes2.test")).subject,
        "on-demand.default.invalid",
        "over the rate",
      );
      await w.waitForLog("on-demand certificate refused: issuance rate limit reached");
      assert.deepEqual(asked, ["yes.test", "no.test", "yes2.test"]);
      // Another handshake, on whichever worker: the certificate is at hand.
      assert.equal((await servedCert(tlsPort, "yes.test")).serial, first.serial);
      await w.stop();
      // After a restart the stored certificate is reused: no ask, no new order.
      w = await startWharf(["run", "--config", file], { port: httpPort, env });
      assert.equal((await servedCert(tlsPort, "yes.test")).serial, first.serial);
      assert.deepEqual(asked, ["yes.test", "no.test", "yes2.test"]);
      assert.doesNotMatch(w.stderr(), /obtaining an on-demand certificate/);
    } finally {
      await w.stop();
      ask.close();
      await pebble.stop();
      tree.cleanup();
    }
  },
);
