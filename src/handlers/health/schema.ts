import { z } from "zod";

/** The `health` handler takes no options: `health: {}`. */
export const healthSchema = () => z.strictObject({});

export type HealthConfig = z.output<ReturnType<typeof healthSchema>>;
