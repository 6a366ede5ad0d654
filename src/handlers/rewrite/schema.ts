import { z } from "zod";

/** The `rewrite` filter: a regular expression on the path, and the target with its captures. */
export const rewriteSchema = () =>
  z.strictObject({
    /** Matched against the decoded path (`^/old/(.*)$`). */
    path: z.string().superRefine((re, ctx) => {
      try {
        new RegExp(re);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: `not a regular expression: ${(err as Error).message}` });
      }
    }),
    /** The new path, `{1}`… for captures; a `?` in it replaces the query (else the query is kept). */
    to: z.string().startsWith("/"),
  });

export type RewriteConfig = z.output<ReturnType<typeof rewriteSchema>>;
