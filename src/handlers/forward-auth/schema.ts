import { z } from "zod";
import { duration, headerName } from "../../core/schema-fields.ts";
import { parseUpstreamAddress } from "../../http/upstream-address.ts";

/** The `forward_auth` guard. */
export const forwardAuthSchema = () =>
  z.strictObject({
    /** The auth service: http(s)://host:port or unix:/path.sock. */
    to: z.string().superRefine((v, ctx) => {
      const a = parseUpstreamAddress(v);
      if (typeof a === "string") ctx.addIssue({ code: "custom", message: a });
      else if (a.protocol !== "http")
        ctx.addIssue({ code: "custom", message: "must be an http://, https:// or unix: address" });
    }),
    /** The path asked on the auth service. */
    uri: z.string().startsWith("/").default("/"),
    /** Fields of a 2xx answer copied into the request for the handlers after it (X-User…). */
    copy_headers: z.array(headerName).default([]),
    /** How long the auth service has to answer. */
    timeout: duration.default(10_000),
  });

export type ForwardAuthConfig = z.output<ReturnType<typeof forwardAuthSchema>>;
