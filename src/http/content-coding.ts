/** Content codings wharf can serve, by their Accept-Encoding token. */
export type Coding = "br" | "zstd" | "gzip";

/** File suffix of each coding's precompressed sidecar. */
export const SIDECAR_SUFFIX: Record<Coding, string> = { br: ".br", zstd: ".zst", gzip: ".gz" };

/**
 * Picks the coding to send from those `available` (in server preference order) given an
 * Accept-Encoding value (RFC 9110 §12.5.3): highest q wins, ties go to the server's order,
 * q=0 excludes, `*` covers codings not named. Returns undefined for identity.
 */
export function chooseCoding(
  acceptEncoding: string | undefined,
  available: readonly Coding[],
): Coding | undefined {
  if (!acceptEncoding || available.length === 0) return undefined;
  const q = new Map<string, number>();
  for (const part of acceptEncoding.split(",")) {
    const [rawName, ...params] = part.split(";");
    const name = rawName!.trim().toLowerCase();
    if (name === "") continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) weight = Math.min(1, Math.max(0, Number(m[1]) || 0));
    }
    // "x-gzip" is an alias of gzip (RFC 9110 §8.4.1.3).
    q.set(name === "x-gzip" ? "gzip" : name, weight);
  }
  const star = q.get("*");
  let best: Coding | undefined;
  let bestQ = 0;
  for (const c of available) {
    const w = q.get(c) ?? star ?? 0;
    if (w > bestQ) {
      best = c;
      bestQ = w;
    }
  }
  return best;
}
