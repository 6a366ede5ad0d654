import type { Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { type Coding, SIDECAR_SUFFIX } from "../../http/content-coding.ts";
import { mimeFor } from "../../http/mime.ts";
import type { RepFields } from "./rep-fields.ts";

/** One way of sending a file's content: identity, a sidecar, or a compressed copy. */
export interface Representation {
  coding: Coding | undefined;
  etag: string;
  size: number;
  /** The bytes, when they are in memory. */
  body: Buffer | undefined;
  /** The file to stream them from, when they are not. */
  path: string | undefined;
  /** Its response fields, prepared at first use (see rep-fields.ts). */
  fields?: RepFields | undefined;
}

/** What wharf knows about one file: validators, type, content when small, its variants. */
export interface FileEntry {
  path: string;
  size: number;
  ino: number;
  mtimeMs: number;
  mtimeSec: number;
  lastModified: string;
  type: string;
  compressible: boolean;
  identity: Representation;
  /** Precompressed sidecars found next to the file, in the configured preference order. */
  sidecars: Map<Coding, Representation>;
  /** Compressed copies made on the fly (a pending promise while being made; null: not worth it). */
  compressed: Map<Coding, Promise<Representation | null> | Representation | null>;
  /** Codings this entry can be sent in, in preference order (sidecars and on-the-fly). */
  codings: Coding[];
  /** When the disk was last checked (performance.now()). */
  checkedAt: number;
  /** Bytes held in memory for this entry. */
  bytes: number;
}

/** Strong ETag from inode, size and mtime: stable across workers and restarts. */
export function makeEtag(st: Pick<Stats, "ino" | "size" | "mtimeMs">, suffix = ""): string {
  return `"${st.ino.toString(16)}-${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}${suffix}"`;
}

export interface EntryOptions {
  precompressed: readonly Coding[];
  compress: { enabled: boolean; encodings: readonly Coding[]; minSize: number };
  maxInMemory: number;
}

/** Builds the entry for a file just stat'ed: reads it when small, looks for sidecars. */
export async function buildEntry(
  path: string,
  st: Stats,
  opts: EntryOptions,
  now: number,
): Promise<FileEntry> {
  const mime = mimeFor(path);
  const body = st.size <= opts.maxInMemory ? await readFile(path) : undefined;
  // The file may have changed between stat and read; trust what was read.
  const size = body ? body.length : st.size;
  const identity: Representation = {
    coding: undefined,
    etag: makeEtag({ ino: st.ino, size, mtimeMs: st.mtimeMs }),
    size,
    body,
    path: body ? undefined : path,
  };
  const sidecars = new Map<Coding, Representation>();
  for (const coding of opts.precompressed) {
    const sidePath = path + SIDECAR_SUFFIX[coding];
    const sst = await stat(sidePath).catch(() => undefined);
    if (!sst?.isFile()) continue;
    const sbody = sst.size <= opts.maxInMemory ? await readFile(sidePath) : undefined;
    sidecars.set(coding, {
      coding,
      etag: makeEtag(sst, `-${coding}`),
      size: sbody ? sbody.length : sst.size,
      body: sbody,
      path: sbody ? undefined : sidePath,
    });
  }
  const codings: Coding[] = [...sidecars.keys()];
  if (opts.compress.enabled && mime.compressible && size >= opts.compress.minSize) {
    for (const c of opts.compress.encodings) if (!codings.includes(c)) codings.push(c);
  }
  let bytes = body?.length ?? 0;
  for (const r of sidecars.values()) bytes += r.body?.length ?? 0;
  return {
    path,
    size,
    ino: st.ino,
    mtimeMs: st.mtimeMs,
    mtimeSec: Math.floor(st.mtimeMs / 1000),
    lastModified: new Date(st.mtimeMs).toUTCString(),
    type: mime.type,
    compressible: mime.compressible,
    identity,
    sidecars,
    compressed: new Map(),
    codings,
    checkedAt: now,
    bytes,
  };
}

/** Whether the file on disk (and its sidecars) still match the entry. */
export async function entryIsCurrent(entry: FileEntry, precompressed: readonly Coding[]): Promise<boolean> {
  const st = await stat(entry.path).catch(() => undefined);
  if (!st?.isFile() || st.ino !== entry.ino || st.size !== entry.size || st.mtimeMs !== entry.mtimeMs)
    return false;
  for (const coding of precompressed) {
    const side = entry.sidecars.get(coding);
    const sst = await stat(entry.path + SIDECAR_SUFFIX[coding]).catch(() => undefined);
    const exists = sst?.isFile() === true;
    if (exists !== (side !== undefined)) return false;
    if (side && sst && side.etag !== makeEtag(sst, `-${coding}`)) return false;
  }
  return true;
}
