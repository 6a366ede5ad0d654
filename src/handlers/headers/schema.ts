import { z } from "zod";
import { headerName, headerValue } from "../../core/schema-fields.ts";

/** The `headers` filter: response headers set, added or removed before the head goes out. */
export const headersSchema = () =>
  z.strictObject({
    set: z.record(headerName, headerValue).default({}),
    add: z.record(headerName, z.union([headerValue, z.array(headerValue)])).default({}),
    remove: z.array(headerName).default([]),
  });

export type HeadersConfig = z.output<ReturnType<typeof headersSchema>>;
