import { z } from "zod";
import { headerName, headerValue } from "../../core/schema-fields.ts";

/** The `respond` handler: a fixed status, body and headers. */
export const respondSchema = () =>
  z.strictObject({
    status: z.number().int().min(200).max(599).default(200),
    body: z.string().default(""),
    headers: z.record(headerName, headerValue).default({}),
  });

export type RespondConfig = z.output<ReturnType<typeof respondSchema>>;
