import type { UpstreamAddress } from "../../http/upstream-address.ts";

/** One upstream's live state in this worker: load, failures, health. */
export class Upstream {
  readonly address: UpstreamAddress;
  readonly weight: number;
  readonly index: number;
  /** Requests in flight to it. */
  active = 0;
  /** Smooth weighted round-robin state (nginx's algorithm). */
  currentWeight = 0;
  /** Down (by passive failures) until this time (ms since epoch). */
  downUntil = 0;
  /** Set by active health checks; true until a check says otherwise. */
  healthy = true;
  /** Failures since start, and the last one's reason (for the admin API). */
  failures = 0;
  lastError: string | undefined;
  #failures: number[] = [];

  constructor(address: UpstreamAddress, weight: number, index: number) {
    this.address = address;
    this.weight = weight;
    this.index = index;
  }

  available(now: number): boolean {
    return this.healthy && now >= this.downUntil;
  }

  /** Records a failure; `maxFails` within `window` ms mark it down for `timeout` ms (0 fails: never). */
  fail(now: number, maxFails: number, window: number, timeout: number, why?: string): boolean {
    this.failures++;
    if (why !== undefined) this.lastError = why;
    if (maxFails === 0) return false;
    this.#failures = this.#failures.filter((t) => now - t < window);
    this.#failures.push(now);
    if (this.#failures.length >= maxFails) {
      this.downUntil = now + timeout;
      this.#failures = [];
      return true;
    }
    return false;
  }

  succeed(): void {
    if (this.#failures.length > 0) this.#failures = [];
  }
}
