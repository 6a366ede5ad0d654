import { statSync } from "node:fs";
import { isIP } from "node:net";
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { parseDuration, parseSize } from "./units.ts";

/** What field schemas need to know about where the configuration came from. */
export interface SchemaContext {
  /** Directory that relative paths in the configuration are resolved against. */
  baseDir: string;
}

/** A duration (`30s`, `1m30s`, `250ms`, or a number of ms), normalized to milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `must be a duration such as "30s", "1m" or "250ms"` });
    return z.NEVER;
  }
  return ms;
});

/** A size (`10MB`, `64KiB`, `512k`, or a number of bytes), normalized to bytes. */
export const size = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const bytes = parseSize(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: "custom", message: `must be a size such as "10MB", "64KiB" or 4096` });
    return z.NEVER;
  }
  return bytes;
});

/** A filesystem path resolved against the config's directory; `kind` checks what it names. */
export function fsPath(ctx: SchemaContext, kind?: "directory" | "file") {
  return z
    .string()
    .min(1)
    .transform((p, c) => {
      const abs = isAbsolute(p) ? p : resolve(ctx.baseDir, p);
      if (kind) {
        let ok = false;
        try {
          const st = statSync(abs);
          ok = kind === "directory" ? st.isDirectory() : st.isFile();
        } catch {}
        if (!ok) {
          c.addIssue({ code: "custom", message: `must be a ${kind} (${abs} is not)` });
          return z.NEVER;
        }
      }
      return abs;
    });
}

/** A string, or a list of strings, normalized to a list. */
export const stringList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === "string" ? [v] : v));

/** An HTTP field name (RFC 9110 token). */
export const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a valid header name");

/** An HTTP field value: no control characters but tab. */
export const headerValue = z
  .string()
  .regex(/^[^\x00-\x08\x0a-\x1f\x7f]*$/, "must not contain control characters");

/** An IP address or CIDR (IPv4 or IPv6). */
export const cidr = z.string().superRefine((v, ctx) => {
  const [addr, bits, extra] = v.split("/");
  const family = isIP(addr ?? "");
  if (family === 0 || extra !== undefined)
    ctx.addIssue({ code: "custom", message: "must be an IP address or CIDR (10.0.0.0/8, 2001:db8::/32)" });
  else if (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)))
    ctx.addIssue({ code: "custom", message: `the prefix length must be 0 to ${family === 4 ? 32 : 128}` });
});
