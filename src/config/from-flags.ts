import { ConfigError, type ConfigProblem } from "../core/errors.ts";
import { validateConfigObject } from "./load.ts";
import type { WharfConfig } from "./types.ts";

export interface CommonFlags {
  listen: string;
  workers: number | "auto";
  quiet: boolean;
  /** `--app "COMMAND"`: a process to start and proxy to. */
  app: string | undefined;
  /** `--tls-cert F --tls-key F`: serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate. */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  /** `--domain NAME…`: automatic HTTPS (ACME) for these names. */
  domains?: string[] | undefined;
  acmeCa?: string | undefined;
  /** `--tls internal`: HTTPS with a certificate from wharf's internal CA. */
  internalTls?: boolean | undefined;
  httpListen?: string | undefined;
}

/** `--static PREFIX=DIR`: the files under one URL prefix. */
export interface StaticMount {
  prefix: string;
  dir: string;
}

export interface ServeFlags extends CommonFlags {
  /** The directory served at `/`; undefined when only `--static` mounts are given. */
  dir: string | undefined;
  statics?: StaticMount[] | undefined;
  browse: boolean;
  spa: boolean;
}

export interface ProxyFlags extends CommonFlags {
  to: string[];
}

function oneSite(flags: CommonFlags, routes: unknown[]) {
  const auto = flags.domains !== undefined && flags.domains.length > 0;
  const tls = auto
    ? "auto"
    : flags.internalTls
      ? "internal"
      : flags.tlsCert !== undefined
        ? { cert: flags.tlsCert, key: flags.tlsKey }
        : undefined;
  return {
    server: {
      workers: flags.workers,
      ...(auto
        ? {
            acme: {
              ...(flags.acmeCa ? { directory: flags.acmeCa } : {}),
              http_listen: [flags.httpListen ?? ":80"],
            },
          }
        : {}),
    },
    sites: [
      {
        ...(auto ? { hosts: flags.domains } : {}),
        listen: [flags.listen],
        access_log: flags.quiet ? false : { format: "combined", output: "stdout" },
        routes,
        ...(tls ? { tls } : {}),
      },
    ],
  };
}

/** Parses `--static PREFIX=DIR` (`/static/=./staticfiles`); a message for what is not one. */
export function parseStaticMount(text: string): StaticMount | string {
  const eq = text.indexOf("=");
  const prefix = eq === -1 ? "" : text.slice(0, eq).replace(/\/+$/, "");
  const dir = eq === -1 ? "" : text.slice(eq + 1);
  if (!prefix.startsWith("/") || prefix.length < 2 || dir === "")
    return `--static takes URL-PREFIX=DIRECTORY, such as /static/=./staticfiles, not "${text}"`;
  return { prefix, dir };
}

/**
 * The canonical config `wharf serve [DIR] [--static PREFIX=DIR…] [--app CMD]` stands for:
 * each `--static` prefix served from its directory (the prefix taken off, as nginx's
 * `alias`); DIR at `/`; with `--app`, everything that is not a file goes to the app.
 */
export async function serveConfig(flags: ServeFlags, cwd: string): Promise<WharfConfig> {
  const routes: unknown[] = [];
  for (const m of flags.statics ?? [])
    routes.push({ match: { path: m.prefix }, static: { root: m.dir, strip_prefix: m.prefix } });
  if (flags.dir !== undefined || routes.length === 0) {
    routes.push({
      static: {
        root: flags.dir ?? ".",
        browse: flags.browse,
        spa: flags.spa ? "/index.html" : false,
        ...(flags.app ? { fallthrough: true } : {}),
      },
    });
  }
  // The app's answers are compressed (the files have their own, cached compression).
  if (flags.app) routes.push({ encode: {}, proxy: { app: { command: flags.app } } });
  return inFlagWords(() => validateConfigObject(oneSite(flags, routes), "command line", cwd), flags);
}

/** The canonical config of `wharf proxy --to URL[,URL…]` or `--app COMMAND`. */
export async function proxyConfig(flags: ProxyFlags, cwd: string): Promise<WharfConfig> {
  const proxy = flags.app ? { app: { command: flags.app }, to: flags.to } : { to: flags.to };
  return inFlagWords(
    () => validateConfigObject(oneSite(flags, [{ encode: {}, proxy }]), "command line", cwd),
    flags,
  );
}

/**
 * Config problems said in the words of the command line: `--listen: …`, `DIR: …`, not
 * `sites[0].routes[1].static.root: …` (a key path the user never wrote).
 */
async function inFlagWords(
  build: () => Promise<WharfConfig>,
  flags: ServeFlags | ProxyFlags,
): Promise<WharfConfig> {
  try {
    return await build();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(err.problems.map((p) => ({ message: p.message, path: flagFor(p, flags) })));
  }
}

function flagFor(p: ConfigProblem, flags: ServeFlags | ProxyFlags): string {
  const path = p.path;
  const route = /^sites\[0\]\.routes\[(\d+)\]\.(?:handle\[0\]\.)?(\w+)/.exec(path);
  if (route) {
    const statics = "statics" in flags ? (flags.statics ?? []) : [];
    const i = Number(route[1]);
    if (route[2] === "static") return i < statics.length ? `--static ${statics[i]!.prefix}/` : "DIR";
    if (route[2] === "proxy" || route[2] === "handle") return /\.app\b/.test(path) ? "--app" : "--to";
  }
  if (path.startsWith("sites[0].listen")) return "--listen";
  if (path.startsWith("sites[0].tls")) return "--tls-cert/--tls-key";
  if (path.startsWith("sites[0].hosts")) return "--domain";
  if (path.startsWith("server.workers")) return "--workers";
  if (path.startsWith("server.acme.http_listen")) return "--http-listen";
  if (path.startsWith("server.acme.directory")) return "--acme-ca";
  return path;
}
