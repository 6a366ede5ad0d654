import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../core/logger.ts";
import { waitLock } from "../storage/lock.ts";
import type { Storage } from "../storage/storage.ts";
import type { InternalCa } from "./internal-ca.ts";
import { writeAtomic } from "./storage.ts";

/** The CA's files, shared under `internal-ca/<file>`: the certificates world-readable, the keys not. */
const FILES: [name: string, mode: number][] = [
  ["root.key", 0o600],
  ["root.crt", 0o644],
  ["intermediate.key", 0o600],
  ["intermediate.crt", 0o644],
];
const LOCK_TTL = 20_000;

/**
 * Makes the internal CA one across the instances of a shared storage: the CA found there
 * is written to this machine (its own, if different, is kept aside as `*.replaced`), the
 * CA is loaded (made the first time, its intermediate renewed when due), and what was made
 * here goes back to the storage, all under one lock, so two instances starting together
 * make one root. Leaves are issued by each instance from the shared intermediate.
 */
export async function shareInternalCa(storage: Storage, ca: InternalCa, log: Logger): Promise<void> {
  const lock = await waitLock(storage, "internal-ca/update", LOCK_TTL);
  try {
    const shared = new Map<string, string>();
    for (const [name] of FILES) {
      const text = await storage.get(`internal-ca/${name}`);
      if (text !== undefined) shared.set(name, text);
    }
    const local = (name: string) => {
      const p = join(ca.dir, name);
      return existsSync(p) ? readFileSync(p, "utf8") : undefined;
    };
    if (shared.has("root.crt") && shared.has("root.key")) {
      let replaced = false;
      for (const [name, mode] of FILES) {
        const text = shared.get(name);
        const have = local(name);
        if (text === undefined || have === text) continue;
        if (have !== undefined && name.startsWith("root.")) {
          renameSync(join(ca.dir, name), join(ca.dir, `${name}.replaced`));
          replaced = true;
        }
        writeAtomic(join(ca.dir, name), text, mode);
      }
      if (replaced)
        log.warn("the shared storage's internal CA replaces this machine's; run `wharf trust` again", {
          kept_aside: join(ca.dir, "root.crt.replaced"),
        });
    }
    await ca.load();
    for (const [name] of FILES) {
      const text = local(name);
      if (text !== undefined && text !== shared.get(name)) await storage.put(`internal-ca/${name}`, text);
    }
  } finally {
    await lock.release();
  }
}
