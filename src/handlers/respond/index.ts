import { defineHandler } from "../record.ts";

/** `respond`: a fixed status, body and headers. */
export default defineHandler({
  name: "respond",
  schema: async () => (await import("./schema.ts")).respondSchema,
  create: async () => (await import("./handler.ts")).createRespond,
});
