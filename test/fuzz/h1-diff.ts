/**
 * Differential testing of wharf's HTTP/1.1 engine against llhttp (Node's own parser, the
 * reference). The same request bytes, split the same way, go to both: to llhttp through
 * `HTTPParser` (in process, as node:http drives it), and to wharf's real connection code
 * on an in-memory socket. Both must agree on what they accept and on every parsed message
 * (method, target, version, header lines, body), except where wharf is deliberately
 * stricter: `H1_STRICTER` names those cases, and each refusal is classified by the reason
 * the connection logs.
 */
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { createLogger } from "../../src/core/logger.ts";
import type { Exchange } from "../../src/http/exchange.ts";
import { H1Connections } from "../../src/http/h1-engine.ts";
import type { H1_STRICTER } from "../../src/http/h1-parse.ts";
import { DEFAULT_LIMITS, type HttpLimits } from "../../src/http/limits.ts";
import { routeTarget } from "../../src/http/target.ts";

const require = createRequire(import.meta.url);
const { HTTPParser, methods: METHOD_NAMES } = require("node:_http_common") as {
  HTTPParser: LlhttpParserClass;
  methods: string[];
};

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | (Error & { code?: string });
  close(): void;
  [key: number]: unknown;
}
interface LlhttpParserClass {
  new (): LlhttpParser;
  REQUEST: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

/** One parsed request, as both sides report it. */
export interface Message {
  method: string;
  /** The origin-form target (absolute-form resolved the way wharf routes it). */
  target: string;
  version: string;
  headers: string[];
  /** The body, latin1. */
  body: string;
  /** The connection stays open after it. */
  keepAlive: boolean;
  upgrade: boolean;
}

/** What one side made of the bytes. */
export interface Outcome {
  messages: Message[];
  /** It refused the input (llhttp: a parse error; wharf: a 4xx/5xx and close). */
  rejected: boolean;
  /** Why (wharf: the connection's logged reason; llhttp: its error code). */
  reason: string | undefined;
}

/** The limits of the comparison: wharf's defaults, which llhttp is not held to. */
export const LIMITS: HttpLimits = { ...DEFAULT_LIMITS };

/** llhttp's reading of `parts`. */
export function runLlhttp(parts: Buffer[]): Outcome {
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, 1 << 24, 0);
  const messages: Message[] = [];
  let pendingHeaders: string[] = [];
  let pendingUrl = "";
  let current: Message | undefined;
  let body: Buffer[] = [];
  p[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    // While a message is in progress these are its trailer fields, which neither side keeps.
    if (current !== undefined) return;
    pendingHeaders = pendingHeaders.concat(headers);
    pendingUrl += url;
  };
  p[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    headers: string[] | undefined,
    method: number,
    url: string | undefined,
    _status: unknown,
    _msg: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    // As node:http reads it: what was flushed early, when the call does not carry it.
    const all = headers ?? pendingHeaders;
    const raw = url ?? pendingUrl;
    pendingHeaders = [];
    pendingUrl = "";
    current = {
      method: METHOD_NAMES[method] ?? "?",
      target: raw,
      version: `${major}.${minor}`,
      headers: all,
      body: "",
      keepAlive,
      upgrade,
    };
    body = [];
    return 0;
  };
  p[HTTPParser.kOnBody] = (b: Buffer) => {
    body.push(Buffer.from(b));
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    if (!current) return;
    current.body = Buffer.concat(body).toString("latin1");
    messages.push(current);
    current = undefined;
  };
  try {
    for (const part of parts) {
      const r = p.execute(part);
      if (r instanceof Error) {
        // An upgrade pauses the parser: not a refusal, the rest is another protocol's.
        if (r.code === "HPE_PAUSED_UPGRADE" || r.code === "HPE_PAUSED_H2_UPGRADE")
          return { messages, rejected: r.code === "HPE_PAUSED_H2_UPGRADE", reason: r.code };
        return { messages, rejected: true, reason: r.code };
      }
      if (messages.at(-1)?.upgrade) break;
    }
    return { messages, rejected: false, reason: undefined };
  } finally {
    // The native parser is not collected with its wrapper.
    p.close();
  }
}

