import { z } from "zod";

/** The `redirect` handler: `to` may use {scheme}, {host}, {path}, {query} and {uri}. */
export const redirectSchema = () =>
  z.strictObject({
    to: z.string().min(1),
    status: z
      .union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)])
      .default(302),
  });

export type RedirectConfig = z.output<ReturnType<typeof redirectSchema>>;
