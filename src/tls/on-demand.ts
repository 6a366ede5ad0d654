import type { AcmeConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";
import type { AcmeManager, CertPair } from "./acme.ts";

/** How long the ask endpoint has to answer. */
const ASK_TIMEOUT_MS = 5000;

/**
 * The primary's side of on-demand TLS: a worker met a name in a handshake; wharf reuses a
 * stored certificate, or asks the `ask` endpoint whether the name is one to serve and,
 * within the issuance rate (a token bucket of `burst` per `interval`), orders one. The
 * answer (a certificate, or a refusal) goes to every worker.
 */
export class OnDemandIssuer {
  readonly #log: Logger;
  readonly #acme: AcmeManager;
  readonly #config: () => AcmeConfig["on_demand"];
  readonly #answer: (name: string, pair: CertPair | undefined) => void;
  readonly #inFlight = new Set<string>();
  #tokens = Number.NaN;
  #refilledAt = 0;

  constructor(
    log: Logger,
    acme: AcmeManager,
    config: () => AcmeConfig["on_demand"],
    answer: (name: string, pair: CertPair | undefined) => void,
  ) {
    this.#log = log.child({ component: "on-demand-tls" });
    this.#acme = acme;
    this.#config = config;
    this.#answer = answer;
  }

  /** Handles a worker's request for `name` (once at a time per name). */
  request(name: string): void {
    if (this.#inFlight.has(name)) return;
    this.#inFlight.add(name);
    void this.#obtain(name)
      .catch((err: unknown) => {
        this.#log.error("on-demand certificate failed", { name, error: (err as Error).message });
        return undefined;
      })
      .then((pair) => {
        this.#inFlight.delete(name);
        this.#answer(name, pair);
      });
  }

  async #obtain(name: string): Promise<CertPair | undefined> {
    const stored = await this.#acme.storedOnDemand(name);
    if (stored) return stored;
    const cfg = this.#config();
    if (!cfg) return undefined;
    if (!(await this.#approved(cfg.ask, name))) {
      this.#log.warn("on-demand certificate refused by the ask endpoint", { name });
      return undefined;
    }
    if (!this.#take(cfg.burst, cfg.interval)) {
      this.#log.warn("on-demand certificate refused: issuance rate limit reached", { name });
      return undefined;
    }
    this.#log.info("obtaining an on-demand certificate", { name });
    return this.#acme.orderOnDemand(name);
  }

  async #approved(ask: string, name: string): Promise<boolean> {
    const url = new URL(ask);
    url.searchParams.set("domain", name);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(ASK_TIMEOUT_MS), redirect: "error" });
      await res.body?.cancel();
      return res.ok;
    } catch (err) {
      this.#log.warn("the on-demand ask endpoint did not answer", { name, error: (err as Error).message });
      return false;
    }
  }

  /** Takes one issuance from the bucket, refilled continuously at `burst` per `interval`. */
  #take(burst: number, interval: number): boolean {
    const now = Date.now();
    if (Number.isNaN(this.#tokens)) this.#tokens = burst;
    else this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) * burst) / interval);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
