import assert from "node:assert/strict";
import { test } from "node:test";
import { cgiVariables } from "../../src/handlers/proxy/cgi-vars.ts";
import { makeSelector } from "../../src/handlers/proxy/select.ts";
import { encodeParams } from "../../src/handlers/proxy/transport-fastcgi.ts";
import { uwsgiPacket } from "../../src/handlers/proxy/transport-uwsgi.ts";
import { Upstream } from "../../src/handlers/proxy/upstream.ts";
import { parseResponseHead } from "../../src/http/response-head.ts";
import { parseUpstreamAddress, type UpstreamAddress } from "../../src/http/upstream-address.ts";

const up = (url: string, weight = 1, i = 0) =>
  new Upstream(parseUpstreamAddress(url) as UpstreamAddress, weight, i);

test("upstream addresses", () => {
  assert.deepEqual(parseUpstreamAddress("http://127.0.0.1:8000"), {
    protocol: "http",
    tls: false,
    host: "127.0.0.1",
    port: 8000,
    text: "http://127.0.0.1:8000",
  });
  assert.equal((parseUpstreamAddress("https://app.internal") as UpstreamAddress).port, 443);
  assert.equal((parseUpstreamAddress("unix:/run/app.sock") as UpstreamAddress).socketPath, "/run/app.sock");
  assert.equal((parseUpstreamAddress("uwsgi+unix:/run/u.sock") as UpstreamAddress).protocol, "uwsgi");
  assert.equal((parseUpstreamAddress("fastcgi://[::1]:9000") as UpstreamAddress).host, "::1");
  assert.equal(typeof parseUpstreamAddress("uwsgi://host"), "string", "uwsgi needs a port");
  assert.equal(typeof parseUpstreamAddress("http://host:80/path"), "string", "no path");
  assert.equal(typeof parseUpstreamAddress("ftp://host:21"), "string");
});

test("smooth weighted round robin gives each upstream its weight's share, interleaved", () => {
  const list = [up("http://a:1", 5, 0), up("http://b:1", 1, 1), up("http://c:1", 1, 2)];
  const pick = makeSelector("round_robin");
  const seq = Array.from({ length: 7 }, () => pick(list, { clientIp: "", cookie: undefined }).address.host);
  assert.deepEqual(seq, ["a", "a", "b", "a", "c", "a", "a"]);
});

test("least_conn prefers the least loaded; ip_hash is stable; first takes the first", () => {
  const a = up("http://a:1");
  const b = up("http://b:1", 1, 1);
  a.active = 3;
  assert.equal(makeSelector("least_conn")([a, b], { clientIp: "", cookie: undefined }), b);
  const ipHash = makeSelector("ip_hash");
  const first = ipHash([a, b], { clientIp: "10.0.0.7", cookie: undefined });
  for (let i = 0; i < 5; i++)
    assert.equal(ipHash([a, b], { clientIp: "10.0.0.7", cookie: undefined }), first);
  assert.equal(makeSelector("first")([a, b], { clientIp: "", cookie: undefined }), a);
});

test("passive health: max_fails within the window mark an upstream down for fail_timeout", () => {
  const u = up("http://a:1");
  assert.equal(u.fail(1000, 2, 10_000, 5000), false);
  assert.equal(u.available(1000), true);
  assert.equal(u.fail(2000, 2, 10_000, 5000), true);
  assert.equal(u.available(6999), false);
  assert.equal(u.available(7000), true);
  const v = up("http://b:1");
  v.fail(0, 2, 1000, 5000);
  assert.equal(v.fail(5000, 2, 1000, 5000), false, "failures outside the window do not add up");
});

test("uwsgi packets and FastCGI name-value pairs are encoded as the specs say", () => {
  const p = uwsgiPacket([["A", "bc"]]);
  assert.deepEqual([...p], [0, 7, 0, 0, 1, 0, 65, 2, 0, 98, 99]);
  const long = "x".repeat(200);
  const nv = encodeParams([["K", long]]);
  assert.equal(nv[0], 1);
  assert.equal(
    nv.readUInt32BE(1),
    0x80000000 + 200,
    "lengths over 127 take four bytes with the high bit set",
  );
});

test("response heads: HTTP status lines and CGI Status/Location", () => {
  const http = parseResponseHead(Buffer.from("HTTP/1.1 404 Not Found\r\nX-A: b\r\n\r\nbody"), "http");
  assert.equal(http?.status, 404);
  assert.deepEqual(http?.headers, [["X-A", "b"]]);
  assert.equal(http?.rest.toString(), "body");
  assert.equal(parseResponseHead(Buffer.from("HTTP/1.1 200 OK\r\nX"), "http"), undefined);
  assert.equal(parseResponseHead(Buffer.from("Status: 201 Created\r\n\r\n"), "cgi")?.status, 201);
  assert.equal(parseResponseHead(Buffer.from("Location: /x\r\n\r\n"), "cgi")?.status, 302);
  assert.equal(parseResponseHead(Buffer.from("Content-Type: text/plain\n\nhi"), "cgi")?.status, 200);
  assert.throws(() => parseResponseHead(Buffer.from("garbage\r\n\r\n"), "http"));
});

test("CGI variables", () => {
  const vars = new Map(
    cgiVariables({
      method: "POST",
      path: "/app/x?y=1",
      headers: [
        ["Host", "example.com"],
        ["Content-Type", "text/plain"],
        ["Content-Length", "3"],
        ["X_Sneaky", "1"],
        ["Accept", "a"],
        ["Accept", "b"],
      ],
      body: undefined,
      bodyLength: 3,
      cgi: {
        scriptName: "/app",
        pathInfo: "/x",
        serverName: "example.com",
        serverPort: "443",
        remoteAddr: "10.0.0.1",
        remotePort: 5555,
        https: true,
        protocol: "HTTP/1.1",
      },
      signal: new AbortController().signal,
    }),
  );
  assert.equal(vars.get("SCRIPT_NAME"), "/app");
  assert.equal(vars.get("PATH_INFO"), "/x");
  assert.equal(vars.get("QUERY_STRING"), "y=1");
  assert.equal(vars.get("CONTENT_TYPE"), "text/plain");
  assert.equal(vars.get("CONTENT_LENGTH"), "3");
  assert.equal(vars.get("HTTPS"), "on");
  assert.equal(vars.get("HTTP_HOST"), "example.com");
  assert.equal(vars.get("HTTP_ACCEPT"), "a, b");
  assert.equal(vars.get("HTTP_X_SNEAKY"), undefined, "fields with underscores are dropped");
  assert.equal(vars.get("HTTP_CONTENT_TYPE"), undefined);
});
