import { HeadError, TOKEN } from "./h1-parse.ts";

/**
 * Decodes a chunked request body (RFC 9112 §7.1) as bytes arrive, however they are split.
 * Data comes out as slices of the input (no copies); chunk extensions are checked and
 * dropped; trailer fields are checked and dropped (wharf forwards none). Strict as llhttp
 * is: no whitespace in the size line, CRLF after every chunk's data.
 */

const CR = 13;
const LF = 10;
/** Longest chunk-size line (size and extensions) taken. */
const MAX_SIZE_LINE = 4096;
/** Hex digits in a chunk size: 12 is 256 TiB, beyond any body limit. */
const MAX_SIZE_DIGITS = 12;

const S_SIZE = 0;
const S_EXT = 1;
const S_SIZE_LF = 2;
const S_DATA = 3;
const S_DATA_CR = 4;
const S_DATA_LF = 5;
const S_TRAILER = 6;
const S_TRAILER_LF = 7;
const S_DONE = 8;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[65 + c] = 10 + c;
  HEX[97 + c] = 10 + c;
}

export class ChunkedDecoder {
  #state = S_SIZE;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  #lineLength = 0;
  /** The current size line's extensions, checked once the line is complete. */
  #ext = "";
  /** The current trailer line, checked once complete; total trailer bytes. */
  #trailer = "";
  #trailerBytes = 0;
  readonly #maxTrailer: number;
  /** The trailer fields, once the body has ended (name, value). */
  readonly trailers: [string, string][] = [];

  constructor(maxTrailerBytes: number) {
    this.#maxTrailer = maxTrailerBytes;
  }

  get done(): boolean {
    return this.#state === S_DONE;
  }

  /**
   * Decodes `buf[start, end)`, handing each run of body bytes to `onData`. Returns how many
   * bytes it used: all of them, or fewer when the body ended (the rest is the next request).
   * Throws a HeadError (400) on malformed framing.
   */
  feed(buf: Buffer, start: number, end: number, onData: (data: Buffer) => void): number {
    let p = start;
    while (p < end && this.#state !== S_DONE) {
      switch (this.#state) {
        case S_DATA: {
          const n = Math.min(this.#remaining, end - p);
          onData(buf.subarray(p, p + n));
          p += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = S_DATA_CR;
          break;
        }
        case S_SIZE: {
          const c = buf[p]!;
          const h = HEX[c]!;
          if (h >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) throw new HeadError(400, "chunk size too large");
            this.#size = this.#size * 16 + h;
          } else if (this.#digits === 0) throw new HeadError(400, "invalid chunk size");
          else if (c === 59 /* ; */) {
            this.#state = S_EXT;
            this.#ext = ";";
          } else if (c === CR) this.#state = S_SIZE_LF;
          else throw new HeadError(400, "invalid chunk size");
          p++;
          this.#countLine();
          break;
        }
        case S_EXT: {
          const lineEnd = buf.indexOf(CR, p);
          const stop = lineEnd === -1 || lineEnd >= end ? end : lineEnd;
          this.#ext += buf.toString("latin1", p, stop);
          this.#lineLength += stop - p;
          if (this.#lineLength > MAX_SIZE_LINE) throw new HeadError(400, "chunk extensions too long");
          p = stop;
          if (p < end) {
            if (!validExtensions(this.#ext)) throw new HeadError(400, "invalid chunk extension");
            this.#state = S_SIZE_LF;
            p++;
          }
          break;
        }
        case S_SIZE_LF:
          if (buf[p] !== LF) throw new HeadError(400, "expected LF after chunk size");
          p++;
          this.#lineLength = 0;
          this.#digits = 0;
          this.#ext = "";
          if (this.#size === 0) this.#state = S_TRAILER;
          else {
            this.#remaining = this.#size;
            this.#size = 0;
            this.#state = S_DATA;
          }
          break;
        case S_DATA_CR:
          if (buf[p] !== CR) throw new HeadError(400, "expected CRLF after chunk data");
          p++;
          this.#state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (buf[p] !== LF) throw new HeadError(400, "expected CRLF after chunk data");
          p++;
          this.#state = S_SIZE;
          break;
        case S_TRAILER: {
          const lineEnd = buf.indexOf(CR, p);
          const stop = lineEnd === -1 || lineEnd >= end ? end : lineEnd;
          this.#trailer += buf.toString("latin1", p, stop);
          this.#trailerBytes += stop - p;
          if (this.#trailerBytes > this.#maxTrailer) throw new HeadError(431, "trailer section too large");
          p = stop;
          if (p < end) {
            if (this.#trailer !== "" && !validFieldLine(this.#trailer))
              throw new HeadError(400, "invalid trailer field");
            if (FRAMING_TRAILER.test(this.#trailer)) throw new HeadError(400, "framing field in trailer");
            this.#state = S_TRAILER_LF;
            p++;
          }
          break;
        }
        case S_TRAILER_LF: {
          if (buf[p] !== LF) throw new HeadError(400, "expected LF in trailer section");
          p++;
          const last = this.#trailer === "";
          if (!last) {
            const colon = this.#trailer.indexOf(":");
            this.trailers.push([this.#trailer.slice(0, colon), this.#trailer.slice(colon + 1).trim()]);
          }
          this.#trailer = "";
          this.#state = last ? S_DONE : S_TRAILER;
          break;
        }
      }
    }
    return p - start;
  }

  #countLine(): void {
    if (++this.#lineLength > MAX_SIZE_LINE) throw new HeadError(400, "chunk size line too long");
  }
}

/**
 * chunk-ext = *( ";" ext-name [ "=" ext-val ] ), ext-val = token / quoted-string,
 * without the BWS RFC 9112 §7.1.1 tolerates (llhttp refuses it too).
 */
function validExtensions(s: string): boolean {
  let i = 0;
  while (i < s.length) {
    if (s.charCodeAt(i) !== 59) return false;
    i++;
    const n = i;
    while (i < s.length && TOKEN[s.charCodeAt(i)] === 1) i++;
    if (i === n) return false;
    if (i < s.length && s.charCodeAt(i) === 61 /* = */) {
      i++;
      if (s.charCodeAt(i) === 34 /* " */) {
        i++;
        for (;;) {
          if (i >= s.length) return false;
          const c = s.charCodeAt(i);
          if (c === 34) break;
          if (c === 92 /* \ */) {
            const q = s.charCodeAt(i + 1);
            if (!(q === 9 || (q >= 0x20 && q !== 0x7f))) return false;
            i += 2;
            continue;
          }
          if (!(c === 9 || c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80)) return false;
          i++;
        }
        i++;
      } else {
        const v = i;
        while (i < s.length && TOKEN[s.charCodeAt(i)] === 1) i++;
        if (i === v) return false;
      }
    }
  }
  return true;
}

/** Fields that frame a message cannot come after it (RFC 9110 §6.5.1); llhttp refuses them too. */
const FRAMING_TRAILER = /^(content-length|transfer-encoding)\s*:/i;

/** A trailer field line: token ":" OWS value OWS, value octets as in headers. */
function validFieldLine(s: string): boolean {
  let i = 0;
  while (i < s.length && TOKEN[s.charCodeAt(i)] === 1) i++;
  if (i === 0 || s.charCodeAt(i) !== 58) return false;
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(c === 9 || (c >= 0x20 && c !== 0x7f))) return false;
  }
  return true;
}
