/**
 * Decodes a request path once and normalizes it (RFC 3986 §5.2.4 dot segments, merged
 * slashes). Returns undefined for paths wharf refuses (400): bad percent-encoding, invalid
 * or overlong UTF-8, control bytes including NUL, backslashes, and `..` above the root.
 * The result always starts with `/` and keeps a trailing slash.
 */
export function normalizePath(rawPath: string): string | undefined {
  let p = rawPath;
  if (p.indexOf("%") !== -1) {
    try {
      // decodeURIComponent rejects invalid UTF-8, overlong forms included.
      p = decodeURIComponent(p);
    } catch {
      return undefined;
    }
  }
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c /* \ */) return undefined;
  }
  if (p.charCodeAt(0) !== 47) return undefined;
  // Fast path: nothing to normalize.
  if (p.indexOf("/.") === -1 && p.indexOf("//") === -1) return p;
  const out: string[] = [];
  const parts = p.split("/");
  const trailing =
    parts[parts.length - 1] === "" || parts[parts.length - 1] === "." || parts[parts.length - 1] === "..";
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(seg);
  }
  if (out.length === 0) return "/";
  return `/${out.join("/")}${trailing ? "/" : ""}`;
}
