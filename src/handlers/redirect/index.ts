import { defineHandler } from "../record.ts";

/** `redirect`: answers with a redirect to a templated location. */
export default defineHandler({
  name: "redirect",
  schema: async () => (await import("./schema.ts")).redirectSchema,
  create: async () => (await import("./handler.ts")).createRedirect,
});
