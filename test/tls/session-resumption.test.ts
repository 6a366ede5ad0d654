import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { makeCert } from "../helpers/certs.ts";
import { handshake } from "../helpers/tls-session.ts";
import { freePort, makeTree, startWharf } from "../helpers/wharf.ts";

test("TLS sessions resume on any worker; ticket keys rotate", { timeout: 30_000 }, async () => {
  const tree = makeTree({ "www/index.html": "x" });
  const c = makeCert(tree.dir, "c", ["localhost", "127.0.0.1"]);
  const port = await freePort();
  writeFileSync(
    join(tree.dir, "wharf.yaml"),
    `server: { workers: 2, ticket_key_rotation: 3s }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    tls: { cert: c.crt, key: c.key }
    routes: [{ static: { root: www } }]
`,
  );
  const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
  try {
    const ca = readFileSync(c.cert);
    // The rotation clock started with the server, not with this test: wait until an
    // old ticket is refused, which also proves that the keys rotate at all.
    const old = await handshake(port, ca);
    assert.equal(old.reused, false);
    const deadline = Date.now() + 10_000;
    let refused = false;
    while (!refused && Date.now() < deadline) {
      refused = !(await handshake(port, ca, old.ticket)).reused;
      if (!refused) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(refused, "a ticket from before the rotation is refused");
    // A fresh key period has just begun: a new ticket resumes on every connection, and
    // the kernel spreads them over both workers, so both hold the rotated key.
    const fresh = await handshake(port, ca);
    assert.equal(fresh.reused, false);
    for (let i = 0; i < 6; i++)
      assert.equal((await handshake(port, ca, fresh.ticket)).reused, true, `connection ${i}`);
  } finally {
    await w.stop();
    tree.cleanup();
  }
});