/** Just enough of a socket for the engine; records what is written and whether it closed. */
class MemorySocket extends EventEmitter {
  remoteAddress = "127.0.0.1";
  remotePort = 40000;
  out: Buffer[] = [];
  closed = false;
  write(data: Buffer | string): boolean {
    this.out.push(typeof data === "string" ? Buffer.from(data, "latin1") : data);
    return true;
  }
  cork() {}
  uncork() {}
  pause() {}
  resume() {}
  setNoDelay() {}
  end() {
    this.#close();
  }
  destroy() {
    this.#close();
  }
  #close() {
    if (this.closed) return;
    this.closed = true;
    queueMicrotask(() => this.emit("close"));
  }
}

/** Lets queued stream events and promises run until nothing moves. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

/** wharf's reading of `parts`, through its real connection code. */
export async function runWharf(parts: Buffer[], limits: HttpLimits = LIMITS): Promise<Outcome> {
  const messages: Message[] = [];
  let reason: string | undefined;
  const log = createLogger({
    level: "debug",
    sink: (line) => {
      const rec = JSON.parse(line) as { msg: string; reason?: string };
      if (rec.msg === "request refused") reason ??= String(rec.reason);
    },
  });
  let bodyError: string | undefined;
  const onRequest = (ex: Exchange) => {
    const raw = ex.rawHeaders();
    const chunks: Buffer[] = [];
    const b = ex.body();
    b.on("data", (c: Buffer) => chunks.push(c));
    b.on("error", (err: Error) => {
      bodyError ??= err.message;
      ex.send(400);
    });
    b.on("end", () => {
      const tokens = (ex.header("connection") ?? "")
        .toLowerCase()
        .split(",")
        .map((t) => t.trim());
      messages.push({
        method: ex.method,
        target: ex.target,
        version: ex.httpVersion,
        headers: [...raw],
        body: Buffer.concat(chunks).toString("latin1"),
        keepAlive: !tokens.includes("close") && (ex.httpVersion === "1.1" || tokens.includes("keep-alive")),
        upgrade: ex.upgradeable,
      });
      ex.send(200, "ok");
    });
  };
  const conns = new H1Connections(limits, onRequest, log, "http");
  const sock = new MemorySocket();
  conns.add(sock as never);
  for (const part of parts) {
    if (sock.closed) break;
    sock.emit("data", part);
    await settle();
  }
  await settle();
  conns.destroyAll();
  const rejected = reason !== undefined || bodyError !== undefined;
  return { messages, rejected, reason: reason ?? bodyError };
}

/** Maps wharf's refusal reasons to the documented strictness they stand for. */
const STRICTER_BY_REASON: Record<string, keyof typeof H1_STRICTER> = {
  "missing Host": "missing-host",
  "repeated Host": "repeated-host",
  "Transfer-Encoding in an HTTP/1.0 request": "te-http10",
  "transfer coding not implemented": "te-not-chunked",
  "chunked is not final": "te-not-chunked",
  "extra space in request-line": "request-line-spaces",
  "bare CR or LF before the request-line": "stray-line-end",
  "invalid chunk extension": "chunk-ext",
  "HTTP/0.9 is not served": "http-version",
  "HTTP version not supported": "http-version",
  "request-target too long": "limits",
  "header section too large": "limits",
  "request-line too long": "limits",
  "head too large": "limits",
  "body too large": "limits",
  "Content-Length too large": "limits",
  "invalid request-target or Host": "host-syntax",
  CONNECT: "connect",
};

/** The verdict on one case: agreement (perhaps by a documented strictness), or what differs. */
export type Verdict = { ok: true; stricter?: keyof typeof H1_STRICTER } | { ok: false; why: string };

function resolveTarget(m: Message): string {
  const host = m.headers.find((_, i, a) => i % 2 === 0 && a[i]!.toLowerCase() === "host");
  const hostValue = host === undefined ? "" : (m.headers[m.headers.indexOf(host) + 1] ?? "");
  const r = routeTarget(m.method, m.target, hostValue);
  return typeof r === "object" ? r.target : m.target;
}

function sameMessage(a: Message, b: Message): string | undefined {
  if (a.method !== b.method) return `method ${JSON.stringify(a.method)} vs ${JSON.stringify(b.method)}`;
  if (a.target !== resolveTarget(b))
    return `target ${JSON.stringify(a.target)} vs ${JSON.stringify(b.target)}`;
  if (a.version !== b.version) return `version ${a.version} vs ${b.version}`;
  if (JSON.stringify(a.headers) !== JSON.stringify(b.headers))
    return `headers ${JSON.stringify(a.headers)} vs ${JSON.stringify(b.headers)}`;
  if (!b.upgrade && a.body !== b.body) return `body ${JSON.stringify(a.body)} vs ${JSON.stringify(b.body)}`;
  return undefined;
}

