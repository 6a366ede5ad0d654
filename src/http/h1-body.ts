import { Readable } from "node:stream";

/**
 * A request body as the connection reads it: the connection pushes slices of what the
 * socket delivered; when the consumer is full, the connection stops reading the socket
 * until `_read` asks for more (backpressure all the way to TCP).
 */
export class RequestBody extends Readable {
  readonly #wanted: () => void;

  constructor(wanted: () => void) {
    super({ highWaterMark: 64 * 1024 });
    this.#wanted = wanted;
  }

  override _read(): void {
    this.#wanted();
  }
}

/** A body that is already over: for requests without one. */
export function emptyBody(): Readable {
  const r = new Readable({ read() {} });
  r.push(null);
  return r;
}
