import { defineHandler } from "../record.ts";

/** `basic_auth`: HTTP Basic authentication against hashed passwords (inline or an htpasswd file). */
export default defineHandler({
  name: "basic_auth",
  schema: async () => (await import("./schema.ts")).basicAuthSchema,
  create: async () => (await import("./handler.ts")).createBasicAuth,
});
