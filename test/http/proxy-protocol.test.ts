import assert from "node:assert/strict";
import { test } from "node:test";
import { parseProxyHeader } from "../../src/http/proxy-protocol.ts";

const v2 = (family: number, addr: number[], port: number, cmd = 1) => {
  const head = Buffer.from("\r\n\r\n\0\r\nQUIT\n", "latin1");
  const body = Buffer.from([...addr, ...addr.map(() => 0), port >> 8, port & 0xff, 0, 80]);
  return Buffer.concat([
    head,
    Buffer.from([0x20 | cmd, (family << 4) | 1, 0, body.length]),
    body,
    Buffer.from("GET /"),
  ]);
};

test("PROXY v1: TCP4, TCP6, UNKNOWN; malformed lines refused; incomplete waits", () => {
  assert.deepEqual(
    parseProxyHeader(Buffer.from("PROXY TCP4 192.0.2.1 10.0.0.1 56324 443\r\nGET / HTTP/1.1")),
    {
      kind: "header",
      length: 41,
      peer: { address: "192.0.2.1", port: 56324 },
    },
  );
  const six = parseProxyHeader(Buffer.from("PROXY TCP6 2001:db8::1 ::1 4000 443\r\n"));
  assert.deepEqual(six.kind === "header" && six.peer, { address: "2001:db8::1", port: 4000 });
  assert.deepEqual(parseProxyHeader(Buffer.from("PROXY UNKNOWN\r\n")), {
    kind: "header",
    length: 15,
    peer: undefined,
  });
  assert.equal(parseProxyHeader(Buffer.from("PROXY TCP4 1.2.3.4")).kind, "incomplete");
  assert.equal(parseProxyHeader(Buffer.from("GET / HTTP/1.1\r\n")).kind, "invalid");
  assert.equal(parseProxyHeader(Buffer.from("PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n")).kind, "invalid");
});

test("PROXY v2: IPv4, IPv6, LOCAL; what follows is left for the next reader", () => {
  const four = v2(1, [203, 0, 113, 7], 5555);
  const r = parseProxyHeader(four);
  assert.deepEqual(r.kind === "header" && r.peer, { address: "203.0.113.7", port: 5555 });
  assert.equal(four.subarray((r as { length: number }).length).toString(), "GET /");
  const ip6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09];
  const r6 = parseProxyHeader(v2(2, ip6, 80));
  assert.deepEqual(r6.kind === "header" && r6.peer, { address: "2001:db8::9", port: 80 });
  const local = parseProxyHeader(v2(1, [10, 0, 0, 1], 1, 0));
  assert.equal(local.kind === "header" && local.peer, undefined);
  assert.equal(parseProxyHeader(Buffer.from("\r\n\r\n\0\r\nQU")).kind, "incomplete");
});
