/**
 * Compiles a path glob into a predicate. `*` matches within one segment, `**` across
 * segments, `?` one character, `[abc]` a class, `{a,b}` alternatives. A pattern without a
 * `/` matches the last segment (`*.css` matches `/assets/site.css`), as in .gitignore.
 */
export function compileGlob(pattern: string): (path: string) => boolean {
  const basenameOnly = !pattern.includes("/");
  const re = new RegExp(`^${globToRegExpSource(pattern)}$`);
  if (basenameOnly) return (path) => re.test(path.slice(path.lastIndexOf("/") + 1));
  return (path) => re.test(path);
}

/** True when the text has glob syntax (as opposed to being a plain path). */
export function isGlob(text: string): boolean {
  return /[*?[{]/.test(text);
}

function globToRegExpSource(glob: string): string {
  let out = "";
  let inGroup = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        i++;
        // `**/` also matches no directory at all.
        if (glob[i + 1] === "/") {
          i++;
          out += "(?:.*/)?";
        } else out += ".*";
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end === -1) out += "\\[";
      else {
        let cls = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
        if (cls.startsWith("!")) cls = `^${cls.slice(1)}`;
        out += `[${cls}]`;
        i = end;
      }
    } else if (c === "{") {
      inGroup++;
      out += "(?:";
    } else if (c === "}" && inGroup > 0) {
      inGroup--;
      out += ")";
    } else if (c === "," && inGroup > 0) out += "|";
    else out += c.replace(/[.+^$()|\\]/g, "\\$&");
  }
  return out;
}
