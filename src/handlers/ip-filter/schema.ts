import { z } from "zod";
import { cidr } from "../../core/schema-fields.ts";

/** The `ip_filter` guard: who may pass, by `{client_ip}`. */
export const ipFilterSchema = () =>
  z
    .strictObject({
      /** Only these may pass (when given). */
      allow: z.array(cidr).default([]),
      /** These never pass (checked first). */
      deny: z.array(cidr).default([]),
    })
    .refine((c) => c.allow.length > 0 || c.deny.length > 0, { message: "needs allow or deny" });

export type IpFilterConfig = z.output<ReturnType<typeof ipFilterSchema>>;
