import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { WharfConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";
import type { Storage } from "../storage/storage.ts";
import { expiresWithin, InternalCa } from "./internal-ca.ts";
import { shareInternalCa } from "./internal-ca-share.ts";
import { defaultDataDir, writeAtomic } from "./storage.ts";

const RENEW_BEFORE = 2 * 86_400_000;

/**
 * Leaf certificates from the internal CA for `tls: internal` sites, run by the primary:
 * issued for the site's hosts (or localhost, 127.0.0.1 and ::1 for a site without hosts),
 * kept on disk, and re-issued two days before they expire.
 */
export class InternalCerts {
  readonly #log: Logger;
  readonly #updated: () => void;
  #timer: NodeJS.Timeout | undefined;

  readonly #storage: () => Storage | undefined;

  /** `storage`: a storage shared with other instances, where the CA itself is kept (the leaves stay here). */
  constructor(log: Logger, updated: () => void, storage: () => Storage | undefined = () => undefined) {
    this.#log = log.child({ component: "internal-ca" });
    this.#updated = updated;
    this.#storage = storage;
  }

  async prepare(config: WharfConfig): Promise<WharfConfig> {
    const out = structuredClone(config);
    const sites = out.sites.filter((s) => s.tls?.source === "internal");
    if (sites.length === 0) return out;
    const ca = new InternalCa(out.server.acme.data_dir ?? defaultDataDir());
    const storage = this.#storage();
    if (storage && storage.kind !== "file") {
      ca.ensureDir();
      await shareInternalCa(storage, ca, this.#log).catch((err: unknown) =>
        this.#log.warn("shared storage unreachable: the internal CA on this machine issues alone", {
          error: (err as Error).message,
        }),
      );
    }
    await ca.load();
    for (const site of sites) {
      const names = site.hosts.length > 0 ? [...site.hosts].sort() : ["localhost", "127.0.0.1", "::1"];
      const base = join(ca.dir, "leaves", names[0]!.replace(/[^A-Za-z0-9.-]/g, "_"));
      const certPath = `${base}.crt`;
      const keyPath = `${base}.key`;
      const current = existsSync(certPath) ? readFileSync(certPath, "utf8") : undefined;
      // Re-issued when due, and when the intermediate changed (renewed, or the shared CA replaced this one).
      if (!current || expiresWithin(current, RENEW_BEFORE) || !current.includes(ca.intermediatePem)) {
        const leaf = await ca.issue(names);
        writeAtomic(keyPath, leaf.key);
        writeAtomic(certPath, leaf.cert, 0o644);
        this.#log.info("certificate issued by the internal CA", {
          names,
          not_after: leaf.notAfter.toISOString(),
          root: ca.rootPath,
        });
      }
      site.tls!.cert = certPath;
      site.tls!.key = keyPath;
    }
    // Check daily; re-issuing happens in prepare, which the primary runs again on update.
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#updated(), 86_400_000);
      this.#timer.unref();
    }
    return out;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}

/** The internal CA's root certificate path for a data directory (what `wharf trust` installs). */
export function internalRootPath(dataDir = defaultDataDir()): string {
  return new InternalCa(dataDir).rootPath;
}

/** Makes sure the internal CA exists; returns its root certificate path. */
export async function ensureInternalCa(dataDir = defaultDataDir()): Promise<string> {
  const ca = new InternalCa(dataDir);
  await ca.load();
  return ca.rootPath;
}
