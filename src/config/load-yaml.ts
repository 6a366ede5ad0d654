import { LineCounter, parseDocument } from "yaml";
import { ConfigError } from "../core/errors.ts";
import type { SchemaBuilder } from "../handlers/record.ts";
import { expandEnv } from "./env-expand.ts";
import { issuesToProblems } from "./load.ts";
import { configSchema } from "./schema.ts";
import type { WharfConfig } from "./types.ts";
import { locate } from "./yaml-positions.ts";

/** Parses YAML text into the canonical config; `file` names it in errors. */
export function parseYamlConfig(
  text: string,
  file: string,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  handlers: Map<string, SchemaBuilder<unknown>>,
): WharfConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          file,
          path: "",
          message: e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""),
          ...(pos ? { line: pos.line, col: pos.col } : {}),
        };
      }),
    );
  }
  const envProblems = expandEnv(doc, env, file, lines);
  if (envProblems.length > 0) throw new ConfigError(envProblems);
  const raw = doc.toJS() ?? {};
  const result = configSchema({ baseDir }, handlers).safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    issuesToProblems(result.error.issues, (path, onKey) => {
      const at = locate(doc.contents, path, lines, onKey);
      return { file, ...at };
    }),
  );
}
