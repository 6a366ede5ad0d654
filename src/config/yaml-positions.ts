import { isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import { formatPath } from "./key-path.ts";

/** Where a key path points in a YAML document, and the path as the file spells it. */
export interface Located {
  line?: number;
  col?: number;
  path: string;
}

/**
 * Finds the node a validation path points at. `onKey` points at the key itself (for
 * unknown keys). A `handle[0]` missing from the file is the one-handler shorthand and is
 * skipped.
 */
export function locate(
  root: Node | null | undefined,
  path: readonly PropertyKey[],
  lines: LineCounter,
  onKey = false,
): Located {
  let node: unknown = root;
  let found: unknown = root;
  const shown: PropertyKey[] = [];
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) {
        if (seg === "handle" && path[i + 1] === 0) {
          i++;
          continue;
        }
        break;
      }
      shown.push(seg);
      const last = i === path.length - 1;
      node = pair.value;
      found = last && onKey ? pair.key : (pair.value ?? pair.key);
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
      shown.push(seg);
      node = node.items[seg];
      found = node;
    } else {
      break;
    }
  }
  // Whatever the file did not spell out (defaults, transforms) is still named in the path.
  const rest = path.slice(shownLength(path, shown));
  const range = (found as { range?: [number, number, number] } | null)?.range;
  const text = formatPath([...shown, ...rest]);
  if (!range) return { path: text };
  const pos = lines.linePos(range[0]);
  return { line: pos.line, col: pos.col, path: text };
}

function shownLength(path: readonly PropertyKey[], shown: PropertyKey[]): number {
  // Count how far into `path` the walk got, allowing for the skipped `handle, 0`.
  let j = 0;
  for (let i = 0; i < path.length && j < shown.length; i++) {
    if (path[i] === shown[j]) j++;
    if (j === shown.length) return i + 1;
  }
  return 0;
}
