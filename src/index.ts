/** wharf's public API for `wharf.config.ts` files. */
import type { z } from "zod";
import type { configSchema } from "./config/schema.ts";

/** A configuration as written (durations and sizes may be strings such as "30s" or "10MB"). */
export type WharfConfigInput = z.input<ReturnType<typeof configSchema>>;
export type { WharfConfig } from "./config/types.ts";

/** Types a `wharf.config.ts` default export; returns its argument unchanged. */
export function defineConfig(config: WharfConfigInput): WharfConfigInput {
  return config;
}
