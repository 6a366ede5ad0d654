import { defineHandler } from "../record.ts";

/** `health`: 200 `{"status":"ok"}` while the server serves (for load balancers' checks). */
export default defineHandler({
  name: "health",
  schema: async () => (await import("./schema.ts")).healthSchema,
  create: async () => (await import("./handler.ts")).createHealth,
});
