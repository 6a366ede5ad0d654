import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { buildQuery, readResponse } from "../../src/tls/ocsp.ts";
import { makeCert } from "../helpers/certs.ts";
import { makeTree } from "../helpers/wharf.ts";

test("OCSP: no request without a responder; unsuccessful, foreign or malformed answers are not stapled", () => {
  const tree = makeTree({});
  try {
    const c = makeCert(tree.dir, "c", ["a.test"]);
    const der = new X509Certificate(readFileSync(c.cert)).raw;
    assert.equal(buildQuery(der, der), undefined, "a certificate without an OCSP URL");
    const serial = Buffer.from([1, 2, 3]);
    // OCSPResponse { responseStatus unauthorized (6) }
    assert.equal(readResponse(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x06]), serial), undefined);
    assert.equal(readResponse(Buffer.from("not der at all"), serial), undefined);
    assert.equal(
      readResponse(Buffer.from([0x30, 0x82, 0xff, 0xff, 0x0a]), serial),
      undefined,
      "a length past the end",
    );
  } finally {
    tree.cleanup();
  }
});
