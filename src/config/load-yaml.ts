import { LineCounter, parseDocument } from "yaml";
import { ConfigError } from "../core/errors.ts";
import type { SchemaBuilder } from "../handlers/record.ts";
import { expandEnv } from "./env-expand.ts";
import { hintUnknownKeys } from "./key-hints.ts";
import { issuesToProblems } from "./load.ts";
import { configKeyMap, configSchema } from "./schema.ts";
import type { WharfConfig } from "./types.ts";
import { locate } from "./yaml-positions.ts";

/** Parses YAML text into the canonical config; `file` names it in errors. */
export async function parseYamlConfig(
  text: string,
  file: string,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  /** The schemas of the handlers `raw` uses; of every handler when `raw` is undefined. */
  loadHandlers: (raw?: unknown) => Promise<Map<string, SchemaBuilder<unknown>>>,
): Promise<WharfConfig> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          file,
          path: "",
          message: yamlMessage(e.code, e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")),
          ...(pos ? { line: pos.line, col: pos.col } : {}),
        };
      }),
    );
  }
  const envProblems = expandEnv(doc, env, file, lines);
  if (envProblems.length > 0) throw new ConfigError(envProblems);
  const raw = doc.toJS() ?? {};
  const handlers = await loadHandlers(raw);
  const result = configSchema({ baseDir }, handlers).safeParse(raw);
  if (result.success) return result.data;
  const problems = issuesToProblems(result.error.issues, (path, onKey) => {
    const at = locate(doc.contents, path, lines, onKey);
    return { file, ...at };
  });
  throw new ConfigError(hintUnknownKeys(problems, configKeyMap({ baseDir }, await loadHandlers())));
}

/** The YAML parser's words for the slips people make, explained (the parser's own after them). */
function yamlMessage(code: string, message: string): string {
  switch (code) {
    case "BAD_INDENT":
      if (/end with a [\]}]/.test(message))
        return `a [ or { is not closed before the next line, or that line is indented too little (${message})`;
      return `the indentation is off here: YAML nests by indentation, so keys of one mapping must line up in one column, with spaces (${message})`;
    case "BLOCK_AS_IMPLICIT_KEY":
      return `a mapping cannot start on the same line as its key ("static: root: x"): write it on the next lines, indented, or in braces, "static: { root: x }" (${message})`;
    case "TAB_AS_INDENT":
      return "tabs cannot indent YAML: indent with spaces";
    case "DUPLICATE_KEY":
      return `a key is written twice in the same mapping (${message})`;
    default:
      return message;
  }
}
