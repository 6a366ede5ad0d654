import { z } from "zod";
import { keyTemplateSchema } from "../key-template-schema.ts";

/** The `conn_limit` guard. */
export const connLimitSchema = () =>
  z.strictObject({
    /** What is limited: `{client_ip}` by default, or any key template. */
    key: keyTemplateSchema(),
    /** Requests in progress at once per key. */
    max: z.number().int().min(1),
  });

export type ConnLimitConfig = z.output<ReturnType<typeof connLimitSchema>>;
