import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { needs } from "../helpers/tools.ts";
import { makeTree, ROOT, startTlsWharf } from "../helpers/wharf.ts";

const run = promisify(execFile);

test(
  "testssl.sh finds nothing HIGH or CRITICAL (the test certificate itself aside)",
  { ...needs("testssl"), timeout: 600_000 },
  async () => {
    const tree = makeTree({});
    const w = await startTlsWharf(join(ROOT, "examples/site"));
    try {
      const json = join(tree.dir, "testssl.json");
      await run(
        "testssl",
        ["--quiet", "--color", "0", "--warnings", "off", "--jsonfile", json, `127.0.0.1:${w.port}`],
        {
          maxBuffer: 64 * 1024 * 1024,
        },
      ).catch((err: { code?: number }) => {
        // testssl.sh exits non-zero when it has findings; they are judged from the JSON below.
        if (typeof err.code !== "number") throw err;
      });
      const findings = JSON.parse(readFileSync(json, "utf8")) as {
        id: string;
        severity: string;
        finding: string;
      }[];
      // The self-signed test certificate: no chain of trust, no revocation URLs.
      const aboutTheCert = /^cert_|^chain_of_trust/;
      const serious = findings.filter(
        (f) => (f.severity === "HIGH" || f.severity === "CRITICAL") && !aboutTheCert.test(f.id),
      );
      assert.deepEqual(serious, []);
      const protocols = new Map(
        findings
          .filter((f) => /^(SSLv2|SSLv3|TLS1|TLS1_1|TLS1_2|TLS1_3)$/.test(f.id))
          .map((f) => [f.id, f.finding]),
      );
      assert.match(protocols.get("TLS1") ?? "", /not offered/);
      assert.match(protocols.get("TLS1_1") ?? "", /not offered/);
      assert.match(protocols.get("TLS1_2") ?? "", /offered/);
      assert.match(protocols.get("TLS1_3") ?? "", /offered/);
    } finally {
      await w.stop();
      tree.cleanup();
    }
  },
);
