import { z } from "zod";

/** The `abort` handler takes no options: `abort: {}`. */
export const abortSchema = () => z.strictObject({});

export type AbortConfig = z.output<ReturnType<typeof abortSchema>>;
