import type { FileEntry } from "./file-entry.ts";

/** A cached lookup: the file a URL path resolved to, and the Cache-Control its path gets. */
export interface Slot {
  entry: FileEntry;
  cacheControl: string | undefined;
}

/**
 * URL path → resolved file, bounded by entry count and by bytes held. Eviction is by age
 * of last (re)validation: an entry moves to the young end each time it is checked against
 * the disk, so hot files stay without a reorder on every hit.
 */
export class FileCache {
  readonly #slots = new Map<string, Slot>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  get(key: string): Slot | undefined {
    return this.#slots.get(key);
  }

  set(key: string, slot: Slot): void {
    const old = this.#slots.get(key);
    if (old) {
      this.#slots.delete(key);
      this.#bytes -= old.entry.bytes;
    }
    this.#slots.set(key, slot);
    this.#bytes += slot.entry.bytes;
    this.#evict();
  }

  /** Call after an entry's `bytes` grew (a compressed copy was added). */
  grew(entry: FileEntry, by: number): void {
    entry.bytes += by;
    this.#bytes += by;
    this.#evict();
  }

  delete(key: string): void {
    const old = this.#slots.get(key);
    if (!old) return;
    this.#slots.delete(key);
    this.#bytes -= old.entry.bytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  #evict(): void {
    while (this.#slots.size > this.#maxEntries || (this.#bytes > this.#maxBytes && this.#slots.size > 1)) {
      const oldest = this.#slots.keys().next().value;
      if (oldest === undefined) return;
      this.delete(oldest);
    }
  }
}
