import { defineHandler } from "../record.ts";

/** `static`: files under a root, with validators, ranges and compression. */
export default defineHandler({
  name: "static",
  schema: async () => (await import("./schema.ts")).staticSchema,
  create: async () => (await import("./handler.ts")).createStatic,
});
