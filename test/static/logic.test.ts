import assert from "node:assert/strict";
import { test } from "node:test";
import { compileGlob } from "../../src/core/glob.ts";
import { prefersJson } from "../../src/handlers/static/listing.ts";
import { isHiddenPath } from "../../src/handlers/static/resolve.ts";
import { evaluatePreconditions, ifRangeAllows, matchesTag } from "../../src/http/conditional.ts";
import { chooseCoding } from "../../src/http/content-coding.ts";
import { mimeFor } from "../../src/http/mime.ts";
import { parseRange } from "../../src/http/range.ts";
import { normalizePath } from "../../src/http/request-path.ts";

test("Accept-Encoding negotiation follows q-values, then server preference", () => {
  const all = ["br", "zstd", "gzip"] as const;
  assert.equal(chooseCoding("gzip, deflate, br", all), "br");
  assert.equal(chooseCoding("gzip;q=1, br;q=0.5", all), "gzip");
  assert.equal(chooseCoding("br;q=0, gzip", all), "gzip");
  assert.equal(chooseCoding("*", all), "br");
  assert.equal(chooseCoding("*;q=0.1, gzip;q=0", all), "br");
  assert.equal(chooseCoding("identity", all), undefined);
  assert.equal(chooseCoding("x-gzip", all), "gzip");
  assert.equal(chooseCoding("zstd, gzip", ["gzip"]), "gzip");
  assert.equal(chooseCoding(undefined, all), undefined);
  assert.equal(chooseCoding("br;q=0", all), undefined);
});

test("Range parsing: single, suffix, open, multiple, merged, unsatisfiable, ignored", () => {
  assert.deepEqual(parseRange("bytes=0-99", 1000), { kind: "ranges", ranges: [{ start: 0, end: 99 }] });
  assert.deepEqual(parseRange("bytes=-100", 1000), { kind: "ranges", ranges: [{ start: 900, end: 999 }] });
  assert.deepEqual(parseRange("bytes=900-", 1000), { kind: "ranges", ranges: [{ start: 900, end: 999 }] });
  assert.deepEqual(parseRange("bytes=990-2000", 1000), {
    kind: "ranges",
    ranges: [{ start: 990, end: 999 }],
  });
  assert.deepEqual(parseRange("bytes=0-9,20-29", 1000), {
    kind: "ranges",
    ranges: [
      { start: 0, end: 9 },
      { start: 20, end: 29 },
    ],
  });
  assert.deepEqual(parseRange("bytes=0-50,10-60,61-70", 1000), {
    kind: "ranges",
    ranges: [{ start: 0, end: 70 }],
  });
  assert.deepEqual(parseRange("bytes=1000-", 1000), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=-0", 1000), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=5-1", 1000), { kind: "none" });
  assert.deepEqual(parseRange("items=0-1", 1000), { kind: "none" });
  assert.deepEqual(parseRange("bytes=abc", 1000), { kind: "none" });
  const many = `bytes=${Array.from({ length: 40 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(",")}`;
  assert.deepEqual(parseRange(many, 1000), { kind: "none" });
});

test("preconditions follow RFC 9110 §13.2.2 precedence", () => {
  const v = { etag: '"abc"', mtimeSec: 1_700_000_000 };
  const date = (s: number) => new Date(s * 1000).toUTCString();
  assert.equal(evaluatePreconditions({}, v, true), 200);
  assert.equal(evaluatePreconditions({ ifNoneMatch: '"abc"' }, v, true), 304);
  assert.equal(evaluatePreconditions({ ifNoneMatch: 'W/"abc"' }, v, true), 304);
  assert.equal(evaluatePreconditions({ ifNoneMatch: '"x", "abc"' }, v, true), 304);
  assert.equal(evaluatePreconditions({ ifNoneMatch: "*" }, v, true), 304);
  assert.equal(evaluatePreconditions({ ifNoneMatch: '"x"' }, v, true), 200);
  // If-None-Match present: If-Modified-Since is ignored
  assert.equal(
    evaluatePreconditions({ ifNoneMatch: '"x"', ifModifiedSince: date(v.mtimeSec) }, v, true),
    200,
  );
  assert.equal(evaluatePreconditions({ ifModifiedSince: date(v.mtimeSec) }, v, true), 304);
  assert.equal(evaluatePreconditions({ ifModifiedSince: date(v.mtimeSec - 1) }, v, true), 200);
  assert.equal(evaluatePreconditions({ ifModifiedSince: "garbage" }, v, true), 200);
  assert.equal(evaluatePreconditions({ ifMatch: '"x"' }, v, true), 412);
  assert.equal(evaluatePreconditions({ ifMatch: 'W/"abc"' }, v, true), 412);
  assert.equal(evaluatePreconditions({ ifMatch: '"abc"' }, v, true), 200);
  assert.equal(evaluatePreconditions({ ifMatch: "*" }, v, true), 200);
  assert.equal(evaluatePreconditions({ ifUnmodifiedSince: date(v.mtimeSec - 10) }, v, true), 412);
  assert.equal(evaluatePreconditions({ ifMatch: '"abc"', ifUnmodifiedSince: date(0) }, v, true), 200);
  assert.equal(evaluatePreconditions({ ifNoneMatch: '"abc"' }, v, false), 412);
  assert.ok(matchesTag('"a" , W/"b"', '"b"', false));
  assert.ok(!matchesTag('"a" , W/"b"', '"b"', true));
});

