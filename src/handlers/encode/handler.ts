import type { Transform } from "node:stream";
import zlib from "node:zlib";
import { type Coding, chooseCoding } from "../../http/content-coding.ts";
import type { BodyTransform, Exchange } from "../../http/exchange.ts";
import { compressibleType } from "../../http/mime.ts";
import type { HandlerInstance } from "../handler.ts";
import type { EncodeConfig } from "./schema.ts";

/** Bodies up to this size are compressed at once, in line; larger ones on the thread pool. */
const INLINE_MAX = 64 * 1024;

/** Compression level per coding (`encode.levels`). */
type Levels = EncodeConfig["levels"];

/**
 * Compressors for dynamic responses: fast settings (each response is compressed once), and
 * a flush after every chunk, so a stream (server-sent events, long polling) reaches the
 * client event by event instead of when the compressor's buffer fills.
 */
function streamCompressor(coding: Coding, levels: Levels): Transform {
  const c = zlib.constants;
  switch (coding) {
    case "br":
      return zlib.createBrotliCompress({
        params: { [c.BROTLI_PARAM_QUALITY]: levels.br },
        flush: c.BROTLI_OPERATION_FLUSH,
      });
    case "zstd":
      return zlib.createZstdCompress({
        params: { [c.ZSTD_c_compressionLevel]: levels.zstd },
        flush: c.ZSTD_e_flush,
      });
    case "gzip":
      return zlib.createGzip({ level: levels.gzip, flush: c.Z_SYNC_FLUSH });
  }
}

function compressNow(coding: Coding, body: Buffer, levels: Levels): Buffer {
  const c = zlib.constants;
  switch (coding) {
    case "br":
      return zlib.brotliCompressSync(body, {
        params: { [c.BROTLI_PARAM_QUALITY]: levels.br, [c.BROTLI_PARAM_SIZE_HINT]: body.length },
      });
    case "zstd":
      return zlib.zstdCompressSync(body, { params: { [c.ZSTD_c_compressionLevel]: levels.zstd } });
    case "gzip":
      return zlib.gzipSync(body, { level: levels.gzip });
  }
}

/** A type test for `types: [text/html, text/*]`, or mime-db's compressible flag by default. */
function typeTest(types: readonly string[] | undefined): (contentType: string | undefined) => boolean {
  if (types === undefined) return compressibleType;
  const exact = new Set<string>();
  const families: string[] = [];
  for (const t of types) {
    const lower = t.toLowerCase();
    if (lower.endsWith("/*")) families.push(lower.slice(0, -1));
    else exact.add(lower);
  }
  return (contentType) => {
    if (!contentType) return false;
    const type = contentType.split(";")[0]!.trim().toLowerCase();
    return exact.has(type) || families.some((f) => type.startsWith(f));
  };
}

/** Adds a token to the response's Vary field (once). */
export function addVary(ex: Exchange, token: string): void {
  const current = ex.getHeader("vary");
  const value = Array.isArray(current) ? current.join(", ") : (current ?? "");
  if (value.trim() === "*") return;
  const tokens = value.split(",").map((t) => t.trim().toLowerCase());
  if (tokens.includes(token.toLowerCase())) return;
  ex.setHeader("Vary", value.trim() === "" ? token : `${value}, ${token}`);
}

/** The response's Cache-Control directives mention `no-transform` (RFC 9111 §5.2.2.6). */
function noTransform(ex: Exchange): boolean {
  const cc = ex.getHeader("cache-control");
  if (cc === undefined) return false;
  return /(^|,)\s*no-transform\s*(,|$)/i.test(Array.isArray(cc) ? cc.join(",") : cc);
}

/**
 * The `encode` filter: compresses what the handlers after it answer (proxied responses,
 * `respond`, error pages), by Accept-Encoding (q-values, ties to the configured order),
 * for compressible types of at least `min_size`. Never a response that already has a
 * Content-Encoding, a 206 or a bodiless status, or one marked `no-transform`. Sends
 * `Vary: Accept-Encoding` for every response it could have compressed, and makes a strong
 * ETag weak (the bytes differ from the identity representation's).
 */
export function createEncode(cfg: EncodeConfig): HandlerInstance {
  const isCompressible = typeTest(cfg.types);
  const minSize = cfg.min_size;
  const encodings = cfg.encodings;
  const levels = cfg.levels;

  const filter = (ex: Exchange, length: number | undefined): BodyTransform | undefined => {
    const status = ex.status;
    if (status === 206 || status < 200) return undefined;
    if (length !== undefined && length < minSize) return undefined;
    const existing = ex.getHeader("content-encoding");
    if (existing !== undefined && existing !== "identity") return undefined;
    const type = ex.getHeader("content-type");
    if (!isCompressible(Array.isArray(type) ? type[0] : type) || noTransform(ex)) return undefined;
    addVary(ex, "Accept-Encoding");
    const coding = chooseCoding(ex.header("accept-encoding"), encodings);
    if (coding === undefined) return undefined;
    ex.setHeader("Content-Encoding", coding);
    ex.removeHeader("Content-Length");
    ex.removeHeader("Accept-Ranges");
    const etag = ex.getHeader("etag");
    if (typeof etag === "string" && etag.startsWith('"')) ex.setHeader("ETag", `W/${etag}`);
    return {
      buffer: (body) => (body.length <= INLINE_MAX ? compressNow(coding, body, levels) : undefined),
      stream: () => streamCompressor(coding, levels),
    };
  };

  return {
    handle(ex, next) {
      ex.onBody(filter);
      return next();
    },
  };
}
