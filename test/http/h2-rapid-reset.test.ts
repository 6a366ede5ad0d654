import assert from "node:assert/strict";
import { test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { h2request, h2session } from "../helpers/h2.ts";
import { makeTree, startTlsWharf } from "../helpers/wharf.ts";

test("HTTP/2 rapid reset (CVE-2023-44487): a client resetting streams in a burst is cut off; others are served", async () => {
  const tree = makeTree({ "www/index.html": "ok\n" });
  const w = await startTlsWharf(`${tree.dir}/www`);
  try {
    const ca = w.ca;
    // The attack on the wire: HEADERS then RST_STREAM(CANCEL), stream after stream.
    const sock = tlsConnect({
      host: "127.0.0.1",
      port: w.port,
      ca,
      servername: "localhost",
      ALPNProtocols: ["h2"],
    });
    await new Promise((r, j) => sock.once("secureConnect", r).once("error", j));
    assert.equal(sock.alpnProtocol, "h2");
    const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
      const h = Buffer.alloc(9);
      h.writeUIntBE(payload.length, 0, 3);
      h[3] = type;
      h[4] = flags;
      h.writeUInt32BE(stream, 5);
      return Buffer.concat([h, payload]);
    };
    // HPACK: :method GET, :path /, :scheme https (static table), :authority "localhost".
    const block = Buffer.concat([Buffer.from([0x82, 0x84, 0x87, 0x41, 9]), Buffer.from("localhost")]);
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(0x8);
    let goaway = false;
    let lastStream = -1;
    let received = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      received = Buffer.concat([received, d]);
      for (let p = 0; p + 9 <= received.length; ) {
        const len = received.readUIntBE(p, 3);
        if (received[p + 3] === 0x7 && p + 13 <= received.length) {
          goaway = true;
          lastStream = received.readUInt32BE(p + 9) & 0x7fffffff;
        }
        p += 9 + len;
      }
    });
    sock.on("error", () => {});
    const closed = new Promise<void>((r) => sock.once("close", () => r()));
    sock.write(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"));
    sock.write(frame(0x4, 0, 0, Buffer.alloc(0)));
    let sent = 0;
    for (let id = 1; sent < 20_000 && !sock.destroyed && !goaway; id += 2, sent++) {
      sock.write(frame(0x1, 0x5, id, block));
      sock.write(frame(0x3, 0, id, cancel));
      if (sent % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
    assert.ok(goaway || sock.destroyed, `no GOAWAY and still open after ${sent} reset streams`);
    // GOAWAY names the last stream the server took: it stopped early in the burst.
    assert.ok(
      lastStream >= 0 && lastStream < 2 * 5000,
      `cut off only after stream ${lastStream} of ${2 * sent}`,
    );
    sock.destroy();
    // A well-behaved client is still served.
    const s = await h2session(`https://127.0.0.1:${w.port}`, ca);
    const r = await h2request(s, "/index.html");
    assert.equal(r.status, 200);
    s.close();
  } finally {
    await w.stop();
    tree.cleanup();
  }
});
