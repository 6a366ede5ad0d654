import type { Lock, Storage } from "./storage.ts";

/**
 * A lock held until released, renewed every third of its ttl by `renew` (which answers
 * whether the lock was still ours). A failed or refused renewal marks it lost; the holder
 * should stop what it coordinates.
 */
export class RenewedLock implements Lock {
  #lost = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #release: () => Promise<void>;

  constructor(ttlMs: number, renew: () => Promise<boolean>, release: () => Promise<void>) {
    this.#release = release;
    this.#timer = setInterval(
      () => {
        renew().then(
          (ok) => {
            if (!ok) this.#lose();
          },
          () => this.#lose(),
        );
      },
      Math.max(50, Math.floor(ttlMs / 3)),
    );
    this.#timer.unref();
  }

  get lost(): boolean {
    return this.#lost;
  }

  #lose(): void {
    this.#lost = true;
    clearInterval(this.#timer);
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#lost) return;
    this.#lost = true;
    await this.#release();
  }
}

/** A random token naming one holder of a lock. */
export function lockToken(): string {
  return `${process.pid}-${crypto.randomUUID()}`;
}

/** Takes the lock `name` on `storage`, waiting (a quarter second between tries) while another holds it. */
export async function waitLock(storage: Storage, name: string, ttlMs: number): Promise<Lock> {
  for (;;) {
    const lock = await storage.lock(name, ttlMs);
    if (lock) return lock;
    await new Promise((r) => setTimeout(r, 250));
  }
}
