import { createInterface } from "node:readline";
import type { WharfConfig } from "../config/types.ts";
import { openStorage, type Storage } from "../storage/storage.ts";
import { defaultDataDir } from "../tls/storage.ts";

/**
 * Keys worth moving between storages: certificates, keys, the ACME account, ticket keys,
 * the internal CA. Locks, challenge answers, rate-limit counters, OCSP staples and cached
 * responses are of the moment; temporary certificates and the internal CA's leaves belong
 * to one machine.
 */
function lasting(key: string): boolean {
  return (
    !/^(locks|challenges|rate|ocsp|cache|cache-purges|internal-ca\/leaves)\//.test(key) &&
    !/\/temporary\.(crt|key)$|\.replaced$/.test(key)
  );
}

/** The storage a config names: its Redis, or the data directory (`dir` overrides it). */
export async function storageOf(config: WharfConfig | undefined, dir?: string): Promise<Storage> {
  const redis = config?.server.storage?.redis;
  if (redis && dir === undefined) return openStorage({ dir: "", redis });
  return openStorage({ dir: dir ?? config?.server.acme.data_dir ?? defaultDataDir() });
}

/** Writes every lasting key with its value, one JSON object a line; resolves with the count. */
export async function exportStorage(s: Storage, out: NodeJS.WritableStream): Promise<number> {
  if (!s.up) throw new Error(`the storage at ${s.where} does not answer`);
  let n = 0;
  for (const key of await s.list("")) {
    if (!lasting(key)) continue;
    const value = await s.get(key);
    if (value === undefined) continue;
    out.write(`${JSON.stringify({ key, value })}\n`);
    n++;
  }
  return n;
}

/** Stores every `{key, value}` line of `input`; resolves with the count. */
export async function importStorage(s: Storage, input: NodeJS.ReadableStream): Promise<number> {
  if (!s.up) throw new Error(`the storage at ${s.where} does not answer`);
  let n = 0;
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (text.trim() === "") continue;
    let rec: { key?: unknown; value?: unknown };
    try {
      rec = JSON.parse(text);
    } catch {
      throw new Error(`line ${line}: not JSON`);
    }
    if (typeof rec.key !== "string" || typeof rec.value !== "string")
      throw new Error(`line ${line}: needs "key" and "value" strings`);
    if (!lasting(rec.key)) continue;
    await s.put(rec.key, rec.value);
    n++;
  }
  return n;
}
