import { randomBytes } from "node:crypto";
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { type BucketRule, Buckets, type TakeResult } from "./buckets.ts";
import { MemoryCounters } from "./counters.ts";
import { lockToken, RenewedLock } from "./lock.ts";
import type { Lock, Storage } from "./storage.ts";

/**
 * The storage in a directory (wharf's data directory by default): a key is a file path
 * under it, written atomically and readable by the owner only. Locks are files holding
 * their holder's token and expiry, so processes on one machine (or one shared volume)
 * coordinate; an expired lock is taken over. Counters live in this process's memory.
 */
export class FileStorage implements Storage {
  readonly kind = "file";
  readonly up = true;
  readonly dir: string;
  readonly #counters = new MemoryCounters();
  readonly #buckets = new Buckets(100_000);
  /** Expiry of keys put with a ttl (in this process; other processes see them until deleted). */
  readonly #expires = new Map<string, number>();

  constructor(dir: string) {
    this.dir = dir;
  }

  get where(): string {
    return this.dir;
  }

  /** The file behind a key: certificates are served from it directly. */
  pathOf(key: string): string {
    const parts = key.split("/");
    if (parts.some((p) => p === "" || p === "." || p === ".." || p.includes("\0")))
      throw new Error(`invalid storage key ${JSON.stringify(key)}`);
    return join(this.dir, ...parts);
  }

  async get(key: string): Promise<string | undefined> {
    const exp = this.#expires.get(key);
    if (exp !== undefined && exp <= Date.now()) {
      await this.delete(key);
      return undefined;
    }
    try {
      return await readFile(this.pathOf(key), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, value, { mode: 0o600 });
    await rename(tmp, path);
    if (ttlMs !== undefined) this.#expires.set(key, Date.now() + ttlMs);
    else this.#expires.delete(key);
  }

  async delete(key: string): Promise<void> {
    this.#expires.delete(key);
    await rm(this.pathOf(key), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw err;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile() && !e.name.endsWith(".tmp")) {
          const key = relative(this.dir, p).split(sep).join("/");
          if (key.startsWith(prefix)) out.push(key);
        }
      }
    };
    await walk(this.dir);
    return out.sort();
  }

  async lock(name: string, ttlMs: number): Promise<Lock | undefined> {
    const path = this.pathOf(`locks/${name}`);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const token = lockToken();
    const body = () => JSON.stringify({ token, expires: Date.now() + ttlMs });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(path, "wx", 0o600);
        await fh.writeFile(body());
        await fh.close();
        const ours = async () => (await readLock(path))?.token === token;
        return new RenewedLock(
          ttlMs,
          async () => {
            if (!(await ours())) return false;
            await writeFile(path, body(), { mode: 0o600 });
            return true;
          },
          async () => {
            if (await ours()) await rm(path, { force: true });
          },
        );
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const held = await readLock(path);
        if (held ? held.expires > Date.now() : await beingWritten(path)) return undefined;
        await takeOver(path, held);
      }
    }
    return undefined;
  }

  async incr(key: string, by: number, ttlMs: number): Promise<number> {
    return this.#counters.incr(key, by, ttlMs);
  }

  async counter(key: string): Promise<number> {
    return this.#counters.get(key);
  }
  async take(key: string, rule: BucketRule, want: number): Promise<TakeResult> {
    return this.#buckets.take(key, rule.perSecond, rule.capacity, want, rule.queue);
  }

  onStatus(): void {}

  async close(): Promise<void> {}
}

async function readLock(path: string): Promise<{ token: string; expires: number } | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch {
    return undefined;
  }
}

/** A lock file without its content yet: just created by its holder. */
async function beingWritten(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs < 2000;
}

/**
 * Moves an expired lock file aside. If what was moved is not the expired lock that was
 * read (somebody took it over in between), it is put back and the lock stays theirs.
 */
async function takeOver(path: string, stale: { token: string } | undefined): Promise<void> {
  const aside = `${path}.${lockToken()}.tmp`;
  try {
    await rename(path, aside);
  } catch {
    return;
  }
  const moved = await readLock(aside);
  if (stale !== undefined && moved?.token !== stale.token) {
    await link(aside, path).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}
