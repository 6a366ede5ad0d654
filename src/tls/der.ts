/**
 * The little of DER (X.690) that OCSP needs: reading tag-length-value elements, and
 * writing them. Lengths in the long form; indefinite lengths do not exist in DER.
 */

/** One element: its tag, where its content lies in `buf`, and where it ends. */
export interface Tlv {
  tag: number;
  start: number;
  end: number;
  /** Where the element itself (tag included) starts. */
  at: number;
}

/** The element at `p`; throws on malformed input. */
export function readTlv(buf: Uint8Array, p: number, limit = buf.length): Tlv {
  if (p + 2 > limit) throw new Error("DER: truncated");
  const tag = buf[p]!;
  let len = buf[p + 1]!;
  let q = p + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || q + n > limit) throw new Error("DER: bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[q + i]!;
    q += n;
  }
  if (q + len > limit) throw new Error("DER: truncated");
  return { tag, start: q, end: q + len, at: p };
}

/** The elements inside a constructed element. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end; ) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** An element with `tag` around `content`. */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  let head: number[];
  if (n < 0x80) head = [tag, n];
  else if (n < 0x100) head = [tag, 0x81, n];
  else if (n < 0x10000) head = [tag, 0x82, n >> 8, n & 0xff];
  else head = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(head), body]);
}

/** The whole element (tag and length included) as a slice. */
export function raw(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.at, t.end);
}

/** A GeneralizedTime (YYYYMMDDHHMMSSZ) as milliseconds since the epoch. */
export function generalizedTime(buf: Uint8Array, t: Tlv): number {
  const s = Buffer.from(buf.subarray(t.start, t.end)).toString("latin1");
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/.exec(s);
  if (!m) throw new Error("DER: bad GeneralizedTime");
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}
