import { ConnService } from "../handlers/conn-limit/service.ts";
import type { SharedState } from "../handlers/handler.ts";
import { CacheService } from "../handlers/proxy/cache/service.ts";
import { RateService } from "../handlers/rate-limit/service.ts";
import type { Storage } from "../storage/storage.ts";

/**
 * The services behind {@link SharedState}, by the prefix of a request's kind. The primary
 * runs one for all its workers; a server without workers (tests, benchmarks in process)
 * runs one in process.
 */
export class SharedHost {
  readonly cache: CacheService;
  readonly rate = new RateService();
  readonly conn = new ConnService();
  /** The server's metrics text, summed over the workers (set once the server runs). */
  metricsText: (() => Promise<string>) | undefined;
  /** An HTTP-01 answer another instance published in the shared storage. */
  challenge: ((token: string) => Promise<string | undefined>) | undefined;
  #storage: (() => Storage | undefined) | undefined;

  /**
   * The storage shared with other instances, if any: rate limits count there, shared cache
   * zones keep their responses there, OCSP staples are kept there.
   */
  set storage(storage: () => Storage | undefined) {
    this.#storage = storage;
    this.rate.storage = storage;
    this.cache.storage = storage;
  }

  /** `broadcast` tells every worker, and resolves once each has acted on it. */
  constructor(broadcast: (kind: string, body: unknown) => Promise<void>) {
    this.cache = new CacheService(broadcast);
  }

  /** Answers one request from worker `from`; a thrown error becomes the caller's rejection. */
  async handle(kind: string, body: unknown, from = "local"): Promise<unknown> {
    if (kind.startsWith("cache.")) return this.cache.handle(kind, body);
    if (kind.startsWith("rate.")) return this.rate.handle(kind, body);
    if (kind.startsWith("conn.")) return this.conn.handle(kind, body, from);
    if (kind === "metrics.text" && this.metricsText) return this.metricsText();
    if (kind === "acme.http01") return (await this.challenge?.(String(body))) ?? null;
    if (kind === "ocsp.get" || kind === "ocsp.put") return this.#staple(kind, body);
    throw new Error(`no shared service answers ${kind}`);
  }

  /**
   * OCSP staples in the shared storage, by the SHA-256 of the certificate (hex): what one
   * instance fetched, the others staple without asking the responder again.
   */
  async #staple(kind: string, body: unknown): Promise<string | null> {
    const storage = this.#storage?.();
    const b = body as { id: string; der?: string; ttlMs?: number };
    if (!storage || !/^[0-9a-f]{64}$/.test(b.id)) return null;
    const key = `ocsp/${b.id}`;
    if (kind === "ocsp.get") return (await storage.get(key)) ?? null;
    if (typeof b.der === "string" && typeof b.ttlMs === "number" && b.ttlMs > 0)
      await storage.put(key, b.der, b.ttlMs);
    return null;
  }

  /** A worker went away: its share of connection counts is given back. */
  forget(from: string): void {
    this.conn.forget(from);
  }
}

/** SharedState in one process: the services themselves, events to local listeners. */
export function localShared(): SharedState {
  const listeners = new Map<string, ((body: unknown) => void)[]>();
  const host = new SharedHost(async (kind, body) => {
    for (const l of listeners.get(kind) ?? []) l(body);
  });
  return {
    request: (kind, body) => host.handle(kind, body),
    on(kind, listener) {
      listeners.set(kind, [...(listeners.get(kind) ?? []), listener]);
    },
  };
}
