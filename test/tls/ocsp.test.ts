import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startRedis } from "../helpers/redis.ts";
import { needs } from "../helpers/tools.ts";
import { freePort, makeTree, type Running, runConfig, startWharf } from "../helpers/wharf.ts";

const ossl = (args: string[], cwd: string) =>
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "ignore"] });

/** A CA (with an OCSP responder URL in what it signs) and leaves for `names`, made with openssl. */
function makeCa(dir: string, ocspPort: number, deadPort: number) {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ossl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=wharf test OCSP CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    ],
    dir,
  );
  const leaf = (name: string, port: number) => {
    writeFileSync(
      join(dir, `${name}.ext`),
      `subjectAltName=DNS:${name}\nauthorityInfoAccess=OCSP;URI:http://127.0.0.1:${port}\n`,
    );
    ossl(["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`], dir);
    ossl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${name}.crt`,
        "-days",
        "2",
        "-extfile",
        `${name}.ext`,
      ],
      dir,
    );
    // The chain the site serves: the leaf, then its issuer (where OCSP finds the issuer).
    writeFileSync(
      join(dir, `${name}.pem`),
      readFileSync(join(dir, `${name}.crt`), "latin1") + readFileSync(join(dir, "ca.crt"), "latin1"),
    );
    return ossl(["x509", "-in", `${name}.crt`, "-noout", "-serial"], dir)
      .toString()
      .trim()
      .split("=")[1]!;
  };
  const good = leaf("good.test", ocspPort);
  const revoked = leaf("revoked.test", ocspPort);
  leaf("silent.test", deadPort);
  const exp = "301231000000Z";
  writeFileSync(
    join(dir, "index.txt"),
    `V\t${exp}\t\t${good}\tunknown\t/CN=good.test\nR\t${exp}\t250101000000Z\t${revoked}\tunknown\t/CN=revoked.test\n`,
  );
  writeFileSync(join(dir, "index.txt.attr"), "unique_subject = no\n");
}

/** What `openssl s_client -status` reports of the stapled answer for `name`. */
function stapled(port: number, name: string, dir: string): string {
  const out = execFileSync(
    "openssl",
    [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      name,
      "-status",
      "-CAfile",
      join(dir, "ca.crt"),
    ],
    { input: "", stdio: ["pipe", "pipe", "ignore"], timeout: 10_000 },
  ).toString();
  if (/OCSP response: no response sent/.test(out)) return "none";
  const m = /Cert Status: (\w+)/.exec(out);
  return m ? m[1]! : "unreadable";
}

/** openssl's OCSP responder for the CA in `dir`, answering for ten minutes at a time. */
function startResponder(dir: string, port: number): ChildProcess {
  return spawn(
    "openssl",
    [
      "ocsp",
      "-index",
      "index.txt",
      "-port",
      String(port),
      "-rsigner",
      "ca.crt",
      "-rkey",
      "ca.key",
      "-CA",
      "ca.crt",
      "-nmin",
      "10",
      "-ignore_err",
    ],
    { cwd: dir, stdio: "ignore" },
  );
}

/** The stapled status for `name`, asked until one comes (the first handshake may precede the first answer). */
async function stapledSoon(port: number, name: string, dir: string): Promise<string> {
  let got = "none";
  for (let i = 0; i < 10 && got === "none"; i++) {
    got = stapled(port, name, dir);
    if (got === "none") await new Promise((r) => setTimeout(r, 300));
  }
  return got;
}

test(
  "OCSP stapling: a current answer from the issuer's responder is stapled; none when it is down",
  needs("openssl"),
  async () => {
    const tree = makeTree({ "www/index.html": "ocsp\n" });
    const [ocspPort, deadPort, port] = [await freePort(), await freePort(), await freePort()];
    makeCa(tree.dir, ocspPort, deadPort);
    const responder = startResponder(tree.dir, ocspPort);
    const site = (name: string) => `  - hosts: [${name}]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    tls: { cert: ${name}.pem, key: ${name}.key }
    routes: [{ static: { root: www } }]
`;
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 1 }\nsites:\n${site("good.test")}${site("revoked.test")}${site("silent.test")}`,
    );
    const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
    try {
      // The first handshake may go out before the first answer is in; the next ones carry it.
      assert.equal(await stapledSoon(port, "good.test", tree.dir), "good");
      assert.equal(
        await stapledSoon(port, "revoked.test", tree.dir),
        "revoked",
        "the responder's word is stapled even when it is bad news",
      );
      assert.equal(
        stapled(port, "silent.test", tree.dir),
        "none",
        "no responder: the handshake goes on without a staple",
      );
    } finally {
      await w.stop();
      responder.kill();
      tree.cleanup();
    }
  },
);

test(
  "OCSP staples in a shared Redis: an instance started while the responder is down staples what another fetched",
  needs("openssl", "redis-server"),
  async () => {
    const tree = makeTree({ "www/index.html": "ocsp\n" });
    const [ocspPort, deadPort] = [await freePort(), await freePort()];
    makeCa(tree.dir, ocspPort, deadPort);
    const redis = await startRedis();
    const responder = startResponder(tree.dir, ocspPort);
    const running: Running[] = [];
    const instance = async (name: string) => {
      const w = await runConfig(
        tree.dir,
        name,
        (port) => `server:
  workers: 1
  admin: off
  acme: { data_dir: data-${name} }
  storage: { redis: { url: "${redis.url}", prefix: ocsp } }
sites:
  - hosts: [good.test]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    tls: { cert: good.test.pem, key: good.test.key }
    routes: [{ static: { root: www } }]
`,
      );
      running.push(w);
      return w.port;
    };
    try {
      const a = await instance("a");
      assert.equal(await stapledSoon(a, "good.test", tree.dir), "good");
      responder.kill();
      await once(responder, "exit");
      const b = await instance("b");
      assert.equal(
        await stapledSoon(b, "good.test", tree.dir),
        "good",
        "the staple comes from Redis: the responder is gone",
      );
    } finally {
      await Promise.all(running.map((w) => w.stop()));
      responder.kill();
      await redis.stop();
      tree.cleanup();
    }
  },
);
