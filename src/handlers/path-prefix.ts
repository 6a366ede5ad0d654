/**
 * A segment-aware prefix test: `/api` matches `/api`, `/api/` and `/api/x`, never `/apix`.
 * A prefix ending in `/` matches what starts with it.
 */
export function prefixMatcher(prefix: string): (path: string) => boolean {
  if (prefix === "/" || prefix === "") return () => true;
  if (prefix.endsWith("/")) return (p) => p.startsWith(prefix);
  const withSlash = `${prefix}/`;
  return (p) => p === prefix || p.startsWith(withSlash);
}
