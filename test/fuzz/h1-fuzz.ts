/**
 * The long differential run of wharf's HTTP/1.1 engine against llhttp (see h1-diff.ts):
 *
 *   npm run fuzz:h1 -- [--cases 1000000] [--seed N] [--save]
 *
 * Prints how each case ended (agreement, or which documented strictness) and every
 * disagreement with the seed that replays it; --save adds the disagreements and a sample of
 * each strictness class to the corpus that CI replays (test/fixtures/h1-corpus.jsonl).
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { check, generate } from "./h1-diff.ts";

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : Number(args[i + 1]);
};
const cases = arg("--cases", 1_000_000);
const seed0 = arg("--seed", Math.floor(Math.random() * 2 ** 31));
const save = args.includes("--save");
const corpus = join(import.meta.dirname, "../fixtures/h1-corpus.jsonl");

const counts = new Map<string, number>();
const saved = new Set<string>();
let failures = 0;
const t0 = Date.now();
const mem0 = process.memoryUsage().rss;
for (let i = 0; i < cases; i++) {
  const seed = seed0 + i;
  const parts = generate(seed);
  const { verdict, ours, theirs } = await check(parts);
  const key = verdict.ok ? (verdict.stricter ?? "agree") : "DISAGREE";
  counts.set(key, (counts.get(key) ?? 0) + 1);
  const bytes = Buffer.concat(parts).toString("latin1");
  if (!verdict.ok) {
    failures++;
    console.log(
      `DISAGREE seed=${seed}: ${verdict.why}\n  bytes=${JSON.stringify(bytes)}\n  wharf=${JSON.stringify(ours)}\n  llhttp=${JSON.stringify(theirs)}`,
    );
  }
  if (save && (!verdict.ok || (verdict.stricter && !saved.has(verdict.stricter)))) {
    saved.add(verdict.ok ? verdict.stricter! : `fail-${seed}`);
    appendFileSync(
      corpus,
      `${JSON.stringify({ seed, expect: key, parts: parts.map((p) => p.toString("latin1")) })}\n`,
    );
  }
  if ((i + 1) % 100_000 === 0) {
    // The heap after a collection, not RSS: what cases leave behind, not what the GC has yet to return.
    (globalThis as { gc?: () => void }).gc?.();
    const heap = process.memoryUsage().heapUsed / 2 ** 20;
    console.log(
      `${i + 1} cases, ${((Date.now() - t0) / 1000).toFixed(0)} s, heap ${heap.toFixed(0)} MiB, rss +${((process.memoryUsage().rss - mem0) / 2 ** 20).toFixed(0)} MiB`,
    );
  }
}
console.log(`seed ${seed0}, ${cases} cases in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`  ${k}: ${v}`);
process.exit(failures > 0 ? 1 : 0);
