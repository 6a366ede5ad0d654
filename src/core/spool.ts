import type { FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { anonymousTempFile } from "./temp-file.ts";

export interface SpoolOptions {
  /** Bytes held in memory before the rest goes to a temporary file. */
  memory: number;
  /** Bytes the temporary file may hold (0: none); past both, the writer must wait. */
  maxFile: number;
  /** Where the temporary file goes (the system's temp dir by default). */
  dir?: string | undefined;
}

/** A piece of what was written and not yet read: bytes in memory, or a range of the file. */
type Segment = { buf: Buffer } | { start: number; end: number };

/** Bytes written to the file but not yet on it, past which the writer waits for the disk. */
const MAX_UNWRITTEN = 1024 * 1024;
/** The size of one read back from the file. */
const READ_SIZE = 64 * 1024;

/**
 * A buffer between a fast producer and a slow consumer (nginx's proxy buffering, without
 * its delays): what the consumer can take now passes straight through; the rest waits in
 * memory up to `memory` bytes, then in an anonymous temporary file up to `maxFile`, and
 * only past both does the producer have to wait (`write` returns false until `onDrain`).
 * So an app's response is read as fast as the app sends it, and its connection is free
 * once it is done, whatever the client's speed.
 */
export class Spool extends Readable {
  readonly #opts: SpoolOptions;
  readonly #segments: Segment[] = [];
  #memBytes = 0;
  #file: Promise<FileHandle> | undefined;
  /** Bytes given to the file / written to it: reads go up to `#written`. */
  #fileEnd = 0;
  #written = 0;
  #writeChain: Promise<void> = Promise.resolve();
  #reading = false;
  #wanted = false;
  #ended = false;
  #drainWaiters: (() => void)[] = [];
  /** Bytes that went through the file (for tests and logs). */
  spilled = 0;

  constructor(opts: SpoolOptions) {
    super({ highWaterMark: 64 * 1024 });
    this.#opts = opts;
  }

  /** Takes a chunk; false when memory and file are full (wait for `onDrain` before the next). */
  write(chunk: Buffer): boolean {
    if (this.destroyed || chunk.length === 0) return true;
    if (this.#segments.length === 0 && this.#wanted && !this.#reading) {
      // The consumer is waiting: straight through.
      this.#wanted = this.push(chunk);
      return true;
    }
    const fileFull = this.#fileEnd + chunk.length > this.#opts.maxFile;
    const last = this.#segments[this.#segments.length - 1];
    if (this.#memBytes < this.#opts.memory || fileFull) {
      this.#segments.push({ buf: chunk });
      this.#memBytes += chunk.length;
      return !fileFull || this.#memBytes < this.#opts.memory;
    }
    // To the file, in order: appended to the last file range when it is the last segment.
    const start = this.#fileEnd;
    this.#fileEnd += chunk.length;
    this.spilled += chunk.length;
    if (last !== undefined && "start" in last && last.end === start) last.end = this.#fileEnd;
    else this.#segments.push({ start, end: this.#fileEnd });
    this.#file ??= anonymousTempFile(this.#opts.dir);
    const file = this.#file;
    this.#writeChain = this.#writeChain
      .then(async () => {
        const h = await file;
        await h.write(chunk, 0, chunk.length, start);
        this.#written = start + chunk.length;
        if (this.#wanted) this.#flush();
        this.#wakeWriter();
      })
      .catch((err: Error) => {
        this.destroy(err);
      });
    return this.#fileEnd - this.#written < MAX_UNWRITTEN;
  }

  onDrain(cb: () => void): void {
    this.#drainWaiters.push(cb);
  }

  /** No more writes: the consumer gets the end once it has read everything. */
  end(): this {
    this.#ended = true;
    if (this.#wanted) this.#flush();
    return this;
  }

  override _read(): void {
    this.#wanted = true;
    this.#flush();
  }

  /** Hands the consumer what it can take, from memory and file, in order. */
  #flush(): void {
    while (this.#wanted && !this.#reading && !this.destroyed) {
      const seg = this.#segments[0];
      if (seg === undefined) {
        if (this.#ended) {
          this.#wanted = false;
          this.push(null);
        }
        return;
      }
      if ("buf" in seg) {
        this.#segments.shift();
        this.#memBytes -= seg.buf.length;
        this.#wanted = this.push(seg.buf);
        this.#wakeWriter();
        continue;
      }
      if (seg.start >= this.#written) return; // not on disk yet
      this.#readFile(seg);
    }
  }

  #readFile(seg: { start: number; end: number }): void {
    this.#reading = true;
    const size = Math.min(READ_SIZE, seg.end - seg.start, this.#written - seg.start);
    const buf = Buffer.allocUnsafe(size);
    this.#file!.then((h) => h.read(buf, 0, size, seg.start)).then(
      ({ bytesRead }) => {
        this.#reading = false;
        if (this.destroyed) return;
        seg.start += bytesRead;
        if (seg.start >= seg.end) this.#segments.shift();
        this.#wanted = this.push(bytesRead === size ? buf : buf.subarray(0, bytesRead));
        this.#flush();
      },
      (err: Error) => this.destroy(err),
    );
  }

  #wakeWriter(): void {
    if (this.#drainWaiters.length === 0) return;
    if (this.#memBytes >= this.#opts.memory && this.#fileEnd >= this.#opts.maxFile) return;
    if (this.#fileEnd - this.#written >= MAX_UNWRITTEN) return;
    const waiters = this.#drainWaiters.splice(0);
    for (const w of waiters) w();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#segments.length = 0;
    this.#drainWaiters.length = 0;
    const file = this.#file;
    if (file === undefined) return cb(err);
    // The file goes once pending writes are done (its name is gone already).
    this.#writeChain
      .then(() => file)
      .then((h) => h.close())
      .then(
        () => cb(err),
        () => cb(err),
      );
  }
}
