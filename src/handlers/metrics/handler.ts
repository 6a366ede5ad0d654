import { METRICS, PROMETHEUS_TYPE, toPrometheus } from "../../core/metrics.ts";
import type { HandlerContext, HandlerInstance } from "../handler.ts";

/**
 * Answers with the server's metrics in the Prometheus text format, summed over the workers
 * by the primary; a server without a primary (in process) shows its own.
 */
export function createMetrics(_cfg: unknown, ctx: HandlerContext): HandlerInstance {
  return {
    async handle(ex) {
      if (ex.method !== "GET" && ex.method !== "HEAD") {
        ex.setHeader("Allow", "GET, HEAD");
        return ex.send(405);
      }
      let text: string;
      try {
        text = (await ctx.shared.request("metrics.text", null)) as string;
      } catch {
        text = toPrometheus(ctx.metrics.snapshot(), METRICS);
      }
      ex.setHeader("Content-Type", PROMETHEUS_TYPE);
      ex.setHeader("Cache-Control", "no-store");
      ex.send(200, text);
    },
  };
}
