import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { WharfConfig } from "../config/types.ts";
import { ConfigError, WharfError } from "../core/errors.ts";
import type { Prefork } from "../server/primary.ts";
import {
  ADMIN_HELP,
  HASH_PASSWORD_HELP,
  MAIN_HELP,
  PROXY_HELP,
  RUN_HELP,
  SERVE_HELP,
  STORAGE_HELP,
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

/**
 * Serves `config` until stopped (the server's modules load only for serving commands),
 * with its admin API once every worker listens: on `server.admin.listen`, or a unix
 * socket named for `identity` (the config file, or the serving command line).
 */
async function start(
  config: WharfConfig,
  where: { identity: string; baseDir: string },
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
    onListening: async (control, log) => {
      const admin = control.config().server.admin;
      if (admin === null) return;
      const [{ startAdmin }, { defaultAdminSocket }, { validateConfigText }] = await Promise.all([
        import("../admin/server.ts"),
        import("../server/control.ts"),
        import("../config/load.ts"),
      ]);
      await startAdmin(
        control,
        {
          listen: admin.listen ?? `unix:${defaultAdminSocket(where.identity)}`,
          token: admin.token,
          baseDir: where.baseDir,
        },
        log,
        validateConfigText,
      );
    },
  });
}

/** The identity (for the default admin socket) of a serving command line. */
const commandIdentity = (command: string, args: string[]) =>
  `${command}:${process.cwd()}:${JSON.stringify(args)}`;

/**
 * Where the admin API of the server run from `--config` (default ./wharf.yaml) answers:
 * `--admin ADDR` when given, else the config's `server.admin.listen` or its default
 * socket; the token from the config or WHARF_ADMIN_TOKEN. A config that does not load
 * (being edited) still names its default socket.
 */
async function adminTarget(values: Record<string, string | boolean | undefined>) {
  const file = resolve((values.config as string | undefined) ?? "wharf.yaml");
  const { defaultAdminSocket } = await import("../server/control.ts");
  let listen = `unix:${defaultAdminSocket(file)}`;
  let token = process.env.WHARF_ADMIN_TOKEN || null;
  try {
    const admin = (await loadConfigFile(file)).server.admin;
    if (admin === null && values.admin === undefined)
      throw new UsageError(`${file} turns the admin API off (server.admin: off)`);
    if (admin?.listen) listen = admin.listen;
    token ??= admin?.token ?? null;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
  }
  if (typeof values.admin === "string") listen = values.admin;
  return { listen, token };
}

const adminOptions = {
  config: { type: "string", short: "c" },
  admin: { type: "string" },
  json: { type: "boolean" },
} as const;

