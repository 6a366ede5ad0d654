import type { SharedState } from "../handlers/handler.ts";
import type { ToPrimary, ToWorker } from "./messages.ts";

/**
 * A worker's SharedState: requests go to the primary over the IPC channel (with an id its
 * reply carries back), events from the primary reach the listeners. `receive` takes the
 * worker's `shared-reply` and `shared-event` messages.
 */
export class SharedClient implements SharedState {
  readonly #send: (msg: ToPrimary) => void;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #listeners = new Map<string, ((body: unknown) => void)[]>();
  #next = 1;

  constructor(send: (msg: ToPrimary) => void) {
    this.#send = send;
  }

  request(kind: string, body: unknown): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#send({ type: "shared", id, kind, body });
    });
  }

  on(kind: string, listener: (body: unknown) => void): void {
    this.#listeners.set(kind, [...(this.#listeners.get(kind) ?? []), listener]);
  }

  receive(msg: Extract<ToWorker, { type: "shared-reply" | "shared-event" }>): void {
    if (msg.type === "shared-event") {
      for (const l of this.#listeners.get(msg.kind) ?? []) l(msg.body);
      this.#send({ type: "shared-ack", ack: msg.ack });
      return;
    }
    const p = this.#pending.get(msg.id);
    if (p === undefined) return;
    this.#pending.delete(msg.id);
    if (msg.error !== undefined) p.reject(new Error(msg.error));
    else p.resolve(msg.value);
  }
}
