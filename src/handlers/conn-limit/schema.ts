import { z } from "zod";
import { checkKeyTemplate } from "../key-template.ts";

/** The `conn_limit` guard. */
export const connLimitSchema = () =>
  z.strictObject({
    /** What is limited: `{client_ip}` by default, or any key template. */
    key: z
      .string()
      .min(1)
      .default("{client_ip}")
      .superRefine((t, ctx) => {
        const why = checkKeyTemplate(t);
        if (why) ctx.addIssue({ code: "custom", message: why });
      }),
    /** Requests in progress at once per key. */
    max: z.number().int().min(1),
  });

export type ConnLimitConfig = z.output<ReturnType<typeof connLimitSchema>>;
