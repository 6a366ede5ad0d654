import { type Document, type LineCounter, visit } from "yaml";
import type { ConfigProblem } from "../core/errors.ts";

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string value of the document with the
 * environment's values; a variable that is unset and has no default is a problem.
 */
export function expandEnv(
  doc: Document,
  env: NodeJS.ProcessEnv,
  file: string,
  lines: LineCounter,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  visit(doc, {
    Scalar(key, node) {
      if (key === "key" || typeof node.value !== "string" || !node.value.includes("${")) return;
      node.value = node.value.replace(VAR, (_all, name: string, def: string | undefined) => {
        const v = env[name];
        if (v !== undefined && v !== "") return v;
        if (def !== undefined) return def;
        const pos = node.range ? lines.linePos(node.range[0]) : undefined;
        problems.push({
          file,
          path: "",
          message: `environment variable ${name} is not set (write \${${name}:-default} for a default)`,
          ...(pos ? { line: pos.line, col: pos.col } : {}),
        });
        return "";
      });
    },
  });
  return problems;
}
