import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";

/** A request body read in full: in memory, or in a temporary file past the memory limit. */
export interface BufferedBody {
  length: number;
  /** The bytes when they fit in memory. */
  buffer: Buffer | undefined;
  /** A fresh stream over the temporary file (once per attempt). */
  open(): Readable;
  dispose(): Promise<void>;
}

/** Reads a whole request body, spilling to a temporary file beyond `memoryLimit` bytes. */
export async function bufferBody(body: Readable, memoryLimit: number): Promise<BufferedBody> {
  const chunks: Buffer[] = [];
  let length = 0;
  let file: WriteStream | undefined;
  let dir: string | undefined;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (!file && length > memoryLimit) {
      dir = await mkdtemp(join(tmpdir(), "wharf-body-"));
      file = createWriteStream(join(dir, "body"), { mode: 0o600 });
      for (const c of chunks) file.write(c);
      chunks.length = 0;
    }
    if (file) {
      if (!file.write(chunk)) await new Promise<void>((r) => file!.once("drain", () => r()));
    } else chunks.push(chunk);
  }
  if (file) {
    file.end();
    await finished(file);
    const path = join(dir!, "body");
    return {
      length,
      buffer: undefined,
      open: () => createReadStream(path, { highWaterMark: 256 * 1024 }),
      dispose: () => rm(dir!, { recursive: true, force: true }),
    };
  }
  const buffer = Buffer.concat(chunks, length);
  return { length, buffer, open: () => createReadStream("/dev/null"), dispose: async () => {} };
}
