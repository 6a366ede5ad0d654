import { defineHandler } from "../record.ts";

/** `encode`: compresses the responses of the handlers after it (brotli, zstd, gzip). */
export default defineHandler({
  name: "encode",
  schema: async () => (await import("./schema.ts")).encodeSchema,
  create: async () => (await import("./handler.ts")).createEncode,
});
