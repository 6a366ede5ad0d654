import type { MatchConfig } from "../config/types.ts";
import { compileGlob, isGlob } from "../core/glob.ts";
import { prefixMatcher } from "../handlers/path-prefix.ts";
import type { Exchange } from "../http/exchange.ts";

export type Matcher = (ex: Exchange) => boolean;

/** Compiles a route's `match` block into one predicate (all parts must hold; any value within a part). */
export function compileMatch(m: MatchConfig): Matcher | undefined {
  const tests: Matcher[] = [];
  if (m.path && m.path.length > 0) {
    const paths = m.path.map((p) => (isGlob(p) ? compileGlob(p) : prefixMatcher(p)));
    tests.push(paths.length === 1 ? (ex) => paths[0]!(ex.path) : (ex) => paths.some((t) => t(ex.path)));
  }
  if (m.method && m.method.length > 0) {
    const methods = new Set(m.method);
    tests.push((ex) => methods.has(ex.method));
  }
  if (m.header) {
    for (const [name, pattern] of Object.entries(m.header)) {
      if (pattern === "*") tests.push((ex) => ex.header(name) !== undefined);
      else {
        const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\?]/g, "\\$&").replace(/\*/g, ".*")}$`, "i");
        tests.push((ex) => {
          const v = ex.header(name);
          return v !== undefined && re.test(v);
        });
      }
    }
  }
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (ex) => tests.every((t) => t(ex));
}