/** Runs one admin API call for a CLI command; prints its answer; 0 when it succeeded. */
async function adminCommand(
  values: Record<string, string | boolean | undefined>,
  method: string,
  path: string,
  body?: unknown,
  show: (body: unknown) => string = (b) => JSON.stringify(b, null, 2),
): Promise<number> {
  const { callAdmin } = await import("../admin/client.ts");
  const answer = await callAdmin(await adminTarget(values), method, path, body);
  const ok = answer.status >= 200 && answer.status < 300;
  if (!ok) {
    const errors = (answer.body as { errors?: unknown; error?: unknown }) ?? {};
    const list = Array.isArray(errors.errors) ? errors.errors : [errors.error ?? answer.body];
    for (const e of list) process.stderr.write(`wharf: ${String(e)}\n`);
    return 1;
  }
  process.stdout.write(`${values.json ? JSON.stringify(answer.body, null, 2) : show(answer.body)}\n`);
  return 0;
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
      return start(
        config,
        { identity: commandIdentity("serve", rest), baseDir: process.cwd() },
        undefined,
        prefork,
      );
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
      return start(
        config,
        { identity: commandIdentity("proxy", rest), baseDir: process.cwd() },
        undefined,
        prefork,
      );
    }
    case "run": {
      const { values } = parse(rest, { config: { type: "string", short: "c" } });
      if (values.help) return help(RUN_HELP);
      const file = resolve((values.config as string | undefined) ?? "wharf.yaml");
      const { config, prefork } = await withPrefork(() => loadConfigFile(file));
      return start(config, { identity: file, baseDir: dirname(file) }, () => loadConfigFile(file), prefork);
    }
    case "status": {
      const { values } = parse(rest, adminOptions);
      if (values.help) return help(ADMIN_HELP);
      return adminCommand(values, "GET", "/status", undefined, formatStatus);
    }
    case "reload":
    case "deploy": {
      const { values } = parse(rest, adminOptions);
      if (values.help) return help(ADMIN_HELP);
      return adminCommand(
        values,
        "POST",
        `/${command}`,
        undefined,
        () => `${command === "reload" ? "reloaded" : "deployed"}`,
      );
    }
    case "upstreams": {
      const { values, positionals } = parse(rest, adminOptions, 2);
      if (values.help) return help(ADMIN_HELP);
      const [action, url] = positionals;
      if (action === undefined) return adminCommand(values, "GET", "/upstreams", undefined, formatUpstreams);
      if ((action !== "drain" && action !== "undrain") || url === undefined)
        throw new UsageError("usage: wharf upstreams [drain|undrain URL]");
      return adminCommand(values, "POST", `/upstreams/${action}`, { url }, () => `${url} ${action}ed`);
    }
    case "purge": {
      const { values, positionals } = parse(rest, { ...adminOptions, prefix: { type: "boolean" } }, 1);
      if (values.help) return help(ADMIN_HELP);
      const target = positionals[0];
      if (target === undefined) throw new UsageError("usage: wharf purge URL [--prefix]");
      return adminCommand(
        values,
        "POST",
        "/cache/purge",
        values.prefix ? { prefix: target } : { url: target },
        (b) => `purged ${(b as { purged: number }).purged} cached response(s)`,
      );
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
    case "storage": {
      const [action, ...more] = rest;
      const { values } = parse(more, { config: { type: "string", short: "c" }, dir: { type: "string" } });
      if (values.help || action === undefined || action === "--help") return help(STORAGE_HELP);
      if (action !== "export" && action !== "import")
        throw new UsageError(`wharf storage takes export or import, not ${action}`);
      const file = values.config as string | undefined;
      const config =
        file !== undefined || existsSync("wharf.yaml")
          ? await loadConfigFile(file ?? "wharf.yaml")
          : undefined;
      const cli = await import("./storage.ts");
      const s = await cli.storageOf(
        config,
        values.dir === undefined ? undefined : resolve(values.dir as string),
      );
      try {
        const n =
          action === "export"
            ? await cli.exportStorage(s, process.stdout)
            : await cli.importStorage(s, process.stdin);
        process.stderr.write(
          `${action === "export" ? "exported" : "imported"} ${n} key(s) (${s.kind}: ${s.where})\n`,
        );
      } finally {
        await s.close();
      }
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

interface StatusBody {
  pid: number;
  uptime_s: number;
  workers: { id: number; pid: number; uptime_s: number; connections: number; rss_bytes: number }[];
  upstreams: UpstreamRow[];
  certificates: { names: string[]; not_after: string; last_error: string | null }[];
  storage?: { kind: string; where: string; up: boolean; outages: number } | null;
}
interface UpstreamRow {
  url: string;
  healthy: boolean;
  drained: boolean;
  inFlight: number;
  fails: number;
  lastError?: string | undefined;
}

function formatUpstreams(body: unknown): string {
  const rows = body as UpstreamRow[];
  if (rows.length === 0) return "no upstreams";
  return rows
    .map(
      (u) =>
        `${u.url}  ${u.drained ? "drained" : u.healthy ? "healthy" : "unhealthy"}  in-flight ${u.inFlight}  fails ${u.fails}${u.lastError ? `  last error: ${u.lastError}` : ""}`,
    )
    .join("\n");
}

function formatStatus(body: unknown): string {
  const s = body as StatusBody;
  const lines = [`wharf running: pid ${s.pid}, up ${s.uptime_s}s, ${s.workers.length} worker(s)`];
  for (const w of s.workers)
    lines.push(
      `  worker ${w.id}: pid ${w.pid}, up ${w.uptime_s}s, ${w.connections} connection(s), ${Math.round(w.rss_bytes / 1048576)} MiB`,
    );
  if (s.upstreams.length > 0)
    lines.push(
      "upstreams:",
      ...formatUpstreams(s.upstreams)
        .split("\n")
        .map((l) => `  ${l}`),
    );
  for (const c of s.certificates)
    lines.push(
      `certificate ${c.names.join(", ")}: expires ${c.not_after}${c.last_error ? `, last error: ${c.last_error}` : ""}`,
    );
  if (s.storage)
    lines.push(
      `storage: ${s.storage.kind} ${s.storage.where}, ${s.storage.up ? "reachable" : "UNREACHABLE"}, ${s.storage.outages} outage(s) since start`,
    );
  return lines.join("\n");
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
