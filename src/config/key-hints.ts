import type { z } from "zod";
import type { ConfigProblem } from "../core/errors.ts";

/**
 * The keys a config may hold, by where: `sites[].routes[].handle[].static` → root, index…
 * (array items as `[]`, records as `*`). Read off the zod schemas, so it cannot drift.
 */
export type KeyMap = Map<string, Set<string>>;

type Def = { type: string; [k: string]: unknown };
const defOf = (s: unknown): Def | undefined => (s as { _zod?: { def?: Def } })?._zod?.def;

/** Adds the keys of `schema` (and of everything inside it) at `at` to `out`. */
export function collectKeys(schema: unknown, at: string, out: KeyMap, depth = 0): void {
  const def = defOf(schema);
  if (def === undefined || depth > 30) return;
  switch (def.type) {
    case "object": {
      const shape = def.shape as Record<string, unknown>;
      const keys = out.get(at) ?? new Set<string>();
      for (const [k, v] of Object.entries(shape)) {
        keys.add(k);
        collectKeys(v, at === "" ? k : `${at}.${k}`, out, depth + 1);
      }
      out.set(at, keys);
      return;
    }
    case "array":
      return collectKeys(def.element, `${at}[]`, out, depth + 1);
    case "record":
      return collectKeys(def.valueType, `${at}.*`, out, depth + 1);
    case "union":
      for (const o of def.options as unknown[]) collectKeys(o, at, out, depth + 1);
      return;
    case "pipe":
      collectKeys(def.in, at, out, depth + 1);
      collectKeys(def.out, at, out, depth + 1);
      return;
    default:
      if (def.innerType !== undefined) collectKeys(def.innerType, at, out, depth + 1);
  }
}

/** `sites[0].routes[2].static` → `sites[].routes[].static`. */
function pattern(path: string): string {
  return path.replace(/\[\d+\]/g, "[]");
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The known key nearest to `key` (a typo), if one is near enough. */
function nearest(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.min(3, Math.floor(key.length / 3)));
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d <= bestD && (best === undefined || d < bestD)) {
      best = k;
      bestD = d;
    }
  }
  return best;
}

/**
 * Better words for "unknown key": a key that belongs one level down or up is said to
 * belong there (the usual YAML indentation slip), a near miss gets "did you mean".
 * `is required` problems that a misplaced key explains are dropped.
 */
export function hintUnknownKeys(problems: ConfigProblem[], keys: KeyMap): ConfigProblem[] {
  const explained = new Set<string>();
  const out = problems.map((p) => {
    if (p.message !== "unknown key") return p;
    const dot = p.path.lastIndexOf(".");
    const parent = dot === -1 ? "" : p.path.slice(0, dot);
    const key = p.path.slice(dot + 1);
    const here = keys.get(pattern(parent));
    // Under a sibling (it was meant to be indented further)?
    for (const sibling of here ?? []) {
      for (const via of [sibling, `handle[].${sibling}`]) {
        const below = keys.get(pattern(parent ? `${parent}.${via}` : via));
        if (below?.has(key)) {
          explained.add(`${parent}.${sibling}.${key}`);
          explained.add(`${parent}.handle[0].${sibling}.${key}`);
          return {
            ...p,
            message: `unknown key here; it belongs under ${sibling}: (indent it below "${sibling}:")`,
          };
        }
      }
    }
    // Under an ancestor's other key (it was meant for another block)?
    const segs = parent.split(".");
    for (let n = segs.length - 1; n >= 0; n--) {
      const up = segs.slice(0, n).join(".");
      for (const sibling of keys.get(pattern(up)) ?? []) {
        if (up === parent) continue;
        const other = up ? `${up}.${sibling}` : sibling;
        if (pattern(other) !== pattern(parent) && keys.get(pattern(other))?.has(key)) {
          const where = other.replace(/\[\d+\]/g, "[…]");
          return { ...p, message: `unknown key here; it belongs under ${where} (as ${where}.${key})` };
        }
      }
    }
    const guess = here ? nearest(key, here) : undefined;
    return guess ? { ...p, message: `unknown key (did you mean "${guess}"?)` } : p;
  });
  return out.filter((p) => !(p.message === "is required" && explained.has(p.path)));
}

/** The keys of a whole config: the config schema plus every handler's, wherever a handler may stand. */
export function configKeys(configSchema: z.ZodType, handlers: Record<string, z.ZodType>): KeyMap {
  const out: KeyMap = new Map();
  collectKeys(configSchema, "", out);
  const route = out.get("sites[].routes[]") ?? new Set<string>();
  for (const [name, schema] of Object.entries(handlers)) {
    route.add(name);
    collectKeys(schema, `sites[].routes[].${name}`, out);
    collectKeys(schema, `sites[].routes[].handle[].${name}`, out);
  }
  out.set("sites[].routes[]", route);
  return out;
}
