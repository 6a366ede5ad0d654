import { z } from "zod";
import { keyTemplateSchema } from "../key-template-schema.ts";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** A rate as written (`10/s`, `100/m`, `1000/h`): its count, window and requests per second. */
const rate = z.string().transform((v, ctx) => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|m|h)\s*$/.exec(v);
  if (!m || Number(m[1]) <= 0) {
    ctx.addIssue({ code: "custom", message: `must be a rate such as "10/s", "100/m" or "1000/h"` });
    return z.NEVER;
  }
  const window = UNITS[m[2]!]!;
  return { count: Number(m[1]), window, perSecond: Number(m[1]) / window };
});

/** The `rate_limit` guard. */
export const rateLimitSchema = () =>
  z.strictObject({
    /** What is limited: `{client_ip}`, `{header.NAME}`, `{cookie.NAME}`, `{path}`, or a mix. */
    key: keyTemplateSchema(),
    rate,
    /** Requests let through at once beyond the rate (the bucket's size). */
    burst: z.number().int().min(0).default(0),
    /** Queue requests over the rate (within `burst`) instead of refusing them (nginx's default). */
    delay: z.boolean().default(false),
    /** Count and log what would be refused, refuse nothing. */
    dry_run: z.boolean().default(false),
    /** Keys remembered at most (least recently seen forgotten first). */
    max_keys: z.number().int().min(1).default(100_000),
    /** The limit's name in RateLimit-Policy and in logs; by default from the key and rate. */
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]*$/)
      .optional(),
  });

export type RateLimitConfig = z.output<ReturnType<typeof rateLimitSchema>>;
