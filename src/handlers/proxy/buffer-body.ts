import type { FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { anonymousTempFile } from "../../core/temp-file.ts";

/** A request body read in full: in memory, or in a temporary file past the memory limit. */
export interface BufferedBody {
  length: number;
  /** The bytes when they fit in memory. */
  buffer: Buffer | undefined;
  /** A fresh stream over the temporary file (once per attempt). */
  open(): Readable;
  /** Frees the temporary file. */
  dispose(): Promise<void>;
}

/**
 * Reads a whole request body, spilling to an anonymous temporary file in `dir` beyond
 * `memoryLimit` bytes (nginx's client_body_buffer_size): the app then gets it at full
 * speed with a Content-Length, however slowly the client sent it.
 */
export async function bufferBody(body: Readable, memoryLimit: number, dir?: string): Promise<BufferedBody> {
  const chunks: Buffer[] = [];
  let length = 0;
  let file: FileHandle | undefined;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (file === undefined && length > memoryLimit) {
        file = await anonymousTempFile(dir);
        for (const c of chunks) await file.write(c);
        chunks.length = 0;
      }
      if (file) await file.write(chunk);
      else chunks.push(chunk);
    }
  } catch (err) {
    await file?.close();
    throw err;
  }
  if (file) {
    const handle = file;
    return {
      length,
      buffer: undefined,
      // Positional reads: each attempt reads from the start, the handle stays open.
      open: () => handle.createReadStream({ start: 0, autoClose: false, highWaterMark: 256 * 1024 }),
      dispose: () => handle.close(),
    };
  }
  const buffer = Buffer.concat(chunks, length);
  return { length, buffer, open: () => Readable.from([buffer]), dispose: async () => {} };
}