/**
 * Compares the two readings. Messages after one that ends the connection (no keep-alive,
 * an upgrade) are not compared: wharf stops reading there, llhttp may go on or refuse.
 */
export function compare(ours: Outcome, theirs: Outcome): Verdict {
  const cut = (list: Message[]) => {
    const i = list.findIndex((m) => !m.keepAlive || m.upgrade);
    return i === -1 ? list : list.slice(0, i + 1);
  };
  const a = cut(ours.messages);
  const b = cut(theirs.messages);
  const ended =
    b.length > 0 && b.length < theirs.messages.length + 1 && (b.at(-1)!.upgrade || !b.at(-1)!.keepAlive);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = sameMessage(a[i]!, b[i]!);
    if (d) return { ok: false, why: `message ${i}: ${d}` };
  }
  if (a.length < b.length) {
    if (!ours.rejected)
      return { ok: false, why: `llhttp parsed ${b.length} messages, wharf ${a.length} and waits` };
    const key = STRICTER_BY_REASON[ours.reason ?? ""];
    if (key === undefined)
      return { ok: false, why: `wharf refused message ${a.length} (${ours.reason}), llhttp accepted it` };
    return { ok: true, stricter: key };
  }
  if (a.length > b.length) {
    if (ended) return { ok: true };
    return {
      ok: false,
      why: `wharf accepted message ${b.length} that llhttp ${theirs.rejected ? `refused (${theirs.reason})` : "did not complete"}`,
    };
  }
  // The same messages; one side may have refused what follows, or still wait for bytes.
  if (ours.rejected && !theirs.rejected && !ended && theirs.messages.length > b.length) {
    return { ok: false, why: `wharf refused (${ours.reason}) after messages llhttp continued past` };
  }
  return { ok: true };
}

// --- generation ---

/** A small seeded PRNG (mulberry32), so every case can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;

const METHODS = [
  "GET",
  "GET",
  "GET",
  "HEAD",
  "POST",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "M-SEARCH",
  "PROPFIND",
  "FOO",
  "get",
  "CONNECT",
  "PRI",
];
const TARGETS = [
  "/",
  "/index.html",
  "/a/b/c?x=1&y=2",
  "/%2e%2e/x",
  "/a%20b",
  "http://example.com/x?y",
  "https://h:8/",
  "*",
  "/a#f",
  "/caf%C3%A9",
  '/?q="<>{}|',
  "x",
  "//double",
  "/a/../b",
];
const VERSIONS = [
  "HTTP/1.1",
  "HTTP/1.1",
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/0.9",
  "HTTP/2.0",
  "HTTP/1.2",
  "http/1.1",
  "HTTP/1.1 ",
];
const NAMES = [
  "Host",
  "host",
  "HOST",
  "User-Agent",
  "Accept",
  "X-A",
  "X_B",
  "Cookie",
  "Content-Type",
  "Connection",
  "Upgrade",
  "Expect",
  "Transfer-Encoding",
  "Content-Length",
  "If-None-Match",
  "Range",
  "Referer",
  "Te",
  "Trailer",
];
const VALUES = [
  "example.com",
  "a",
  "",
  " padded ",
  "close",
  "keep-alive",
  "Upgrade",
  "websocket",
  "100-continue",
  "chunked",
  "gzip, chunked",
  "chunked, chunked",
  "identity",
  "0",
  "5",
  "12",
  "-1",
  "+3",
  "0x10",
  "1 2",
  '"etag"',
  "bytes=0-1",
  "caf\xe9",
  "tab\there",
  "a,b",
];
const TOKENS = [
  "\r\n",
  "\n",
  "\r",
  " ",
  "\t",
  "\0",
  "\x7f",
  "\xff",
  ":",
  ";",
  ",",
  "\r\n\r\n",
  "Transfer-Encoding: chunked\r\n",
  "Content-Length: 3\r\n",
  "Host: x\r\n",
  "0\r\n\r\n",
  "\r\n ",
  "HTTP/1.0",
  "chunked",
  "5\r\nhello\r\n",
  '"',
  "=",
  "Connection: close\r\n",
  "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
];

function chunkedBody(r: () => number, data: string): string {
  let out = "";
  let i = 0;
  while (i < data.length) {
    const n = 1 + Math.floor(r() * Math.max(1, data.length - i));
    const size = n.toString(16);
    const ext = r() < 0.15 ? pick(r, [";a=b", ";a", ';a="q x"', "; a=b", ';a="unterminated']) : "";
    out += `${r() < 0.1 ? size.toUpperCase().padStart(4, "0") : size}${ext}\r\n${data.slice(i, i + n)}\r\n`;
    i += n;
  }
  out += "0\r\n";
  if (r() < 0.15) out += pick(r, ["X-T: 1\r\n", "bad trailer\r\n", "X-T: a\r\nX-U: b\r\n"]);
  return `${out}\r\n`;
}

/** One well-formed-ish request, with some variation in every part. */
function request(r: () => number): string {
  const method = pick(r, METHODS);
  const target = r() < 0.02 ? `/${"a".repeat(9000)}` : pick(r, TARGETS);
  const version = pick(r, VERSIONS);
  let head = `${method} ${target} ${version}\r\n`;
  if (r() < 0.9) head += "Host: example.com\r\n";
  const extra = Math.floor(r() * 4);
  for (let i = 0; i < extra; i++) head += `${pick(r, NAMES)}: ${pick(r, VALUES)}\r\n`;
  const data = "x".repeat(Math.floor(r() * 12));
  const framing = r();
  if (framing < 0.25 && data.length > 0) return `${head}Content-Length: ${data.length}\r\n\r\n${data}`;
  if (framing < 0.45) return `${head}Transfer-Encoding: chunked\r\n\r\n${chunkedBody(r, data || "abc")}`;
  return `${head}\r\n`;
}

