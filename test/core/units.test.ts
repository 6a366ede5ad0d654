import assert from "node:assert/strict";
import { test } from "node:test";
import { formatListenAddress, parseListenAddress } from "../../src/config/listen-address.ts";
import { parseDuration, parseSize } from "../../src/core/units.ts";
import { parseHostHeader } from "../../src/http/host.ts";

test("durations normalize to milliseconds", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration(1500), 1500);
  assert.equal(parseDuration("1500"), 1500);
  assert.equal(parseDuration("5x"), undefined);
  assert.equal(parseDuration("s"), undefined);
  assert.equal(parseDuration("-1s"), undefined);
});

test("sizes normalize to bytes", () => {
  assert.equal(parseSize("10MB"), 10 * 1024 * 1024);
  assert.equal(parseSize("64KiB"), 65536);
  assert.equal(parseSize("512k"), 524288);
  assert.equal(parseSize("1.5G"), 1.5 * 1024 ** 3);
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize("12 bananas"), undefined);
  assert.equal(parseSize(1.5), undefined);
});

test("listen addresses", () => {
  assert.deepEqual(parseListenAddress(":8080"), { host: "", port: 8080 });
  assert.deepEqual(parseListenAddress("8080"), { host: "", port: 8080 });
  assert.deepEqual(parseListenAddress("localhost:80"), { host: "localhost", port: 80 });
  assert.deepEqual(parseListenAddress("[::1]:443"), { host: "::1", port: 443 });
  assert.equal(parseListenAddress("localhost"), undefined);
  assert.equal(parseListenAddress(":99999"), undefined);
  assert.equal(formatListenAddress({ host: "::1", port: 443 }), "[::1]:443");
});

test("Host header parsing", () => {
  assert.equal(parseHostHeader("Example.COM:8080"), "example.com");
  assert.equal(parseHostHeader("example.com."), "example.com");
  assert.equal(parseHostHeader("[::1]:80"), "[::1]");
  assert.equal(parseHostHeader(""), "");
  assert.equal(parseHostHeader("a b"), undefined);
  assert.equal(parseHostHeader("a/b"), undefined);
  assert.equal(parseHostHeader("host:port"), undefined);
  assert.equal(parseHostHeader("[::1"), undefined);
});