test("If-Range needs a strong match or the exact date", () => {
  const v = { etag: '"abc"', mtimeSec: 1_700_000_000 };
  assert.ok(ifRangeAllows('"abc"', v));
  assert.ok(!ifRangeAllows('W/"abc"', v));
  assert.ok(!ifRangeAllows('"x"', v));
  assert.ok(ifRangeAllows(new Date(v.mtimeSec * 1000).toUTCString(), v));
  assert.ok(!ifRangeAllows(new Date((v.mtimeSec + 1) * 1000).toUTCString(), v));
});

test("request paths: decoded once, normalized, hostile forms refused", () => {
  assert.equal(normalizePath("/a/b.html"), "/a/b.html");
  assert.equal(normalizePath("/a%20b"), "/a b");
  assert.equal(normalizePath("/a/./b/../c"), "/a/c");
  assert.equal(normalizePath("/a//b/"), "/a/b/");
  assert.equal(normalizePath("/a/.."), "/");
  assert.equal(normalizePath("/%2e%2e/etc/passwd"), undefined);
  assert.equal(normalizePath("/../etc/passwd"), undefined);
  assert.equal(normalizePath("/a/%2e%2e%2f%2e%2e%2fetc"), undefined);
  assert.equal(normalizePath("/a%00b"), undefined);
  assert.equal(normalizePath("/a%5c..%5cb"), undefined);
  assert.equal(normalizePath("/%c0%ae%c0%ae/"), undefined); // overlong UTF-8 "."
  assert.equal(normalizePath("/%e9"), undefined); // invalid UTF-8
  assert.equal(normalizePath("/%zz"), undefined);
  assert.equal(normalizePath("/%252e%252e/"), "/%2e%2e/"); // decoded once only
  assert.equal(normalizePath("/caf%C3%A9"), "/café");
});

test("dotfiles are hidden except /.well-known/", () => {
  assert.ok(isHiddenPath("/.env"));
  assert.ok(isHiddenPath("/a/.git/config"));
  assert.ok(!isHiddenPath("/.well-known/acme-challenge/x"));
  assert.ok(isHiddenPath("/.well-known/.secret"));
  assert.ok(!isHiddenPath("/a.b/c"));
});

test("globs", () => {
  assert.ok(compileGlob("*.html")("/a/b/index.html"));
  assert.ok(!compileGlob("*.html")("/a/b/index.htm"));
  assert.ok(compileGlob("/assets/**")("/assets/a/b.js"));
  assert.ok(!compileGlob("/assets/*")("/assets/a/b.js"));
  assert.ok(compileGlob("/**/*.{js,css}")("/x/y.css"));
  assert.ok(compileGlob("*.[0-9a-f][0-9a-f]*.js")("/app.3f9a.js"));
  assert.ok(!compileGlob("*.[0-9a-f][0-9a-f]*.js")("/app.js"));
});

test("MIME types from mime-db with charset for text", () => {
  assert.equal(mimeFor("a.html").type, "text/html; charset=utf-8");
  assert.equal(mimeFor("a.css").type, "text/css; charset=utf-8");
  assert.equal(mimeFor("a.js").type, "text/javascript; charset=utf-8");
  assert.equal(mimeFor("a.json").type, "application/json; charset=utf-8");
  assert.equal(mimeFor("a.png").type, "image/png");
  assert.equal(mimeFor("a.png").compressible, false);
  assert.equal(mimeFor("a.zip").compressible, false);
  assert.equal(mimeFor("noext").type, "application/octet-stream");
  assert.equal(mimeFor("a.unknownext").type, "application/octet-stream");
});

test("listing format follows Accept", () => {
  assert.ok(prefersJson("application/json"));
  assert.ok(!prefersJson("text/html,application/json;q=0.9"));
  assert.ok(!prefersJson(undefined));
  assert.ok(!prefersJson("*/*"));
});
