import { z } from "zod";
import { fsPath, type SchemaContext, size, stringList } from "../../core/schema-fields.ts";

/** The `static` handler's options, as written in a config. */
export function staticSchema(ctx: SchemaContext) {
  return z.strictObject({
    /** Directory files are served from. */
    root: fsPath(ctx, "directory"),
    /**
     * A URL prefix taken off the path before it is looked up under `root` (nginx's `alias`,
     * Caddy's `handle_path`): with `/static`, `/static/css/a.css` is `root/css/a.css`.
     */
    strip_prefix: z
      .string()
      .startsWith("/")
      .transform((p) => p.replace(/\/+$/, ""))
      .optional(),
    /** Index files tried, in order, for a directory. */
    index: stringList.default(["index.html"]),
    /** Directory listings (HTML or JSON by Accept) when no index file exists. */
    browse: z.boolean().default(false),
    /** Path of the page served for paths that match no file (single-page apps), or false. */
    spa: z.union([z.literal(false), z.string().startsWith("/")]).default(false),
    /** Serve dotfiles (`.env`, `.git/…`); `/.well-known/` is always served. */
    dotfiles: z.boolean().default(false),
    /** Follow symlinks whose target lies outside the root. */
    follow_symlinks_outside_root: z.boolean().default(false),
    /** Precompressed sidecar files looked for next to each file, in preference order. */
    precompressed: z.array(z.enum(["br", "zstd", "gzip"])).default(["br", "zstd", "gzip"]),
    /** On-the-fly compression for compressible types. */
    compress: z
      .strictObject({
        enabled: z.boolean().default(true),
        encodings: z.array(z.enum(["br", "zstd", "gzip"])).default(["br", "zstd", "gzip"]),
        min_size: size.default(512),
        /** Files up to this size are compressed once and kept in memory; larger ones are streamed. */
        cache_max_file_size: size.default(4 * 1024 * 1024),
        cache_size: size.default(64 * 1024 * 1024),
      })
      .prefault({}),
    /** Cache-Control values by glob on the request path; the first match wins. */
    cache_control: z
      .array(z.strictObject({ match: z.string().min(1), value: z.string().min(1) }))
      .default([]),
    /**
     * When no file matches, pass the request to the next route instead of answering 404
     * (a directory without an index file counts as no file then, so it does not shadow an app).
     */
    fallthrough: z.boolean().default(false),
    /**
     * Paths tried in order, the first that names a file answering (nginx's try_files):
     * `{path}` is the request's path, e.g. `["{path}", "{path}.html", "{path}/", "/index.html"]`.
     */
    try_files: z
      .array(z.string().regex(/^(\{path\}|\/)/, 'must start with {path} or "/"'))
      .min(1)
      .optional(),
    /** In-memory caches of file metadata and small files, checked against the disk every `revalidate`. */
    cache: z
      .strictObject({
        max_file_size: size.default(256 * 1024),
        size: size.default(64 * 1024 * 1024),
        entries: z.number().int().positive().default(10_000),
      })
      .prefault({}),
  });
}

export type StaticConfig = z.output<ReturnType<typeof staticSchema>>;
export type StaticInput = z.input<ReturnType<typeof staticSchema>>;
