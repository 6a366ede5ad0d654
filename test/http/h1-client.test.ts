import assert from "node:assert/strict";
import { type Duplex, duplexPair, Readable } from "node:stream";
import { test } from "node:test";
import { H1Client } from "../../src/http/h1-client.ts";
import { type ClientRequest, type ClientResponse, UpstreamError } from "../../src/http/upstream.ts";
import { parseUpstreamAddress, type UpstreamAddress } from "../../src/http/upstream-address.ts";

// wharf's upstream HTTP/1.1 client over in-memory socket pairs: each test plays the
// upstream on the other end, byte for byte.

const ADDR = parseUpstreamAddress("http://127.0.0.1:9") as UpstreamAddress;
const timeouts = { connect: 1000, header: 1000, read: 1000 };

/** A client whose connections are in-memory pairs; `upstreams` are their far ends, in order. */
function client(opts: { header?: number } = {}) {
  const upstreams: Duplex[] = [];
  const waiting: ((d: Duplex) => void)[] = [];
  const c = new H1Client(ADDR, {
    timeouts: { ...timeouts, header: opts.header ?? timeouts.header },
    maxConnections: 4,
    idleTimeout: 10_000,
    connect: async () => {
      const [near, far] = duplexPair();
      upstreams.push(far);
      waiting.shift()?.(far);
      return near;
    },
  });
  /** The far end of the next connection (or of connection `i`). */
  const upstream = (i: number) =>
    upstreams[i] !== undefined ? Promise.resolve(upstreams[i]!) : new Promise<Duplex>((r) => waiting.push(r));
  return { c, upstreams, upstream };
}

function request(over: Partial<ClientRequest> = {}): ClientRequest {
  return {
    method: "GET",
    path: "/x",
    headers: [["Host", "app"]],
    body: undefined,
    bodyLength: undefined,
    signal: new AbortController().signal,
    ...over,
  };
}

/** Reads what the client wrote until a blank line (and `bodyBytes` more). */
function readRequest(far: Duplex, until: (s: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let s = "";
    const on = (d: Buffer) => {
      s += d.toString("latin1");
      if (until(s)) {
        far.off("data", on);
        resolve(s);
      }
    };
    far.on("data", on);
  });
}
const headDone = (s: string) => s.includes("\r\n\r\n");

async function bodyOf(res: ClientResponse): Promise<string> {
  if (Buffer.isBuffer(res.body)) return res.body.toString();
  const parts: Buffer[] = [];
  for await (const c of res.body) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

test("a whole response with Content-Length comes as one buffer; the connection is reused", async () => {
  const { c, upstreams, upstream } = client();
  const first = c.request(request());
  const far = await upstream(0);
  const head = await readRequest(far, headDone);
  assert.equal(head, "GET /x HTTP/1.1\r\nHost: app\r\n\r\n");
  far.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello");
  const res = await first;
  assert.equal(res.status, 200);
  assert.ok(Buffer.isBuffer(res.body));
  assert.equal(res.body.toString(), "hello");
  assert.deepEqual(res.headers, [
    ["Content-Length", "5"],
    ["X-A", "1"],
  ]);
  const second = c.request(request({ path: "/y" }));
  assert.match(await readRequest(far, headDone), /^GET \/y HTTP\/1\.1\r\n/);
  far.write("HTTP/1.1 204 No Content\r\n\r\n");
  assert.equal((await second).status, 204);
  assert.equal(upstreams.length, 1, "one connection for both");
  await c.close();
});

test("a chunked response streams, split anywhere, with its trailers; 100 Continue is skipped", async () => {
  const { c, upstream } = client();
  const pending = c.request(request());
  const far = await upstream(0);
  await readRequest(far, headDone);
  const wire =
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n";
  // One byte at a time: every state of the parser meets a boundary.
  const writes = (async () => {
    for (const ch of wire) {
      far.write(ch);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const res = await pending;
  assert.equal(res.status, 200);
  assert.equal(await bodyOf(res), "hello world");
  assert.deepEqual(res.trailers?.(), [["X-Sum", "42"]]);
  await writes;
  await c.close();
});

test("a body without length ends with the connection, which is not reused", async () => {
  const { c, upstreams, upstream } = client();
  const pending = c.request(request());
  const far = await upstream(0);
  await readRequest(far, headDone);
  far.write("HTTP/1.1 200 OK\r\n\r\npart one, ");
  const res = await pending;
  const text = bodyOf(res);
  far.end("part two");
  assert.equal(await text, "part one, part two");
  const again = c.request(request());
  const far2 = await upstream(1);
  await readRequest(far2, headDone);
  far2.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  assert.equal((await again).status, 200);
  assert.equal(upstreams.length, 2);
  await c.close();
});

test("a streamed request body of unknown length goes chunked; a known one with its length", async () => {
  const { c, upstream } = client();
  const pending = c.request(
    request({ method: "POST", body: Readable.from([Buffer.from("ab"), Buffer.from("cde")]) }),
  );
  const far = await upstream(0);
  const sent = await readRequest(far, (s) => s.endsWith("0\r\n\r\n"));
  assert.equal(
    sent,
    "POST /x HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
  );
  far.write("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  assert.equal((await pending).status, 201);

  const known = c.request(
    request({ method: "PUT", body: Readable.from([Buffer.from("xyz")]), bodyLength: 3 }),
  );
  const sent2 = await readRequest(far, (s) => s.endsWith("xyz"));
  assert.equal(sent2, "PUT /x HTTP/1.1\r\nHost: app\r\nContent-Length: 3\r\n\r\nxyz");
  far.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  assert.equal((await known).status, 200);
  await c.close();
});

test("garbage, a silent upstream and a reset are told apart", async () => {
  const { c, upstream } = client({ header: 200 });
  const bad = c.request(request());
  const far = await upstream(0);
  await readRequest(far, headDone);
  far.write("HTTP/1.1 2x0 Nope\r\n\r\n");
  await assert.rejects(bad, (e: unknown) => e instanceof UpstreamError && e.kind === "protocol");

  const silent = c.request(request());
  await readRequest(await upstream(1), headDone);
  await assert.rejects(silent, (e: unknown) => e instanceof UpstreamError && e.kind === "timeout");

  const reset = c.request(request());
  const far3 = await upstream(2);
  await readRequest(far3, headDone);
  far3.destroy();
  await assert.rejects(reset, (e: unknown) => e instanceof UpstreamError && e.code === "ECONNRESET");
  await c.close();
});

test("a client that goes away aborts its request; bytes past the length spoil the connection", async () => {
  const { c, upstreams, upstream } = client();
  const abort = new AbortController();
  const gone = c.request(request({ signal: abort.signal }));
  await readRequest(await upstream(0), headDone);
  abort.abort();
  await assert.rejects(gone, (e: unknown) => e instanceof UpstreamError);

  const extra = c.request(request());
  const far = await upstream(1);
  await readRequest(far, headDone);
  far.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA");
  const res = await extra;
  assert.equal(await bodyOf(res), "ok");
  const next = c.request(request());
  const far3 = await upstream(2);
  await readRequest(far3, headDone);
  far3.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  await next;
  assert.equal(upstreams.length, 3, "the spoiled connection was not used again");
  await c.close();
});
