import { readFileSync } from "node:fs";
import type { RouteConfig, SiteConfig } from "../config/types.ts";
import { WharfError } from "../core/errors.ts";
import {
  type Handle,
  type HandlerContext,
  type HandlerInstance,
  handlerFactory,
  type Next,
} from "../handlers/index.ts";
import { sendError } from "../http/error-page.ts";
import type { ErrorPages, Exchange } from "../http/exchange.ts";
import { mimeFor } from "../http/mime.ts";
import { normalizePath } from "../http/request-path.ts";
import { compileMatch, type Matcher } from "./matchers.ts";

/** A site compiled for one config load: its request entry point and what to close. */
export interface CompiledSite {
  config: SiteConfig;
  handle(ex: Exchange): void | Promise<void>;
  errorPages: ErrorPages | undefined;
  /** The Strict-Transport-Security value for HTTPS responses, when the site asks for it. */
  hsts: string | undefined;
  /** Requests need a verified client certificate (mutual TLS). */
  clientAuth: boolean;
  close(): Promise<void>;
}

/** Internal redirects one request may take (nginx allows 10). */
const MAX_INTERNAL_REDIRECTS = 10;

interface CompiledRoute {
  match: Matcher | undefined;
  internal: boolean;
  run: (ex: Exchange, after: Next) => void | Promise<void>;
}

/**
 * Builds a site's routes into closures once: matchers, then each route's handler chain. A
 * chain that calls `next` past its end continues with the next matching route; when none
 * answers, 404. Errors name where they arose (`routes[2].handle[0] (static): …`).
 */
export function compileSite(site: SiteConfig, base: Omit<HandlerContext, "reroute">): CompiledSite {
  const log = base.log;
  const instances: HandlerInstance[] = [];
  const close = async () => {
    await Promise.allSettled(instances.map((h) => h.close?.()));
  };
  try {
    const reroute = (ex: Exchange, target: string): void | Promise<void> => {
      if (ex.internalRedirects >= MAX_INTERNAL_REDIRECTS) {
        log.error("internal redirect cycle", { request_id: ex.id, target });
        return sendError(ex, 500);
      }
      ex.internalRedirects++;
      ex.retarget(target);
      if (ex.method !== "HEAD") ex.method = "GET";
      const path = normalizePath(ex.rawPath);
      if (path === undefined) return sendError(ex, 500, "invalid internal redirect target");
      ex.path = path;
      return dispatch(ex, 0);
    };
    const routes = site.routes.map((r, i) => compileRoute(r, i, { ...base, reroute }, instances));
    const errorPages = loadErrorPages(site.error_pages);
    const dispatch = (ex: Exchange, from: number): void | Promise<void> => {
      for (let i = from; i < routes.length; i++) {
        const route = routes[i]!;
        if (route.match !== undefined && !route.match(ex)) continue;
        // An internal route is for internal redirects only: from outside, it does not exist.
        if (route.internal && ex.internalRedirects === 0) return sendError(ex, 404);
        return route.run(ex, () => dispatch(ex, i + 1));
      }
      sendError(ex, 404);
    };
    return {
      config: site,
      errorPages,
      hsts: site.tls?.hsts ? `max-age=${Math.floor(site.tls.hsts / 1000)}` : undefined,
      clientAuth: site.tls?.client_ca != null,
      handle: (ex) => dispatch(ex, 0),
      close,
    };
  } catch (err) {
    void close();
    throw err;
  }
}

function compileRoute(
  r: RouteConfig,
  index: number,
  ctx: HandlerContext,
  instances: HandlerInstance[],
): CompiledRoute {
  const chain: Handle[] = r.handle.map((h, j) => {
    const [name, cfg] = Object.entries(h)[0] as [string, unknown];
    try {
      const inst = handlerFactory(name)(cfg, { ...ctx, log: ctx.log.child({ handler: name }) });
      instances.push(inst);
      return inst.handle;
    } catch (err) {
      throw new WharfError(
        "WHARF_ERR_CONFIG",
        `routes[${index}].handle[${j}] (${name}): ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  });
  const run = (ex: Exchange, after: Next, i: number): void | Promise<void> =>
    i < chain.length ? chain[i]!(ex, () => run(ex, after, i + 1)) : after();
  const first = chain[0]!;
  return {
    match: compileMatch(r.match),
    internal: r.internal,
    // A one-handler chain, the common case, skips the chain walker.
    run: chain.length === 1 ? (ex, after) => first(ex, after) : (ex, after) => run(ex, after, 0),
  };
}

function loadErrorPages(pages: Record<string, string>): ErrorPages | undefined {
  const entries = Object.entries(pages);
  if (entries.length === 0) return undefined;
  return new Map(
    entries.map(([status, file]) => [Number(status), { body: readFileSync(file), type: mimeFor(file).type }]),
  );
}
