import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { test } from "node:test";
import { makeCert } from "../helpers/certs.ts";
import { freePort, makeTree, startWharf } from "../helpers/wharf.ts";

/** A client certificate signed by the CA in `dir` (made with openssl). */
function clientCert(
  dir: string,
  ca: { cert: string; key: string },
  name: string,
): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      csr,
      "-subj",
      `/CN=${name}`,
    ],
    { stdio: "ignore" },
  );
  execFileSync(
    "openssl",
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-out",
      cert,
      "-days",
      "2",
    ],
    { stdio: "ignore" },
  );
  return { cert, key };
}

function get(port: number, ca: Buffer, client?: { cert: string; key: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        servername: "secure.test",
        headers: { Host: "secure.test" },
        ca,
        agent: false,
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

test("mutual TLS: a site with client_ca serves only clients whose certificate its CA signed", async () => {
  const tree = makeTree({ "www/index.html": "members only\n", "open/index.html": "open\n" });
  const server = makeCert(tree.dir, "server", ["secure.test", "open.test"]);
  const ca = makeCert(tree.dir, "clients-ca", ["Client CA"]);
  const member = clientCert(tree.dir, ca, "member");
  const rogueCa = makeCert(tree.dir, "rogue-ca", ["Rogue CA"]);
  const rogue = clientCert(tree.dir, rogueCa, "rogue");
  const port = await freePort();
  writeFileSync(
    join(tree.dir, "wharf.yaml"),
    `server: { workers: 1 }
sites:
  - hosts: [secure.test]
    listen: ["127.0.0.1:${port}"]
    access_log: off
    tls: { cert: server.crt, key: server.key, client_ca: clients-ca.crt }
    routes: [{ static: { root: www } }]
`,
  );
  const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  try {
    const trust = readFileSync(server.cert);
    assert.equal(await get(port, trust, member), 200);
    assert.equal(await get(port, trust), 403, "no certificate");
    assert.equal(await get(port, trust, rogue), 403, "a certificate from another CA");
  } finally {
    await w.stop();
    tree.cleanup();
  }
});
