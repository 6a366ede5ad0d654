/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeResult =
  | { kind: "none" } // no usable Range: send the whole representation
  | { kind: "unsatisfiable" } // 416
  | { kind: "ranges"; ranges: ByteRange[] };

/**
 * Parses a Range header (RFC 9110 §14.1.2) against a representation of `size` bytes.
 * Invalid syntax or another unit means "none" (ignore the header). Overlapping or adjacent
 * ranges are merged; more than `maxRanges` after merging means "none" (send the whole
 * file, as nginx does past max_ranges), which also stops many-small-ranges abuse.
 */
export function parseRange(header: string, size: number, maxRanges = 16): RangeResult {
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return { kind: "none" };
  const specs = m[1]!.split(",");
  if (specs.length > 256) return { kind: "none" };
  const ranges: ByteRange[] = [];
  let sawValid = false;
  for (const raw of specs) {
    const spec = raw.trim();
    if (spec === "") continue;
    const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
    if (!r || (r[1] === "" && r[2] === "")) return { kind: "none" };
    sawValid = true;
    if (r[1] === "") {
      const suffix = Number(r[2]);
      if (suffix === 0 || size === 0) continue;
      ranges.push({ start: Math.max(0, size - suffix), end: size - 1 });
    } else {
      const start = Number(r[1]);
      const end = r[2] === "" ? size - 1 : Math.min(Number(r[2]), size - 1);
      if (r[2] !== "" && Number(r[2]) < start) return { kind: "none" };
      if (start >= size) continue;
      ranges.push({ start, end });
    }
  }
  if (!sawValid) return { kind: "none" };
  if (ranges.length === 0) return { kind: "unsatisfiable" };
  if (ranges.length === 1) return { kind: "ranges", ranges };
  const merged = mergeRanges(ranges);
  if (merged.length > maxRanges) return { kind: "none" };
  return { kind: "ranges", ranges: merged };
}

function mergeRanges(ranges: ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [{ ...sorted[0]! }];
  for (let i = 1; i < sorted.length; i++) {
    const r = sorted[i]!;
    const last = out[out.length - 1]!;
    if (r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}
