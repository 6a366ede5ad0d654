import type { Transform } from "node:stream";
import { promisify } from "node:util";
import zlib from "node:zlib";
import type { Coding } from "../../http/content-coding.ts";

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);
const zstd = promisify(zlib.zstdCompress);

/**
 * Compresses a whole buffer once, for caching: settings lean to size over speed, since the
 * result is reused for every later request.
 */
export function compressBuffer(coding: Coding, data: Buffer): Promise<Buffer> {
  switch (coding) {
    case "br":
      return brotli(data, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: 9,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
          [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        },
      });
    case "zstd":
      return zstd(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 9 } });
    case "gzip":
      return gzip(data, { level: 9 });
  }
}

/** A streaming compressor for bodies too large to cache: settings lean to speed. */
export function compressStream(coding: Coding): Transform {
  switch (coding) {
    case "br":
      return zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });
    case "zstd":
      return zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } });
    case "gzip":
      return zlib.createGzip({ level: 6 });
  }
}
