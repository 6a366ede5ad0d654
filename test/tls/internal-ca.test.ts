import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CHROMIUM, launchChromium } from "../helpers/chromium.ts";
import { h2request, h2session } from "../helpers/h2.ts";
import { needs } from "../helpers/tools.ts";
import { makeTree, ROOT, runWharf, startWharf } from "../helpers/wharf.ts";

test("tls internal: a root and intermediate made once, a leaf per site, verified by a client that trusts the root", async () => {
  const tree = makeTree({ "www/index.html": "internal tls\n" });
  const env = { WHARF_DATA_DIR: join(tree.dir, "data") };
  const w = await startWharf(
    [
      "serve",
      join(tree.dir, "www"),
      "--tls",
      "internal",
      "--listen",
      "127.0.0.1:{port}",
      "--workers",
      "1",
      "--quiet",
    ],
    { env },
  );
  try {
    mkdirSync(join(tree.dir, "store"));
    const trust = await runWharf(["trust"], {
      env: { ...env, HOME: join(tree.dir, "home"), WHARF_TRUST_STORE: join(tree.dir, "store") },
    });
    assert.equal(trust.code, 0);
    const rootPath = trust.stdout.split("\n")[0]!;
    assert.equal(rootPath, join(tree.dir, "data/internal-ca/root.crt"));
    if (process.getuid?.() === 0)
      assert.deepEqual(readFileSync(join(tree.dir, "store/wharf-local-root.crt")), readFileSync(rootPath));
    const root = readFileSync(rootPath);
    const s = await h2session(`https://127.0.0.1:${w.port}`, root, "localhost");
    const r = await h2request(s, "/");
    s.close();
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "internal tls\n");
    const rootCert = new X509Certificate(root);
    assert.ok(rootCert.ca);
    assert.match(rootCert.subject, /wharf Local Root CA/);
  } finally {
    await w.stop();
    tree.cleanup();
  }
});

test(
  "headless Chromium loads the example site over HTTP/2 with the internal CA trusted",
  needs(CHROMIUM, "certutil"),
  async () => {
    const tree = makeTree({});
    const env = { WHARF_DATA_DIR: join(tree.dir, "data") };
    const w = await startWharf(
      [
        "serve",
        join(ROOT, "examples/site"),
        "--tls",
        "internal",
        "--listen",
        "127.0.0.1:{port}",
        "--workers",
        "1",
        "--quiet",
      ],
      { env },
    );
    // `wharf trust` installs the root where Chromium looks: the NSS database under $HOME/.pki/nssdb.
    const home = join(tree.dir, "home");
    mkdirSync(home);
    const trusted = await runWharf(["trust"], {
      env: { ...env, HOME: home, WHARF_TRUST_STORE: join(tree.dir, "no-store") },
    });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(trusted.stdout, /Chromium, Chrome: installed into the NSS database .*\/home\/\.pki\/nssdb/);
    const listed = execFileSync("certutil", ["-d", `sql:${join(home, ".pki/nssdb")}`, "-L"]).toString();
    assert.match(listed, /wharf Local Root CA\s+C,,/);
    const context = await launchChromium(join(tree.dir, "profile"), { ...process.env, HOME: home });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const failed: string[] = [];
      page.on("requestfailed", (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
      page.on("console", (m) => {
        if (m.type() === "error") failed.push(m.text());
      });
      const res = await page.goto(`https://localhost:${w.port}/`, { waitUntil: "load" });
      assert.equal(res?.status(), 200);
      assert.equal(await page.textContent("#status"), "JavaScript ran: wharf served it with the right type.");
      const proto = await page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol");
      assert.equal(proto, "h2");
      assert.deepEqual(failed, []);
    } finally {
      await context.close();
      await w.stop();
      tree.cleanup();
    }
  },
);
