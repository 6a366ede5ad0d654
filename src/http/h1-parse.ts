import { latin1 } from "./latin1.ts";

/**
 * The HTTP/1.1 request-head parser of wharf's own engine: strict RFC 9112, on Buffers,
 * without copies beyond the strings a request needs. Pure functions: the connection
 * decides when to call them (see `scanHead`), the fuzzers call them directly.
 *
 * Where it is stricter than llhttp (Node's parser), deliberately, `H1_STRICTER` lists
 * the case and its RFC reason; the differential tests hold it to that list.
 */

/** A parsed request head, with the framing facts the connection needs. */
export interface RequestHead {
  method: string;
  /** The request-target exactly as sent. */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Header lines as received: name, value, name, value… (values without surrounding OWS). */
  headers: string[];
  /** The lower-case name of each field, in order (one per field, not per pair). */
  names: string[];
  /** Declared Content-Length, or -1 when there is none. */
  contentLength: number;
  /** `Transfer-Encoding: chunked`. */
  chunked: boolean;
  /** Whether the connection may carry another request after this one. */
  keepAlive: boolean;
  /** `Connection: upgrade` with an `Upgrade` field: a protocol switch is asked for. */
  upgrade: boolean;
  /** `Expect: 100-continue`. */
  expectContinue: boolean;
  /** The Host field's value ("" when absent on HTTP/1.0). */
  host: string;
}

/** The limits a head is parsed under (bytes). */
export interface HeadLimits {
  maxUriLength: number;
  maxHeaderSize: number;
}

/** A head the parser refuses: the status to answer with (the connection then closes). */
export class HeadError {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string) {
    this.status = status;
    this.reason = reason;
  }
}

/** Methods wharf accepts: the ones llhttp knows. Other tokens get 501 (RFC 9110 §9.1). */
export const METHODS: ReadonlySet<string> = new Set(
  (
    "DELETE GET HEAD POST PUT CONNECT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH " +
    "SEARCH UNLOCK BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY " +
    "SUBSCRIBE UNSUBSCRIBE PATCH PURGE MKCALENDAR LINK UNLINK SOURCE QUERY"
  ).split(" "),
);

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** tchar (RFC 9110 §5.6.2). */
export const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TOKEN[c] = 1;
for (let c = 65; c <= 90; c++) TOKEN[c] = 1;
for (let c = 97; c <= 122; c++) TOKEN[c] = 1;

