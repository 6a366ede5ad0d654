import type { AgeFacts, StaleRules } from "./policy.ts";

/** A stored response: enough to replay it, age it and pick it by Vary. */
export interface StoredResponse {
  status: number;
  /** Its fields as relayed (no hop-by-hop ones, no Date, Server or Age). */
  headers: [string, string][];
  body: Buffer;
  age: AgeFacts;
  /** Freshness lifetime, seconds. */
  lifetime: number;
  stale: StaleRules;
  /** The request fields its Vary names (lower-case), and their values when it was stored. */
  varyNames: string[];
  varyValues: (string | undefined)[];
}

/** Bytes a stored response takes, roughly (body, fields, bookkeeping). */
export function sizeOf(r: StoredResponse): number {
  let n = r.body.length + 200;
  for (const [k, v] of r.headers) n += k.length + v.length + 16;
  return n;
}

/** Normalizes a request field value for Vary matching (§4.1: whitespace and case of the list). */
export function varyValue(v: string | undefined): string | undefined {
  return v?.trim().replace(/\s*,\s*/g, ",");
}

/**
 * Stored responses by primary key (method-less URI), each with its Vary variants, least
 * recently used first: the total stays under `maxBytes` (entries evicted from the cold
 * end). The same structure serves a worker's local copy and the primary's shared store.
 */
export class Zone {
  readonly #entries = new Map<string, StoredResponse[]>();
  #bytes = 0;
  maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }
  get size(): number {
    return this.#entries.size;
  }

  /** Every variant stored for `key` (refreshing its place in the LRU). */
  variants(key: string): StoredResponse[] {
    const list = this.#entries.get(key);
    if (list === undefined) return [];
    this.#entries.delete(key);
    this.#entries.set(key, list);
    return list;
  }

  /** The variant whose Vary'd request fields equal the request's. */
  select(key: string, header: (name: string) => string | undefined): StoredResponse | undefined {
    return this.variants(key).find((r) =>
      r.varyNames.every((name, i) => varyValue(header(name)) === r.varyValues[i]),
    );
  }

  /** Stores `r`, replacing the variant with the same Vary'd values. */
  put(key: string, r: StoredResponse): void {
    const size = sizeOf(r);
    if (size > this.maxBytes) return;
    const list = (this.#entries.get(key) ?? []).filter((old) => {
      const same =
        old.varyNames.join(",") === r.varyNames.join(",") &&
        old.varyValues.every((v, i) => v === r.varyValues[i]);
      if (same) this.#bytes -= sizeOf(old);
      return !same;
    });
    list.push(r);
    this.#bytes += size;
    this.#entries.delete(key);
    this.#entries.set(key, list);
    this.#evict();
  }

  /** Forgets `key`, or every key starting with `prefix`; returns how many went. */
  delete(key: string | undefined, prefix?: string): number {
    let n = 0;
    for (const [k, list] of this.#entries) {
      if (k !== key && !(prefix !== undefined && k.startsWith(prefix))) continue;
      for (const r of list) this.#bytes -= sizeOf(r);
      this.#entries.delete(k);
      n++;
    }
    return n;
  }

  #evict(): void {
    for (const [k, list] of this.#entries) {
      if (this.#bytes <= this.maxBytes) return;
      for (const r of list) this.#bytes -= sizeOf(r);
      this.#entries.delete(k);
    }
  }
}
