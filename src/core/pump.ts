import type { Readable } from "node:stream";

/** Where {@link pump} writes: `write` says false when full; `onDrain` calls back once it can take more. */
export interface PumpSink {
  write(chunk: Buffer): boolean;
  onDrain(resume: () => void): void;
}

/**
 * Copies `src` into `sink` with backpressure: the source pauses while the sink is full
 * and resumes at its drain. `done` is called once: at the source's end (no argument) or
 * at its first error. A sink that wants to stop early destroys the source itself.
 */
export function pump(src: Readable, sink: PumpSink, done: (err?: Error) => void): void {
  let over = false;
  const finish = (err?: Error) => {
    if (over) return;
    over = true;
    done(err);
  };
  const resume = () => src.resume();
  src.on("data", (chunk: Buffer) => {
    if (!sink.write(chunk)) {
      src.pause();
      sink.onDrain(resume);
    }
  });
  src.once("end", () => finish());
  src.once("error", (err: Error) => finish(err));
}
