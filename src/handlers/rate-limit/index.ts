import { defineHandler } from "../record.ts";

/** `rate_limit`: a token bucket per key, one per instance (shared by the workers). */
export default defineHandler({
  name: "rate_limit",
  schema: async () => (await import("./schema.ts")).rateLimitSchema,
  create: async () => (await import("./handler.ts")).createRateLimit,
});
