import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { check, generate } from "../fuzz/h1-diff.ts";

const corpus = join(import.meta.dirname, "../fixtures/h1-corpus.jsonl");
const bytes = (s: string) => [Buffer.from(s, "latin1")];

/** Request smuggling and framing attacks: wharf must refuse each one outright (and llhttp agree or be laxer). */
const SMUGGLING: [string, string][] = [
  [
    "CL.TE",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
  ],
  [
    "TE.CL",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
  ],
  [
    "TE with space before colon",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
  ],
  ["TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"],
  [
    "TE chunked then identity",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
  ],
  [
    "TE on two lines",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n",
  ],
  ["TE obs-fold", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"],
  ["TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
  ["two Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"],
  ["Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\na"],
  ["Content-Length signed", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\na"],
  ["Content-Length hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x1\r\n\r\na"],
  [
    "chunk size overflow",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\na\r\n0\r\n\r\n",
  ],
  [
    "chunk size with space",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\na\r\n0\r\n\r\n",
  ],
  [
    "chunk data too long",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n",
  ],
  [
    "Content-Length as a trailer",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nContent-Length: 3\r\n\r\n",
  ],
  ["chunk bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n"],
  ["bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n"],
  ["bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"],
  ["NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"],
  ["no Host", "GET / HTTP/1.1\r\n\r\n"],
  ["two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"],
];

test("HTTP/1.1 request smuggling vectors are refused, and llhttp agrees or is laxer", async () => {
  for (const [name, req] of SMUGGLING) {
    const { verdict, ours } = await check(bytes(req));
    assert.ok(verdict.ok, `${name}: ${!verdict.ok && verdict.why}`);
    assert.equal(ours.rejected, true, `${name}: wharf must refuse it`);
    assert.equal(ours.messages.length, 0, `${name}: no request reaches a handler`);
  }
});

test(
  "HTTP/1.1 differential corpus replays with the same verdicts",
  { skip: !existsSync(corpus) },
  async () => {
    const lines = readFileSync(corpus, "utf8").split("\n").filter(Boolean);
    assert.ok(lines.length > 0);
    for (const line of lines) {
      const c = JSON.parse(line) as { seed: number; expect: string; parts: string[] };
      const { verdict } = await check(c.parts.map((p) => Buffer.from(p, "latin1")));
      assert.ok(verdict.ok, `corpus seed ${c.seed}: ${!verdict.ok && verdict.why}`);
      assert.equal(verdict.stricter ?? "agree", c.expect, `corpus seed ${c.seed}`);
    }
  },
);

test("HTTP/1.1 differential run against llhttp: 5,000 generated and mutated cases agree", async () => {
  const classes = new Map<string, number>();
  for (let seed = 1; seed <= 5000; seed++) {
    const { verdict } = await check(generate(seed));
    assert.ok(
      verdict.ok,
      `seed ${seed}: ${!verdict.ok && verdict.why} (replay: npm run fuzz:h1 -- --cases 1 --seed ${seed})`,
    );
    const k = verdict.stricter ?? "agree";
    classes.set(k, (classes.get(k) ?? 0) + 1);
  }
  // The generator must reach both agreement and the refusals it is meant to probe.
  for (const k of ["agree", "missing-host", "repeated-host", "http-version", "te-not-chunked", "limits"])
    assert.ok((classes.get(k) ?? 0) > 0, `no case classified as ${k}`);
});
