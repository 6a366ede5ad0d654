import type { HeaderValue } from "./exchange.ts";

/** Lower-case forms of the names handlers use, so the hot path does not re-lower constants. */
const lowered = new Map<string, string>();
function lower(name: string): string {
  let l = lowered.get(name);
  if (l === undefined) {
    l = name.toLowerCase();
    if (lowered.size < 2000) lowered.set(name, l);
  }
  return l;
}

/** CR, LF and NUL would split or end the head (response splitting). */
const UNSAFE = /[\r\n\0]/;

function check(name: string, value: string): void {
  if (UNSAFE.test(value)) throw new TypeError(`invalid character in the value of response header ${name}`);
}

/**
 * A response's header fields: names as given, compared case-insensitively; a value is one
 * string or several (repeated fields). Kept in arrays: a response has a dozen fields at
 * most, and a scan beats hashing at that size.
 */
export class ResponseHeaders {
  readonly names: string[] = [];
  readonly keys: string[] = [];
  readonly values: HeaderValue[] = [];

  #index(key: string): number {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) return i;
    return -1;
  }

  get(name: string): HeaderValue | undefined {
    const i = this.#index(lower(name));
    return i === -1 ? undefined : this.values[i];
  }

  /** The index of the field named `name`; -1 when there was none and it was added with `value`. */
  #findOrAdd(name: string, value: HeaderValue): number {
    const key = lower(name);
    const i = this.#index(key);
    if (i === -1) {
      this.names.push(name);
      this.keys.push(key);
      this.values.push(value);
    }
    return i;
  }

  set(name: string, value: HeaderValue): void {
    if (typeof value === "string") check(name, value);
    else for (const v of value) check(name, v);
    const i = this.#findOrAdd(name, value);
    if (i !== -1) {
      this.names[i] = name;
      this.values[i] = value;
    }
  }

  append(name: string, value: string): void {
    check(name, value);
    const i = this.#findOrAdd(name, value);
    if (i !== -1) {
      const cur = this.values[i]!;
      this.values[i] = typeof cur === "string" ? [cur, value] : [...cur, value];
    }
  }

  remove(name: string): void {
    const i = this.#index(lower(name));
    if (i === -1) return;
    this.names.splice(i, 1);
    this.keys.splice(i, 1);
    this.values.splice(i, 1);
  }

  /** Whether any field here has one of `keys` (lower-case) as its name. */
  clashes(keys: ReadonlySet<string>): boolean {
    for (const k of this.keys) if (keys.has(k)) return true;
    return false;
  }

  /** The fields as HTTP/1.1 header lines (`Name: value\r\n` each). */
  toHead(): string {
    let s = "";
    const names = this.names;
    const values = this.values;
    for (let i = 0; i < names.length; i++) {
      const v = values[i]!;
      if (typeof v === "string") s += `${names[i]}: ${v}\r\n`;
      else for (const one of v) s += `${names[i]}: ${one}\r\n`;
    }
    return s;
  }
}
