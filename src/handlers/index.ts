import type { HandlerContext, HandlerInstance } from "./handler.ts";
import { createHeaders } from "./headers/handler.ts";
import type { HeadersConfig } from "./headers/schema.ts";
import type { createProxy as CreateProxy } from "./proxy/handler.ts";
import type { ProxyConfig } from "./proxy/schema.ts";
import { createRedirect } from "./redirect/handler.ts";
import type { RedirectConfig } from "./redirect/schema.ts";
import { createRespond } from "./respond/handler.ts";
import type { RespondConfig } from "./respond/schema.ts";
import { createStatic } from "./static/handler.ts";
import type { StaticConfig } from "./static/schema.ts";

/**
 * The proxy and its upstream clients (17 modules) load only for a config that proxies: a
 * worker that serves files starts without them. {@link loadHandlers} runs before a config
 * is compiled.
 */
let createProxy: typeof CreateProxy | undefined;

/** Loads the handlers that `handlerNames` use and are not loaded up front. */
export async function loadHandlers(handlerNames: Iterable<string>): Promise<void> {
  for (const name of handlerNames)
    if (name === "proxy" && createProxy === undefined)
      createProxy = (await import("./proxy/handler.ts")).createProxy;
}

function proxyFactory(): typeof CreateProxy {
  if (createProxy === undefined) throw new Error("the proxy handler was not loaded (loadHandlers)");
  return createProxy;
}

/** The explicit handler registry: config key → factory. */
export const HANDLERS = {
  static: (cfg: StaticConfig, ctx: HandlerContext) => createStatic(cfg, ctx),
  redirect: (cfg: RedirectConfig) => createRedirect(cfg),
  respond: (cfg: RespondConfig) => createRespond(cfg),
  headers: (cfg: HeadersConfig) => createHeaders(cfg),
  proxy: (cfg: ProxyConfig, ctx: HandlerContext) => proxyFactory()(cfg, ctx),
} satisfies Record<string, (cfg: never, ctx: HandlerContext) => HandlerInstance>;

export type HandlerName = keyof typeof HANDLERS;
export type { Handle, HandlerContext, HandlerInstance, Next } from "./handler.ts";
