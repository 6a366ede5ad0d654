import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { WharfConfig } from "../config/types.ts";
import { ConfigError, WharfError } from "../core/errors.ts";
import type { Prefork } from "../server/primary.ts";
import {
  HASH_PASSWORD_HELP,
  MAIN_HELP,
  PROXY_HELP,
  RUN_HELP,
  SERVE_HELP,
  TRUST_HELP,
  VALIDATE_HELP,
} from "./usage.ts";

class UsageError extends WharfError {
  constructor(message: string) {
    super("WHARF_ERR_USAGE", message);
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>;

function parse(
  args: string[],
  options: Options,
  positionals = 0,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({
      args,
      options: { ...options, help: { type: "boolean" } },
      allowPositionals: positionals > 0,
      strict: true,
    }) as { values: Record<string, string | boolean | undefined>; positionals: string[] };
    if (r.positionals.length > positionals)
      throw new UsageError(`unexpected argument: ${r.positionals[positionals]}`);
    return r;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message.split("\n")[0]!.replace(/\. To specify.*$/, ""));
  }
}

function workersFlag(v: unknown): number | "auto" {
  if (v === undefined) return "auto";
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new UsageError(`--workers must be a whole number from 1 to 256, not ${String(v)}`);
  return n;
}

/**
 * `WHARF_ENGINE=wharf|node` overrides `server.engine` for every config this process loads
 * (the test suite runs against both engines this way).
 */
function engineOverride(): WharfConfig["server"]["engine"] | undefined {
  const v = process.env.WHARF_ENGINE;
  if (v === undefined || v === "") return undefined;
  if (v !== "wharf" && v !== "node")
    throw new UsageError(`WHARF_ENGINE must be "wharf" or "node", not "${v}"`);
  return v;
}

/** `WHARF_LOG_LEVEL=debug|info|warn|error` overrides `server.log_level` (for `serve` and `proxy`, which have no config file). */
function logLevelOverride(): WharfConfig["server"]["log_level"] | undefined {
  const v = process.env.WHARF_LOG_LEVEL;
  if (v === undefined || v === "") return undefined;
  if (v !== "debug" && v !== "info" && v !== "warn" && v !== "error")
    throw new UsageError(`WHARF_LOG_LEVEL must be debug, info, warn or error, not "${v}"`);
  return v;
}

// The config modules (zod, YAML) load after worker 1 is forked: see preforkWorker.
const loadConfigFile = async (file: string) => (await import("../config/load.ts")).loadConfigFile(file);

/** Forks the first worker, then builds the config meanwhile. */
async function withPrefork(
  build: () => Promise<WharfConfig>,
): Promise<{ config: WharfConfig; prefork: Prefork }> {
  // node:cluster and the primary load only for serving commands (validate stays light).
  const { preforkWorker, abandonPrefork } = await import("../server/primary.ts");
  const prefork = preforkWorker();
  try {
    return { config: await build(), prefork };
  } catch (err) {
    abandonPrefork(prefork);
    throw err;
  }
}

/** Serves `config` until stopped (the server's modules load only for serving commands). */
async function start(
  config: WharfConfig,
  reload?: () => Promise<WharfConfig>,
  prefork?: Prefork,
): Promise<number> {
  const { serve } = await import("../server/serve.ts");
  return serve(config, {
    reload,
    prefork,
    engine: engineOverride(),
    logLevel: logLevelOverride(),
    onFatal: (message) => process.stderr.write(`wharf: cannot start: ${message}\n`),
  });
}

const commonOptions = {
  listen: { type: "string" },
  workers: { type: "string" },
  quiet: { type: "boolean" },
  app: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  domain: { type: "string", multiple: true },
  tls: { type: "string" },
  "acme-ca": { type: "string" },
  "http-listen": { type: "string" },
} as const;

