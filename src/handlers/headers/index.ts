import { defineHandler } from "../record.ts";

/** `headers`: a filter that sets, adds or removes response fields. */
export default defineHandler({
  name: "headers",
  schema: async () => (await import("./schema.ts")).headersSchema,
  create: async () => (await import("./handler.ts")).createHeaders,
});
