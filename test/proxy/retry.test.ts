import assert from "node:assert/strict";
import { test } from "node:test";
import { afterFailure, type FailedAttempt } from "../../src/handlers/proxy/retry.ts";

const base: FailedAttempt = {
  kind: "protocol",
  code: "",
  method: "GET",
  replayable: true,
  bodyTouched: false,
  resetRetried: false,
};
const decide = (over: Partial<FailedAttempt>) => afterFailure({ ...base, ...over });

test("a reset kept-alive connection is retried once on the same upstream, whatever the method", () => {
  assert.equal(decide({ code: "ECONNRESET", method: "POST" }), "same");
  assert.equal(decide({ code: "EPIPE", method: "PATCH" }), "same");
  assert.equal(decide({ code: "ECONNRESET", method: "POST", resetRetried: true }), "stop");
  assert.equal(decide({ code: "ECONNRESET", method: "GET", resetRetried: true }), "next");
  // A streamed body cannot be sent twice.
  assert.equal(decide({ code: "ECONNRESET", method: "POST", replayable: false }), "stop");
});

test("connect failures move on to another upstream unless a streamed body was read", () => {
  assert.equal(decide({ kind: "connect", method: "POST" }), "next");
  assert.equal(decide({ kind: "connect", method: "POST", replayable: false, bodyTouched: true }), "stop");
});

test("after the request may have reached the app, only idempotent methods are retried", () => {
  for (const m of ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"])
    assert.equal(decide({ method: m }), "next", m);
  for (const m of ["POST", "PATCH", "CONNECT"]) assert.equal(decide({ method: m }), "stop", m);
  assert.equal(decide({ method: "GET", bodyTouched: true }), "stop");
});

test("a timeout is never retried (the app may still be working on it)", () => {
  assert.equal(decide({ kind: "timeout" }), "stop");
  assert.equal(decide({ kind: "timeout", method: "HEAD" }), "stop");
});
