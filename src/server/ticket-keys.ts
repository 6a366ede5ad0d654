import { randomBytes } from "node:crypto";
import type { Logger } from "../core/logger.ts";
import type { Storage } from "../storage/storage.ts";

const KEY = "tls/ticket-keys";
/** How often the stored keys are looked at: an instance takes up new keys this soon. */
const POLL_MS = 5_000;

/**
 * Session-ticket keys shared through the storage, so a session from one instance resumes
 * on another. Whichever instance finds the stored keys missing or older than the rotation
 * interval makes new ones (under a lock); every instance takes up what is stored.
 */
export class SharedTicketKeys {
  readonly #storage: () => Storage | undefined;
  readonly #rotation: () => number;
  readonly #use: (hex: string) => void;
  readonly #log: Logger;
  #current: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    storage: () => Storage | undefined,
    rotation: () => number,
    use: (hex: string) => void,
    log: Logger,
  ) {
    this.#storage = storage;
    this.#rotation = rotation;
    this.#use = use;
    this.#log = log;
  }

  /** Whether keys come from the storage now (the primary's own rotation then stands aside). */
  get active(): boolean {
    return this.#storage() !== undefined;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.sync(), POLL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Reads the stored keys (making new ones when due) and hands them on if they changed. */
  async sync(): Promise<void> {
    const s = this.#storage();
    if (!s?.up) return;
    try {
      let rec = parse(await s.get(KEY));
      if (!rec || Date.now() - rec.created >= this.#rotation()) {
        const lock = await s.lock(KEY, 10_000);
        if (lock) {
          try {
            rec = parse(await s.get(KEY));
            if (!rec || Date.now() - rec.created >= this.#rotation()) {
              rec = { keys: randomBytes(48).toString("hex"), created: Date.now() };
              await s.put(KEY, JSON.stringify(rec));
            }
          } finally {
            await lock.release();
          }
        }
      }
      if (rec && rec.keys !== this.#current) {
        this.#current = rec.keys;
        this.#use(rec.keys);
      }
    } catch (err) {
      this.#log.debug("ticket keys not synced", { err: (err as Error).message });
    }
  }
}

function parse(text: string | undefined): { keys: string; created: number } | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text);
    return typeof v?.keys === "string" && /^[0-9a-f]{96}$/.test(v.keys) && typeof v.created === "number"
      ? v
      : undefined;
  } catch {
    return undefined;
  }
}
