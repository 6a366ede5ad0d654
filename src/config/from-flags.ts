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
  return {
    server: { workers: flags.workers },
    sites: [
      {
        listen: [flags.listen],
        access_log: flags.quiet ? false : { format: "combined", output: "stdout" },
        routes,
        ...(flags.tlsCert !== undefined ? { tls: { cert: flags.tlsCert, key: flags.tlsKey } } : {}),
      },
    ],
  };
}

/**
 * The canonical config `wharf serve DIR …` stands for: one default site serving DIR; with
 * `--app`, files first and everything that is not a file passed to the app.
 */
export function serveConfig(flags: ServeFlags, cwd: string): WharfConfig {
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
export function proxyConfig(flags: ProxyFlags, cwd: string): WharfConfig {
  const proxy = flags.app ? { app: { command: flags.app }, to: flags.to } : { to: flags.to };
  return validateConfigObject(oneSite(flags, [{ proxy }]), "command line", cwd);
}
