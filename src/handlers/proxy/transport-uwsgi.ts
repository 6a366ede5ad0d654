import { type ClientResponse, type Timeouts, UpstreamError } from "../../http/upstream.ts";
import type { UpstreamAddress } from "../../http/upstream-address.ts";
import { cgiVariables } from "./cgi-vars.ts";
import { openSocket, readResponse } from "./socket-exchange.ts";
import type { Transport, UpstreamRequest } from "./transport.ts";

/**
 * Encodes a uwsgi request packet (as nginx's uwsgi_pass sends it): a 4-byte header —
 * modifier1 0 (WSGI), the size of the variables as little-endian u16, modifier2 0 — then
 * each variable as u16 key length, key, u16 value length, value.
 */
export function uwsgiPacket(vars: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (const [k, v] of vars) {
    const kb = Buffer.from(k, "latin1");
    const vb = Buffer.from(v, "latin1");
    if (kb.length > 0xffff || vb.length > 0xffff)
      throw new UpstreamError("protocol", `uwsgi variable ${k} too long`);
    const rec = Buffer.allocUnsafe(4 + kb.length + vb.length);
    rec.writeUInt16LE(kb.length, 0);
    kb.copy(rec, 2);
    rec.writeUInt16LE(vb.length, 2 + kb.length);
    vb.copy(rec, 4 + kb.length);
    parts.push(rec);
    size += rec.length;
  }
  if (size > 0xffff) throw new UpstreamError("protocol", "uwsgi request variables exceed 64 KiB");
  const head = Buffer.from([0, size & 0xff, size >> 8, 0]);
  return Buffer.concat([head, ...parts]);
}

/** The uwsgi binary protocol over TCP or a unix socket: one connection per request. */
export function uwsgiTransport(addr: UpstreamAddress, timeouts: Timeouts): Transport {
  const open = new Set<import("node:net").Socket>();
  return {
    async request(req: UpstreamRequest): Promise<ClientResponse> {
      const packet = uwsgiPacket(cgiVariables(req));
      const sock = await openSocket(addr, timeouts, req.signal);
      open.add(sock);
      const response = readResponse(sock, "http", timeouts, () => open.delete(sock));
      sock.write(packet);
      if (Buffer.isBuffer(req.body)) sock.write(req.body);
      else if (req.body) req.body.pipe(sock, { end: false });
      return response;
    },
    async close() {
      for (const s of open) s.destroy();
    },
  };
}
