import { defineHandler } from "../record.ts";

/** `forward_auth`: asks an auth service about each request (nginx's auth_request, Caddy's forward_auth). */
export default defineHandler({
  name: "forward_auth",
  schema: async () => (await import("./schema.ts")).forwardAuthSchema,
  create: async () => (await import("./handler.ts")).createForwardAuth,
});
