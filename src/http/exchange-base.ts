import { type Readable, Transform } from "node:stream";
import { WharfError } from "../core/errors.ts";
import type { Exchange, HeaderValue, HeadHook } from "./exchange.ts";
import { ResponseHeaders } from "./response-headers.ts";

/**
 * What every engine's Exchange keeps the same way: the response's header fields and the
 * hooks that filters register to change them just before the head goes out.
 */
export abstract class ExchangeHeads {
  status = 200;
  protected readonly out = new ResponseHeaders();
  #hooks: HeadHook[] | undefined;

  getHeader(name: string): HeaderValue | undefined {
    return this.out.get(name);
  }
  setHeader(name: string, value: HeaderValue): void {
    this.out.set(name, value);
  }
  appendHeader(name: string, value: string): void {
    this.out.append(name, value);
  }
  removeHeader(name: string): void {
    this.out.remove(name);
  }
  onHead(hook: HeadHook): void {
    if (this.#hooks) this.#hooks.push(hook);
    else this.#hooks = [hook];
  }

  /** Whether filters wait to see the head (then prepared fields cannot be sent as they are). */
  protected get hooked(): boolean {
    return this.#hooks !== undefined;
  }

  /** Sets the status and runs the filters, once; returns the status they leave. */
  protected settle(status: number): number {
    this.status = status;
    const hooks = this.#hooks;
    if (hooks) {
      this.#hooks = undefined;
      for (const h of hooks) h(this as unknown as Exchange);
    }
    return this.status;
  }
}

/**
 * A request body held to `limit` bytes where no Content-Length was declared (one is
 * checked before dispatch): over it, the stream fails with a 413 WharfError.
 */
export function limitBody(body: Readable, declared: boolean, limit: number): Readable {
  if (declared || !Number.isFinite(limit)) return body;
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) done(new WharfError("WHARF_ERR_BODY_TOO_LARGE"));
      else done(null, chunk);
    },
  });
  body.on("error", (err) => counter.destroy(err));
  return body.pipe(counter);
}
