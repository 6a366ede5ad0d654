import { defineHandler } from "../record.ts";

/** `proxy`: passes requests to app servers (HTTP, unix sockets, uwsgi, FastCGI, WebSocket). */
export default defineHandler({
  name: "proxy",
  schema: async () => (await import("./schema.ts")).proxySchema,
  create: async () => (await import("./handler.ts")).createProxy,
});