/** field-value octets: VCHAR, SP, HTAB, obs-text (RFC 9110 §5.5). */
const VALUE = new Uint8Array(256);
VALUE[HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1;

/** Request-target octets: visible ASCII (RFC 9112 §3.2; anything else is never valid). */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;

/** Where `scanHead` stopped; `reset` before each new head. */
export class HeadScan {
  /** Next byte to look at. */
  from = 0;
  /** Where the current line starts. */
  lineStart = 0;
  /** A non-empty line (the request-line) has ended. */
  sawLine = false;
  reset(start: number): void {
    this.from = start;
    this.lineStart = start;
    this.sawLine = false;
  }
}

/**
 * Finds where a head ends: scans `buf` up to `end` for the empty line that closes it,
 * continuing where the last call stopped. Returns the index just after it; -1 when more
 * bytes are needed; -2 when a line ends in a bare LF, which `parseHead` refuses. Each
 * byte is looked at once however the head arrives, so a client dribbling bytes cannot
 * make the server rescan (slowloris CPU amplification).
 */
export function scanHead(buf: Buffer, end: number, st: HeadScan): number {
  let i = st.from;
  for (;;) {
    const lf = buf.indexOf(LF, i);
    if (lf === -1 || lf >= end) {
      st.from = end;
      return -1;
    }
    if (lf === st.lineStart || buf[lf - 1] !== CR) return -2;
    if (lf - 1 === st.lineStart) {
      // An empty line: the end of the head, or one to skip before the request-line (RFC 9112 §2.2).
      if (st.sawLine) return lf + 1;
    } else st.sawLine = true;
    st.lineStart = lf + 1;
    i = lf + 1;
  }
}

/**
 * Parses a head in `buf[start, headEnd)`: complete as found by `scanHead`, or cut at a
 * bare LF (-2 from `scanHead`: pass the buffer's end), which is refused.
 * Returns the head, or a HeadError saying how to refuse it.
 */
export function parseHead(
  buf: Buffer,
  start: number,
  headEnd: number,
  limits: HeadLimits,
): RequestHead | HeadError {
  let p = start;
  // Empty lines before the request-line are ignored (RFC 9112 §2.2).
  while (p + 1 < headEnd && buf[p] === CR && buf[p + 1] === LF) p += 2;
  if (buf[p] === CR || buf[p] === LF) return new HeadError(400, "bare CR or LF before the request-line");

  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3): single spaces.
  const mStart = p;
  while (p < headEnd && TOKEN[buf[p]!] === 1) p++;
  if (p === mStart || buf[p] !== SP) return new HeadError(400, "malformed request-line");
  const method = methodName(buf, mStart, p);
  p++;
  if (buf[p] === SP) return new HeadError(400, "extra space in request-line");
  const tStart = p;
  while (p < headEnd && TARGET[buf[p]!] === 1) p++;
  if (p - tStart > limits.maxUriLength) return new HeadError(414, "request-target too long");
  if (p === tStart || buf[p] !== SP) {
    // `GET /path` and a line end is an HTTP/0.9 request (RFC 9112 §2.3 has it so).
    if (buf[p] === CR || buf[p] === LF) return new HeadError(400, "HTTP/0.9 is not served");
    return new HeadError(400, "malformed request-target");
  }
  if (buf[p + 1] === SP) return new HeadError(400, "extra space in request-line");
  // One string for the whole head; every piece is a slice of it (one native call, not one per field).
  const text = latin1(buf, start, headEnd);
  const target = text.slice(tStart - start, p - start);
  p++;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF.
  if (
    buf[p] !== 72 ||
    buf[p + 1] !== 84 ||
    buf[p + 2] !== 84 ||
    buf[p + 3] !== 80 ||
    buf[p + 4] !== 47 ||
    !isDigit(buf[p + 5]) ||
    buf[p + 6] !== 46 ||
    !isDigit(buf[p + 7]) ||
    buf[p + 8] !== CR ||
    buf[p + 9] !== LF
  )
    return new HeadError(400, "malformed HTTP-version");
  const major = buf[p + 5]! - 48;
  const minor = buf[p + 7]! - 48;
  if (major === 0) return new HeadError(400, "HTTP/0.9 is not served");
  if (major !== 1 || minor > 1) return new HeadError(505, "HTTP version not supported");
  p += 10;
  // Only now: a method token we do not know is a well-formed request we do not implement.
  if (method === undefined) return new HeadError(501, "unknown method");

  const headers: string[] = [];
  const names: string[] = [];
  let contentLength = -1;
  let te: string | undefined;
  let host: string | undefined;
  let hosts = 0;
  let connClose = false;
  let connKeepAlive = false;
  let connUpgrade = false;
  let hasUpgrade = false;
  let expectContinue = false;
  const headerStart = p;

  // field-line = field-name ":" OWS field-value OWS, CRLF-terminated (RFC 9112 §5).
  while (!(buf[p] === CR && buf[p + 1] === LF)) {
    const nStart = p;
    while (TOKEN[buf[p]!] === 1) p++;
    if (buf[p] !== COLON) {
      if (p === nStart && (buf[p] === SP || buf[p] === HTAB)) return new HeadError(400, "obs-fold");
      if (buf[p] === SP || buf[p] === HTAB) return new HeadError(400, "whitespace before colon");
      return new HeadError(400, "malformed field name");
    }
    if (p === nStart) return new HeadError(400, "empty field name");
    const nEnd = p;
    p++;
    while (buf[p] === SP || buf[p] === HTAB) p++;
    const vStart = p;
    while (VALUE[buf[p]!] === 1) p++;
    if (buf[p] !== CR || buf[p + 1] !== LF) return new HeadError(400, "invalid octet in field value");
    let vEnd = p;
    while (vEnd > vStart && (buf[vEnd - 1] === SP || buf[vEnd - 1] === HTAB)) vEnd--;
    p += 2;
    if (p - headerStart > limits.maxHeaderSize) return new HeadError(431, "header section too large");

    const known = knownName(buf, nStart, nEnd);
    const name = known?.exact ? known.canonical : text.slice(nStart - start, nEnd - start);
    const lower = known !== undefined ? known.lower : name.toLowerCase();
    const value = text.slice(vStart - start, vEnd - start);
    headers.push(name, value);
    names.push(lower);
    if (known === undefined) continue;
    switch (lower) {
      case "host":
        hosts++;
        host = value;
        break;
      case "content-length":
        if (contentLength !== -1) return new HeadError(400, "repeated Content-Length");
        contentLength = parseLength(value);
        if (contentLength === -2) return new HeadError(400, "invalid Content-Length");
        if (contentLength === -3) return new HeadError(413, "Content-Length too large");
        break;
      case "transfer-encoding":
        te = te === undefined ? value : `${te}, ${value}`;
        break;
      case "connection":
        for (const token of value.toLowerCase().split(",")) {
          const t = token.trim();
          if (t === "close") connClose = true;
          else if (t === "keep-alive") connKeepAlive = true;
          else if (t === "upgrade") connUpgrade = true;
        }
        break;
      case "upgrade":
        hasUpgrade = true;
        break;
      case "expect":
        if (value.toLowerCase() === "100-continue") expectContinue = true;
        break;
    }
  }

  let chunked = false;
  if (te !== undefined) {
    // RFC 9112 §6.1: Transfer-Encoding is HTTP/1.1; with Content-Length it is smuggling bait.
    if (minor === 0) return new HeadError(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (contentLength !== -1) return new HeadError(400, "both Transfer-Encoding and Content-Length");
    const codings = te.toLowerCase().split(",");
    // RFC 9112 §6.3: chunked must be the final coding, else the length is unknowable.
    if (codings[codings.length - 1]!.trim() !== "chunked") return new HeadError(400, "chunked is not final");
    if (codings.length > 1) {
      // RFC 9112 §6.1: chunked is applied once; twice is broken framing, not a coding we lack.
      for (let i = 0; i < codings.length - 1; i++)
        if (codings[i]!.trim() === "chunked") return new HeadError(400, "chunked applied twice");
      return new HeadError(501, "transfer coding not implemented");
    }
    chunked = true;
  }
  if (hosts > 1) return new HeadError(400, "repeated Host");
  if (hosts === 0 && minor === 1) return new HeadError(400, "missing Host");

  return {
    method,
    target,
    minor,
    headers,
    names,
    contentLength,
    chunked,
    keepAlive: minor === 1 ? !connClose : connKeepAlive && !connClose,
    upgrade: connUpgrade && hasUpgrade,
    expectContinue,
    host: host ?? "",
  };
}

/** A header name wharf knows: its usual spelling and its lower-case form. */
interface KnownName {
  canonical: string;
  lower: string;
  /** Whether the bytes matched `canonical` exactly (else only case-insensitively). */
  exact: boolean;
}

const KNOWN_BY_LENGTH: KnownName[][] = [];
for (const canonical of [
  "Host",
  "Content-Length",
  "Transfer-Encoding",
  "Connection",
  "Upgrade",
  "Expect",
  "Accept",
  "Accept-Encoding",
  "Accept-Language",
  "User-Agent",
  "Referer",
  "Cookie",
  "Cache-Control",
  "Pragma",
  "If-None-Match",
  "If-Modified-Since",
  "If-Match",
  "If-Unmodified-Since",
  "If-Range",
  "Range",
  "Content-Type",
  "Origin",
  "Authorization",
  "Upgrade-Insecure-Requests",
  "Sec-Fetch-Site",
  "Sec-Fetch-Mode",
  "Sec-Fetch-Dest",
  "Sec-Fetch-User",
  "X-Forwarded-For",
  "X-Forwarded-Proto",
  "X-Forwarded-Host",
  "X-Request-Id",
  "Priority",
  "DNT",
  "TE",
]) {
  let list = KNOWN_BY_LENGTH[canonical.length];
  if (list === undefined) {
    list = [];
    KNOWN_BY_LENGTH[canonical.length] = list;
  }
  list.push({ canonical, lower: canonical.toLowerCase(), exact: true });
}
const caseOnly = new Map<KnownName, KnownName>();

/**
 * The known header name the bytes spell, compared case-insensitively without making a
 * string; undefined for other names.
 */
function knownName(buf: Buffer, s: number, e: number): KnownName | undefined {
  const list = KNOWN_BY_LENGTH[e - s];
  if (list === undefined) return undefined;
  for (const k of list) {
    const c = k.canonical;
    let exact = true;
    let i = 0;
    for (; i < c.length; i++) {
      const b = buf[s + i]!;
      const want = c.charCodeAt(i);
      if (b === want) continue;
      if ((b | 0x20) !== (want | 0x20) || (want | 0x20) < 97 || (want | 0x20) > 122) break;
      exact = false;
    }
    if (i < c.length) continue;
    if (exact) return k;
    let other = caseOnly.get(k);
    if (other === undefined) {
      other = { canonical: k.canonical, lower: k.lower, exact: false };
      caseOnly.set(k, other);
    }
    return other;
  }
  return undefined;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

/** Content-Length = 1*DIGIT; -2 when malformed, -3 when beyond any size wharf takes. */
function parseLength(v: string): number {
  if (v.length === 0) return -2;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -2;
    n = n * 10 + c;
  }
  return n > Number.MAX_SAFE_INTEGER ? -3 : n;
}

/** The method as an interned string, or undefined for a token wharf does not know. */
function methodName(buf: Buffer, s: number, e: number): string | undefined {
  // The two that matter for speed, without making a string.
  if (e - s === 3 && buf[s] === 71 && buf[s + 1] === 69 && buf[s + 2] === 84) return "GET";
  if (e - s === 4 && buf[s] === 72 && buf[s + 1] === 69 && buf[s + 2] === 65 && buf[s + 3] === 68)
    return "HEAD";
  const m = buf.toString("latin1", s, e);
  return METHODS.has(m) ? m : undefined;
}

/**
 * Where wharf's parser deliberately refuses what llhttp accepts, each with its reason.
 * The differential tests classify every disagreement by these names.
 */
export const H1_STRICTER = {
  "missing-host": "RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host",
  "repeated-host": "RFC 9112 §3.2: … or with more than one Host field",
  "te-http10": "RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing",
  "te-not-chunked":
    "RFC 9112 §6.1/§6.3: only chunked is implemented (501 for other codings, 400 when chunked is not final)",
  "request-line-spaces": "RFC 9112 §3: request-line = method SP request-target SP HTTP-version (one SP each)",
  "http-version": "RFC 9112 §2.3: HTTP/0.9 is not served (400); other versions than 1.x get 505",
  "unknown-method": "RFC 9110 §9.1: an unrecognized method gets 501 (llhttp refuses it too, with 400)",
  limits:
    "wharf's own limits: request-target over max_uri_length → 414, header section over max_header_size → 431, body over max_body_size → 413",
  "host-syntax":
    "RFC 9110 §7.2, RFC 3986 §3.2: a Host (or absolute-form authority) that is not a valid authority gets 400",
  connect: "RFC 9110 §9.3.6: CONNECT is for proxies; wharf is not one and answers 405",
  "chunk-ext":
    "RFC 9112 §7.1.1: a chunk extension's name is a token and its value a token or quoted-string; empty ones are refused",
  "stray-line-end":
    "RFC 9112 §2.2: empty lines (CRLF) before a request-line are skipped; a bare CR or LF there is refused",
} as const;
