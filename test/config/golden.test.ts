import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { test } from "node:test";
import { loadConfigFile, validateConfigObject } from "../../src/config/load.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { ROOT } from "../helpers/wharf.ts";

// Golden tests: each config file in, the canonical JSON (or the exact error text) out.
// Set UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change, then review the diff.
const DIR = join(ROOT, "test/fixtures/config");
const env = { WHARF_TEST_PORT: "127.0.0.1:9000" };
const update = process.env.UPDATE_GOLDEN === "1";

function golden(file: string, actual: string): void {
  if (update || !existsSync(file)) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, "utf8"));
}

for (const name of readdirSync(join(DIR, "good")).filter((f) => /\.(ya?ml|ts)$/.test(f))) {
  test(`config ${name} → canonical JSON`, async () => {
    const file = join(DIR, "good", name);
    const config = await loadConfigFile(file, env);
    const json = `${JSON.stringify(config, null, 2).replaceAll(DIR, "<fixtures>")}\n`;
    golden(join(DIR, "good", `${basename(name).replace(/\.(ya?ml|ts)$/, "")}.json`), json);
  });
  test(`config ${name}: the canonical config validates as itself (GET /config, edit, POST /config)`, async () => {
    const canonical = JSON.parse(JSON.stringify(await loadConfigFile(join(DIR, "good", name), env)));
    const again = await validateConfigObject(canonical, name, join(DIR, "good"));
    assert.deepEqual(JSON.parse(JSON.stringify(again)), canonical);
  });
}

for (const name of readdirSync(join(DIR, "bad")).filter((f) => /\.ya?ml$/.test(f))) {
  test(`config ${name} is refused with file:line:col`, async () => {
    const file = join(DIR, "bad", name);
    await assert.rejects(loadConfigFile(file, env), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      golden(
        join(DIR, "bad", `${basename(name).replace(/\.ya?ml$/, "")}.err`),
        `${err.message.replaceAll(DIR, "<fixtures>")}\n`,
      );
      return true;
    });
  });
}
