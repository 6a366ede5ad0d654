import { defineHandler } from "../record.ts";

/** `metrics`: the Prometheus text of every worker's metrics summed (as the admin API's /metrics). */
export default defineHandler({
  name: "metrics",
  schema: async () => (await import("./schema.ts")).metricsSchema,
  create: async () => (await import("./handler.ts")).createMetrics,
});
