import { defineHandler } from "../record.ts";

/** `abort`: closes the connection without an answer (nginx's `return 444`). */
export default defineHandler({
  name: "abort",
  schema: async () => (await import("./schema.ts")).abortSchema,
  create: async () => (await import("./handler.ts")).createAbort,
});
