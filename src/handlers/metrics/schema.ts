import { z } from "zod";

/** The `metrics` handler takes no options: `metrics: {}` (guard its route with ip_filter or basic_auth). */
export const metricsSchema = () => z.strictObject({});

export type MetricsConfig = z.output<ReturnType<typeof metricsSchema>>;
