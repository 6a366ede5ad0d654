import { defineHandler } from "../record.ts";

/** `conn_limit`: requests in progress at once per key, across the instance (nginx's limit_conn). */
export default defineHandler({
  name: "conn_limit",
  schema: async () => (await import("./schema.ts")).connLimitSchema,
  create: async () => (await import("./handler.ts")).createConnLimit,
});
