import type { HandlerContext, HandlerInstance } from "./handler.ts";
import { createHeaders } from "./headers/handler.ts";
import type { HeadersConfig } from "./headers/schema.ts";
import { createProxy } from "./proxy/handler.ts";
import type { ProxyConfig } from "./proxy/schema.ts";
import { createRedirect } from "./redirect/handler.ts";
import type { RedirectConfig } from "./redirect/schema.ts";
import { createRespond } from "./respond/handler.ts";
import type { RespondConfig } from "./respond/schema.ts";
import { createStatic } from "./static/handler.ts";
import type { StaticConfig } from "./static/schema.ts";

/** The explicit handler registry: config key → factory. */
export const HANDLERS = {
  static: (cfg: StaticConfig, ctx: HandlerContext) => createStatic(cfg, ctx),
  redirect: (cfg: RedirectConfig) => createRedirect(cfg),
  respond: (cfg: RespondConfig) => createRespond(cfg),
  headers: (cfg: HeadersConfig) => createHeaders(cfg),
  proxy: (cfg: ProxyConfig, ctx: HandlerContext) => createProxy(cfg, ctx),
} satisfies Record<string, (cfg: never, ctx: HandlerContext) => HandlerInstance>;

export type HandlerName = keyof typeof HANDLERS;
export type { Handle, HandlerContext, HandlerInstance, Next } from "./handler.ts";
