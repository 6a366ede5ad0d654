import { readFile } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { z } from "zod";
import { ConfigError, type ConfigProblem } from "../core/errors.ts";
import { HANDLER_NAMES, handlerNamesIn, loadHandlerSchemas } from "../handlers/index.ts";
import type { SchemaBuilder } from "../handlers/record.ts";
import { hintUnknownKeys } from "./key-hints.ts";
import { formatPath } from "./key-path.ts";
import { configKeyMap, configSchema } from "./schema.ts";
import type { WharfConfig } from "./types.ts";

const builders = new Map<string, SchemaBuilder<unknown>>();

/**
 * The schema builders of the handlers a raw config uses (each loaded once per process);
 * of every handler without a config (for the hints that come with errors).
 */
export async function handlerSchemas(raw?: unknown): Promise<Map<string, SchemaBuilder<unknown>>> {
  const used = raw === undefined ? HANDLER_NAMES : handlerNamesIn(raw);
  const missing = [...used].filter((n) => !builders.has(n));
  if (missing.length > 0) for (const [n, b] of await loadHandlerSchemas(missing)) builders.set(n, b);
  return new Map([...used].map((n) => [n, builders.get(n)!]));
}

/**
 * Loads a configuration file (`.yaml`/`.yml`, or `.ts`/`.js` exporting a config by default)
 * into the canonical config. Throws a ConfigError listing every problem with file:line:col.
 */
export async function loadConfigFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<WharfConfig> {
  const abs = resolve(file);
  const ext = extname(abs);
  if (ext === ".ts" || ext === ".mts" || ext === ".js" || ext === ".mjs") return loadModuleConfig(abs);
  let text: string;
  try {
    text = await readFile(abs, "utf8");
  } catch (err) {
    throw new ConfigError([{ file, path: "", message: `cannot read: ${(err as Error).message}` }]);
  }
  // The YAML parser is loaded only for YAML files (a CLI-flag start never needs it).
  const { parseYamlConfig } = await import("./load-yaml.ts");
  return parseYamlConfig(text, file, dirname(abs), env, handlerSchemas);
}

/**
 * Validates a config sent as text (the admin API's POST /config): JSON when `type` says so
 * or the text starts with `{`, else YAML; relative paths resolve against `baseDir`.
 */
export async function validateConfigText(raw: string, type: string, baseDir: string): Promise<WharfConfig> {
  if (/json/i.test(type) || raw.trimStart().startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new ConfigError([
        { file: "request body", path: "", message: `is not JSON: ${(err as Error).message}` },
      ]);
    }
    return validateConfigObject(value, "request body", baseDir);
  }
  const { parseYamlConfig } = await import("./load-yaml.ts");
  return parseYamlConfig(raw, "request body", baseDir, process.env, handlerSchemas);
}

/** Validates an already-built object (from a TS config or CLI flags). */
export async function validateConfigObject(
  raw: unknown,
  source: string,
  baseDir: string,
): Promise<WharfConfig> {
  const handlers = await handlerSchemas(raw);
  const result = configSchema({ baseDir }, handlers).safeParse(raw);
  if (result.success) return result.data;
  const problems = issuesToProblems(result.error.issues, (path) => ({
    file: source,
    path: formatPath(path),
  }));
  throw new ConfigError(hintUnknownKeys(problems, configKeyMap({ baseDir }, await handlerSchemas())));
}

async function loadModuleConfig(abs: string): Promise<WharfConfig> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
  } catch (err) {
    throw new ConfigError([{ file: abs, path: "", message: `cannot load: ${(err as Error).message}` }]);
  }
  let value = mod.default;
  if (typeof value === "function") value = await (value as () => unknown)();
  if (value === undefined) throw new ConfigError([{ file: abs, path: "", message: "has no default export" }]);
  return validateConfigObject(value, abs, dirname(abs));
}

type Locator = (path: PropertyKey[], onKey: boolean) => Omit<ConfigProblem, "message">;

export function issuesToProblems(issues: readonly z.core.$ZodIssue[], at: Locator): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = issue.path as PropertyKey[];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ ...at([...path, key], true), message: "unknown key" });
      continue;
    }
    out.push({ ...at(path, false), message: describeIssue(issue) });
  }
  return out.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return /received undefined/.test(issue.message) ? "is required" : `must be ${article(issue.expected)}`;
    case "invalid_value":
      return `must be one of: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_union": {
      // Prefer the message of an alternative that got past the type check.
      const inner = issue.errors.flat().find((i) => i.code === "custom");
      if (inner) return inner.message;
      const options = issue.errors.map((alt) => {
        const first = alt[0];
        if (first?.code === "invalid_value") return first.values.map((v) => JSON.stringify(v)).join(", ");
        if (first?.code === "invalid_type") return article(first.expected);
        return undefined;
      });
      return options.every((o) => o !== undefined) ? `must be ${oneOf(options)}` : "has an invalid value";
    }
    default:
      return issue.message;
  }
}

/** "a, b or c". */
function oneOf(options: string[]): string {
  return options.length <= 2
    ? options.join(" or ")
    : `${options.slice(0, -1).join(", ")} or ${options.at(-1)}`;
}

function article(type: string): string {
  if (type === "null") return "null";
  if (type === "array") return "a list";
  if (type === "object" || type === "record") return "a mapping";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
