import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { ROOT } from "../helpers/wharf.ts";

// The layer line of the README, checked: each folder of src/ imports only from itself and
// the folders below it. Folders on one rank (tls, config, routing; http, storage) may import one another's
// types only.
const RANKS: string[][] = [
  ["cli"],
  ["admin"],
  ["server"],
  ["tls", "config", "routing"],
  ["handlers"],
  ["http", "storage"],
  ["core"],
];
const rankOf = (folder: string) => RANKS.findIndex((r) => r.includes(folder));

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) yield* files(join(dir, e.name));
    else if (e.name.endsWith(".ts")) yield join(dir, e.name);
  }
}

test("src/ folders import only downward (cli → admin → server → tls, config, routing → handlers → http, storage → core)", () => {
  const src = join(ROOT, "src");
  const wrong: string[] = [];
  for (const file of files(src)) {
    const rel = relative(src, file);
    const folder = rel.includes("/") ? rel.split("/")[0]! : "";
    if (folder === "") continue; // src/index.ts, the public API, may reach anything
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(
      /(import|export)(\s+type)?[^"';]*from\s+"(\.[^"]+)"|import\("(\.[^"]+)"\)/g,
    )) {
      const spec = m[3] ?? m[4]!;
      const target = relative(src, join(file, "..", spec));
      const to = target.split("/")[0]!;
      if (to === folder || target.startsWith("..")) continue;
      const typeOnly = m[2] !== undefined;
      const from = rankOf(folder);
      const dest = rankOf(to);
      assert.notEqual(from, -1, `${folder} has no rank`);
      assert.notEqual(dest, -1, `${to} has no rank`);
      if (dest < from || (dest === from && !typeOnly)) wrong.push(`${rel} → ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});
