import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { connect } from "node:tls";
import { firstRecordLength, readClientHello } from "../../src/http/client-hello.ts";

/** The first bytes a real TLS client sends, captured on a plain TCP server. */
function captureHello(opts: { servername?: string; ALPNProtocols?: string[] }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const server = createServer((sock) => {
      sock.on("data", (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length >= firstRecordLength(all)) {
          sock.destroy();
          server.close();
          resolve(all);
        }
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      const c = connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...opts });
      c.on("error", () => {});
    });
    server.on("error", reject);
  });
}

test("ClientHello: server name and ALPN offers are read as a real TLS client sends them", async () => {
  const acme = readClientHello(
    await captureHello({ servername: "Example.Test", ALPNProtocols: ["acme-tls/1"] }),
  );
  assert.deepEqual(acme, { serverName: "example.test", alpn: ["acme-tls/1"] });
  const browser = readClientHello(
    await captureHello({ servername: "a.example", ALPNProtocols: ["h2", "http/1.1"] }),
  );
  assert.deepEqual(browser, { serverName: "a.example", alpn: ["h2", "http/1.1"] });
  const bare = await captureHello({});
  assert.deepEqual(readClientHello(bare), { serverName: undefined, alpn: [] });
  assert.equal(readClientHello(bare.subarray(0, 40)), undefined, "a cut-short record is not read");
  assert.equal(readClientHello(Buffer.from("GET / HTTP/1.1\r\n\r\n")), undefined, "not TLS");
  assert.equal(firstRecordLength(Buffer.from("GET / HTTP/1.1\r\n")), -1);
});
