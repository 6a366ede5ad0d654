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
      setTimeout(() => {
        resolve({ reused: s.isSessionReused(), ticket });
        s.destroy();
      }, 150);
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
    `server: { workers: 2, ticket_key_rotation: 2s }
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
    const first = await handshake(port, ca);
    assert.equal(first.reused, false);
    // Several connections: the kernel spreads them over both workers, and each resumes.
    for (let i = 0; i < 6; i++)
      assert.equal((await handshake(port, ca, first.ticket)).reused, true, `connection ${i}`);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(
      (await handshake(port, ca, first.ticket)).reused,
      false,
      "a ticket from before the rotation is refused",
    );
  } finally {
    await w.stop();
    tree.cleanup();
  }
});
