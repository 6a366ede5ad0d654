import type { WharfConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";
import type { Storage } from "../storage/storage.ts";
import { defaultDataDir } from "../tls/storage.ts";

/**
 * The storage an instance shares with others (`server.storage`), opened by the primary and
 * replaced when a reload names another. Undefined without one: each part then keeps its
 * state on this machine as before. Its comings and goings are logged and counted.
 */
export class SharedStorage {
  readonly #log: Logger;
  #key = "null";
  #storage: Storage | undefined;
  /** Times the storage went away since start (for wharf_storage_outages_total). */
  outages = 0;

  constructor(log: Logger) {
    this.#log = log.child({ component: "storage" });
  }

  get current(): Storage | undefined {
    return this.#storage;
  }

  /** Opens the storage `config` names, if it is not the one open already. */
  async update(config: WharfConfig): Promise<void> {
    const want = config.server.storage;
    const key = JSON.stringify(want);
    if (key === this.#key) return;
    const old = this.#storage;
    this.#storage = undefined;
    if (want) {
      const { openStorage } = await import("../storage/storage.ts");
      const s = await openStorage({
        dir: config.server.acme.data_dir ?? defaultDataDir(),
        redis: want.redis,
      });
      s.onStatus((up) => {
        if (up) this.#log.info("storage reachable again: shared state resumes", { storage: s.where });
        else {
          this.outages++;
          this.#log.warn(
            "storage unreachable: serving goes on from what this instance holds; orders retry, rate limits count per instance",
            { storage: s.where, error: s.lastError },
          );
        }
      });
      if (!s.up)
        this.#log.warn("storage unreachable at start: going on without it until it answers", {
          storage: s.where,
          error: s.lastError,
        });
      else this.#log.info("shared storage", { kind: s.kind, storage: s.where });
      this.#storage = s;
    }
    this.#key = key;
    await old?.close();
    if (!want?.redis && sharesCache(config))
      this.#log.warn(
        "cache.shared has no effect without server.storage on Redis: each instance caches alone",
      );
  }

  async close(): Promise<void> {
    await this.#storage?.close();
  }
}

/** Whether a route's cache asks to be shared with other instances. */
function sharesCache(config: WharfConfig): boolean {
  return config.sites.some((site) =>
    site.routes.some((r) =>
      r.handle.some((h) => "proxy" in h && (h.proxy as { cache?: { shared?: boolean } }).cache?.shared),
    ),
  );
}
