/**
 * Response header fields prepared once and sent many times (a cached file's validators,
 * type and policy): what they are, and their HTTP/1.1 lines already serialized, so the
 * hot path appends one string instead of building each line again.
 */
export class FieldBlock {
  readonly names: readonly string[];
  readonly values: readonly string[];
  /** Lower-case names, to see whether a field set elsewhere clashes with one of these. */
  readonly keys: ReadonlySet<string>;
  /** The names lower-cased, in order (as HTTP/2 sends them). */
  readonly lowerNames: readonly string[];
  /** `Name: value\r\n` for each field. */
  readonly h1: string;

  constructor(fields: readonly (readonly [string, string | undefined])[]) {
    const names: string[] = [];
    const values: string[] = [];
    let h1 = "";
    for (const [name, value] of fields) {
      if (value === undefined) continue;
      if (/[\r\n\0]/.test(value)) throw new TypeError(`invalid character in the value of ${name}`);
      names.push(name);
      values.push(value);
      h1 += `${name}: ${value}\r\n`;
    }
    this.names = names;
    this.values = values;
    this.lowerNames = names.map((n) => n.toLowerCase());
    this.keys = new Set(this.lowerNames);
    this.h1 = h1;
  }
}

/** A body held in memory for repeated sending; `latin1` is the same bytes as a string, for engines that write strings. */
export interface PreparedBody {
  readonly bytes: Buffer;
  readonly latin1?: string | undefined;
}
