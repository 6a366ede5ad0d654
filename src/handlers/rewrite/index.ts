import { defineHandler } from "../record.ts";

/** `rewrite`: changes the request's path and query before the routes after it. */
export default defineHandler({
  name: "rewrite",
  schema: async () => (await import("./schema.ts")).rewriteSchema,
  create: async () => (await import("./handler.ts")).createRewrite,
});
