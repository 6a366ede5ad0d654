import type { z } from "zod";
import type { SchemaContext } from "../core/schema-fields.ts";
import { headersSchema } from "./headers/schema.ts";
import { proxySchema } from "./proxy/schema.ts";
import { redirectSchema } from "./redirect/schema.ts";
import { respondSchema } from "./respond/schema.ts";
import { staticSchema } from "./static/schema.ts";

/** Every handler's config schema, by the key it is written under in a route. */
export function handlerSchemas(ctx: SchemaContext): Record<string, z.ZodType> {
  return {
    static: staticSchema(ctx),
    redirect: redirectSchema,
    respond: respondSchema,
    headers: headersSchema,
    proxy: proxySchema(ctx),
  };
}

export type { HeadersConfig } from "./headers/schema.ts";
export type { ProxyConfig } from "./proxy/schema.ts";
export type { RedirectConfig } from "./redirect/schema.ts";
export type { RespondConfig } from "./respond/schema.ts";
export type { StaticConfig } from "./static/schema.ts";
