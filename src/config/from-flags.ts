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

export interface ServeFlags extends CommonFlags {
  dir: string;
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

/**
 * The canonical config `wharf serve DIR …` stands for: one default site serving DIR; with
 * `--app`, files first and everything that is not a file passed to the app.
 */
export function serveConfig(flags: ServeFlags, cwd: string): Promise<WharfConfig> {
  const files = {
    root: flags.dir,
    browse: flags.browse,
    spa: flags.spa ? "/index.html" : false,
    ...(flags.app ? { fallthrough: true } : {}),
  };
  const routes: unknown[] = [{ static: files }];
  if (flags.app) routes.push({ proxy: { app: { command: flags.app } } });
  return validateConfigObject(oneSite(flags, routes), "command line", cwd);
}

/** The canonical config of `wharf proxy --to URL[,URL…]` or `--app COMMAND`. */
export function proxyConfig(flags: ProxyFlags, cwd: string): Promise<WharfConfig> {
  const proxy = flags.app ? { app: { command: flags.app }, to: flags.to } : { to: flags.to };
  return validateConfigObject(oneSite(flags, [{ proxy }]), "command line", cwd);
}
