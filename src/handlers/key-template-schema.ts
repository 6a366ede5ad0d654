import { z } from "zod";
import { checkKeyTemplate } from "./key-template.ts";

/** A guard's `key`: a key template, `{client_ip}` by default. */
export const keyTemplateSchema = () =>
  z
    .string()
    .min(1)
    .default("{client_ip}")
    .superRefine((t, ctx) => {
      const why = checkKeyTemplate(t);
      if (why) ctx.addIssue({ code: "custom", message: why });
    });
