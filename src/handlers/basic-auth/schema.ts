import { readFileSync } from "node:fs";
import { z } from "zod";
import { fsPath, type SchemaContext } from "../../core/schema-fields.ts";
import { parseHash, parseHtpasswd } from "./passwords.ts";

const userHash = z.string().superRefine((hash, ctx) => {
  const parsed = parseHash(hash);
  if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
});

/** The `basic_auth` guard: users with hashed passwords, inline and/or from an htpasswd file. */
export const basicAuthSchema = (ctx: SchemaContext) =>
  z
    .strictObject({
      /** Shown by browsers in the login prompt. */
      realm: z
        .string()
        .regex(/^[^"\\\r\n]*$/, "must not contain quotes, backslashes or line breaks")
        .default("restricted"),
      /** User → password hash (`wharf hash-password`; also bcrypt and apr1 lines from htpasswd). */
      users: z.record(z.string().regex(/^[^:\r\n]+$/, "a user name has no colon"), userHash).default({}),
      /** An htpasswd file (nginx's auth_basic_user_file, Apache's AuthUserFile): `user:hash` lines. */
      htpasswd: fsPath(ctx, "file").optional(),
    })
    .transform((cfg, c) => {
      const users = { ...cfg.users };
      if (cfg.htpasswd !== undefined) {
        const { users: fromFile, problems } = parseHtpasswd(readFileSync(cfg.htpasswd, "utf8"));
        for (const p of problems)
          c.addIssue({ code: "custom", path: ["htpasswd"], message: `${cfg.htpasswd} ${p}` });
        for (const [u, h] of fromFile) users[u] ??= h;
      }
      if (Object.keys(users).length === 0)
        c.addIssue({ code: "custom", message: "needs users or an htpasswd file with at least one user" });
      return { realm: cfg.realm, users };
    });

export type BasicAuthConfig = z.output<ReturnType<typeof basicAuthSchema>>;