function mutate(r: () => number, s: string): string {
  const at = Math.floor(r() * (s.length + 1));
  switch (Math.floor(r() * 7)) {
    case 0:
      return s.slice(0, at) + pick(r, TOKENS) + s.slice(at);
    case 1:
      return s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 3));
    case 2:
      return s.slice(0, at) + String.fromCharCode(Math.floor(r() * 256)) + s.slice(at + 1);
    case 3:
      return s.replace("\r\n", pick(r, ["\n", "\r", "\r\n\r\n", "\r\n \r\n", " \r\n"]));
    case 4: {
      const lines = s.split("\r\n");
      const i = 1 + Math.floor(r() * Math.max(1, lines.length - 2));
      lines.splice(i, 0, lines[i] ?? "");
      return lines.join("\r\n");
    }
    case 5:
      return s.replace(/[a-z]/, (c) => c.toUpperCase());
    default:
      return s.replace(": ", pick(r, [" : ", ":", ":\t", ":  ", " :"]));
  }
}

/** A generated case: request bytes (1–3 pipelined requests, some mutated), split into parts. */
export function generate(seed: number): Buffer[] {
  const r = rng(seed);
  let s = "";
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) s += request(r);
  const mutations = r() < 0.35 ? 0 : 1 + Math.floor(r() * 3);
  for (let i = 0; i < mutations; i++) s = mutate(r, s);
  const bytes = Buffer.from(s, "latin1");
  return split(r, bytes);
}

/** Splits bytes at 0–3 random points (parsers must not care where). */
export function split(r: () => number, bytes: Buffer): Buffer[] {
  const cuts = new Set<number>();
  const k = Math.floor(r() * 4);
  for (let i = 0; i < k; i++) cuts.add(1 + Math.floor(r() * Math.max(1, bytes.length - 1)));
  const points = [0, ...[...cuts].filter((c) => c < bytes.length).sort((x, y) => x - y), bytes.length];
  const parts: Buffer[] = [];
  for (let i = 0; i + 1 < points.length; i++) parts.push(bytes.subarray(points[i], points[i + 1]));
  return parts.filter((p) => p.length > 0);
}

/** Runs one case through both sides. */
export async function check(parts: Buffer[]): Promise<{ verdict: Verdict; ours: Outcome; theirs: Outcome }> {
  const theirs = runLlhttp(parts);
  const ours = await runWharf(parts);
  return { verdict: compare(ours, theirs), ours, theirs };
}
