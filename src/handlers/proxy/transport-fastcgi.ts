import type { Socket } from "node:net";
import { PassThrough } from "node:stream";
import { pump } from "../../core/pump.ts";
import type { ClientResponse, Timeouts } from "../../http/upstream.ts";
import type { UpstreamAddress } from "../../http/upstream-address.ts";
import { cgiVariables } from "./cgi-vars.ts";
import { openSocket, readResponse } from "./socket-exchange.ts";
import type { Transport, UpstreamRequest } from "./transport.ts";

// FastCGI 1.0 record types and the responder role.
const BEGIN_REQUEST = 1;
const END_REQUEST = 3;
const PARAMS = 4;
const STDIN = 5;
const STDOUT = 6;
const STDERR = 7;
const RESPONDER = 1;
const REQUEST_ID = 1;
const MAX_CONTENT = 0xffff;

function record(type: number, content: Buffer): Buffer {
  const padding = (8 - (content.length % 8)) % 8;
  const out = Buffer.alloc(8 + content.length + padding);
  out[0] = 1;
  out[1] = type;
  out.writeUInt16BE(REQUEST_ID, 2);
  out.writeUInt16BE(content.length, 4);
  out[6] = padding;
  content.copy(out, 8);
  return out;
}

/** Splits a stream's bytes into records of at most 64 KiB. */
function records(type: number, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += MAX_CONTENT)
    out.push(record(type, data.subarray(i, i + MAX_CONTENT)));
  return out;
}

function nameValueLength(n: number): Buffer {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0);
  return b;
}

/** Encodes FastCGI name-value pairs (§3.4). */
export function encodeParams(vars: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of vars) {
    const kb = Buffer.from(k, "latin1");
    const vb = Buffer.from(v, "latin1");
    parts.push(nameValueLength(kb.length), nameValueLength(vb.length), kb, vb);
  }
  return Buffer.concat(parts);
}

/**
 * Decodes the records coming back and routes STDOUT into `stdout` (STDERR to `onStderr`);
 * END_REQUEST ends the stream.
 */
function demux(sock: Socket, stdout: PassThrough, onStderr: (text: string) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  sock.on("data", (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 8) {
      const type = buf[1]!;
      const len = buf.readUInt16BE(4);
      const pad = buf[6]!;
      if (buf.length < 8 + len + pad) break;
      const content = buf.subarray(8, 8 + len);
      buf = buf.subarray(8 + len + pad);
      if (type === STDOUT && len > 0) {
        if (!stdout.write(content)) {
          sock.pause();
          stdout.once("drain", () => sock.resume());
        }
      } else if (type === STDERR && len > 0) onStderr(content.toString("utf8"));
      else if (type === END_REQUEST) {
        stdout.end();
        sock.end();
        return;
      }
    }
  });
  sock.on("end", () => stdout.end());
  sock.on("error", (err) => stdout.destroy(err));
  stdout.on("close", () => sock.destroy());
}

/** FastCGI responder role over TCP or a unix socket (as nginx's fastcgi_pass): one connection per request. */
export function fastcgiTransport(
  addr: UpstreamAddress,
  timeouts: Timeouts,
  onStderr: (text: string) => void,
): Transport {
  const open = new Set<Socket>();
  return {
    async request(req: UpstreamRequest): Promise<ClientResponse> {
      const params = encodeParams(cgiVariables(req));
      const sock = await openSocket(addr, timeouts, req.signal);
      open.add(sock);
      const stdout = new PassThrough({ highWaterMark: 256 * 1024 });
      demux(sock, stdout, onStderr);
      const response = readResponse(stdout, "cgi", timeouts, () => open.delete(sock));
      const begin = Buffer.alloc(8);
      begin.writeUInt16BE(RESPONDER, 0);
      sock.write(
        Buffer.concat([
          record(BEGIN_REQUEST, begin),
          ...records(PARAMS, params),
          record(PARAMS, Buffer.alloc(0)),
        ]),
      );
      if (Buffer.isBuffer(req.body)) {
        for (const r of records(STDIN, req.body)) sock.write(r);
        sock.write(record(STDIN, Buffer.alloc(0)));
      } else if (req.body) {
        const sink = {
          write: (chunk: Buffer) => {
            let ok = true;
            for (const r of records(STDIN, chunk)) ok = sock.write(r) && ok;
            return ok;
          },
          onDrain: (resume: () => void) => sock.once("drain", resume),
        };
        // A body that fails (too large, cut off) ends the request: the error is the response's.
        pump(req.body, sink, (err) => (err ? sock.destroy(err) : sock.write(record(STDIN, Buffer.alloc(0)))));
      } else sock.write(record(STDIN, Buffer.alloc(0)));
      return response;
    },
    async close() {
      for (const s of open) s.destroy();
    },
  };
}