/** The flags every serving command shares, checked. */
function commonFlags(values: Record<string, string | boolean | undefined>) {
  const tlsCert = values["tls-cert"] as string | undefined;
  const tlsKey = values["tls-key"] as string | undefined;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  const tlsMode = values.tls as string | undefined;
  if (tlsMode !== undefined && tlsMode !== "internal")
    throw new UsageError(`--tls takes "internal", not ${tlsMode}`);
  if (tlsMode !== undefined && tlsCert !== undefined)
    throw new UsageError("--tls internal and --tls-cert exclude each other");
  const domains = (values.domain as unknown as string[] | undefined)
    ?.flatMap((d) => d.split(","))
    .filter(Boolean);
  const auto = domains !== undefined && domains.length > 0;
  if (auto && tlsCert !== undefined) {
    throw new UsageError("--domain (automatic certificates) and --tls-cert exclude each other");
  }
  if (!auto && (values["acme-ca"] !== undefined || values["http-listen"] !== undefined)) {
    throw new UsageError("--acme-ca and --http-listen go with --domain");
  }
  return {
    listen: (values.listen as string | undefined) ?? (auto ? ":443" : "localhost:8080"),
    workers: workersFlag(values.workers),
    quiet: values.quiet === true,
    app: values.app as string | undefined,
    tlsCert,
    tlsKey,
    domains,
    internalTls: tlsMode === "internal",
    acmeCa: values["acme-ca"] as string | undefined,
    httpListen: values["http-listen"] as string | undefined,
  };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(MAIN_HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-v" || command === "version") {
    process.stdout.write(`wharf ${version()}\n`);
    return 0;
  }
  switch (command) {
    case "serve": {
      const { values, positionals } = parse(
        rest,
        {
          ...commonOptions,
          browse: { type: "boolean" },
          spa: { type: "boolean" },
          static: { type: "string", multiple: true },
        },
        1,
      );
      if (values.help) return help(SERVE_HELP);
      const { parseStaticMount } = await import("../config/from-flags.ts");
      const statics = ((values.static as unknown as string[] | undefined) ?? []).map((t) => {
        const m = parseStaticMount(t);
        if (typeof m === "string") throw new UsageError(m);
        return m;
      });
      // With --static mounts, nothing is served at / unless DIR says so (not the working directory).
      const dir = positionals[0] ?? (statics.length > 0 ? undefined : ".");
      const flags = {
        ...commonFlags(values),
        dir,
        statics,
        browse: values.browse === true,
        spa: values.spa === true,
      };
      const { config, prefork } = await withPrefork(async () =>
        (await import("../config/from-flags.ts")).serveConfig(flags, process.cwd()),
      );
      return start(config, undefined, prefork);
    }
    case "proxy": {
      const { values } = parse(rest, { ...commonOptions, to: { type: "string", multiple: true } });
      if (values.help) return help(PROXY_HELP);
      const to = ((values.to as unknown as string[] | undefined) ?? [])
        .flatMap((t) => t.split(","))
        .filter(Boolean);
      if (to.length === 0 && values.app === undefined)
        throw new UsageError("proxy needs --to URL[,URL...] or --app COMMAND");
      const flags = { ...commonFlags(values), to };
      const { config, prefork } = await withPrefork(async () =>
        (await import("../config/from-flags.ts")).proxyConfig(flags, process.cwd()),
      );
      return start(config, undefined, prefork);
    }
    case "run": {
      const { values } = parse(rest, { config: { type: "string", short: "c" } });
      if (values.help) return help(RUN_HELP);
      const file = (values.config as string | undefined) ?? "wharf.yaml";
      const { config, prefork } = await withPrefork(() => loadConfigFile(file));
      return start(config, () => loadConfigFile(file), prefork);
    }
    case "trust": {
      const { values } = parse(rest, {});
      if (values.help) return help(TRUST_HELP);
      const root = await (await import("../tls/internal-certs.ts")).ensureInternalCa();
      const { trust } = await import("./trust.ts");
      process.stdout.write(`${await trust(root)}\n`);
      return 0;
    }
    case "hash-password": {
      const { values } = parse(rest, { algorithm: { type: "string" } });
      if (values.help) return help(HASH_PASSWORD_HELP);
      const algorithm = (values.algorithm as string | undefined) ?? "scrypt";
      if (algorithm !== "scrypt" && algorithm !== "argon2id")
        throw new UsageError(`--algorithm takes scrypt or argon2id, not ${algorithm}`);
      const { hashPasswordCommand } = await import("./hash-password.ts");
      process.stdout.write(`${await hashPasswordCommand(algorithm)}\n`);
      return 0;
    }
    case "validate": {
      const { values } = parse(rest, { config: { type: "string", short: "c" } });
      if (values.help) return help(VALIDATE_HELP);
      await loadConfigFile((values.config as string | undefined) ?? "wharf.yaml");
      process.stdout.write("ok\n");
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}" (see wharf --help)`);
  }
}

function help(text: string): number {
  process.stdout.write(text);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      for (const p of err.message.split("\n")) process.stderr.write(`wharf: ${p}\n`);
      process.exit(1);
    }
    if (err instanceof UsageError) {
      process.stderr.write(`wharf: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`wharf: ${(err as Error).message ?? String(err)}\n`);
    if (process.env.WHARF_DEBUG) console.error(err);
    process.exit(1);
  },
);
