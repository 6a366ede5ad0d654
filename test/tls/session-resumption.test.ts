import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { makeCert } from "../helpers/certs.ts";
import { freePort, makeTree, startWharf } from "../helpers/wharf.ts";

/**
 * Connects (resuming `session` if given); resolves with whether the session was resumed
 * and the ticket the server sent, if any (TLS 1.3 tickets come just after the handshake).
 */
function handshake(
  port: number,
  ca: Buffer,
  session?: Buffer,
): Promise<{ reused: boolean; ticket: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca,
      ...(session ? { session } : {}),
    });
    let ticket: Buffer | undefined;
    s.on("session", (t: Buffer) => {
      ticket = t;
    });
    s.once("secureConnect", () => {
      // A resumed session is known now; a new one's ticket arrives just after.
      setTimeout(
        () => {
          resolve({ reused: s.isSessionReused(), ticket });
          s.destroy();
        },
        session ? 0 : 150,
      );
    });
    s.on("error", reject);
    s.resume();
  });
}

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
