import { defineHandler } from "../record.ts";

/** `ip_filter`: allows or denies by the client's address (IPv4, IPv6, CIDRs). */
export default defineHandler({
  name: "ip_filter",
  schema: async () => (await import("./schema.ts")).ipFilterSchema,
  create: async () => (await import("./handler.ts")).createIpFilter,
});
