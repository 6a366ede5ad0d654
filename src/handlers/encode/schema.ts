import { z } from "zod";
import { size } from "../../core/schema-fields.ts";

/** The `encode` filter: which codings, from what size, for which types. */
export const encodeSchema = () =>
  z.strictObject({
    /** Codings offered, in the server's order of preference (ties in Accept-Encoding go to the first). */
    encodings: z
      .array(z.enum(["zstd", "br", "gzip"]))
      .min(1)
      .refine((l) => new Set(l).size === l.length, { message: "must not repeat a coding" })
      .default(["zstd", "br", "gzip"]),
    /**
     * Compression levels: fast ones, as each response is compressed as it goes out (gzip 1
     * is nginx's default; 6 is about 8 % smaller for 2 to 6 times the CPU).
     */
    levels: z
      .strictObject({
        gzip: z.number().int().min(1).max(9).default(1),
        br: z.number().int().min(0).max(11).default(4),
        zstd: z.number().int().min(1).max(19).default(3),
      })
      .prefault({}),
    /** Bodies smaller than this (when their length is known) are sent as they are. */
    min_size: size.default(512),
    /**
     * Content types compressed (`text/*` covers a family); by default, every type mime-db
     * marks compressible (text, JSON, JavaScript, XML, SVG, wasm…).
     */
    types: z
      .array(
        z
          .string()
          .regex(
            /^[a-z0-9!#$&^_.+-]+\/([a-z0-9!#$&^_.+-]+|\*)$/i,
            "must be a media type such as text/html or text/*",
          ),
      )
      .optional(),
  });

export type EncodeConfig = z.output<ReturnType<typeof encodeSchema>>;
