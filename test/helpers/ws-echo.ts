import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";

/** Decodes client frames (masked) from `buf`; returns complete frames and the rest. */
function decodeFrames(buf: Buffer): { frames: { opcode: number; payload: Buffer }[]; rest: Buffer } {
  const frames: { opcode: number; payload: Buffer }[] = [];
  let off = 0;
  while (buf.length - off >= 2) {
    const opcode = buf[off]! & 0x0f;
    let len = buf[off + 1]! & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length < p + 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length < p + 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    if (buf.length < p + 4 + len) break;
    const mask = buf.subarray(p, p + 4);
    const payload = Buffer.from(buf.subarray(p + 4, p + 4 + len));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
    frames.push({ opcode, payload });
    off = p + 4 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const head =
    payload.length < 126
      ? Buffer.from([0x80 | opcode, payload.length])
      : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

/** A minimal RFC 6455 echo server (text and binary echoed with "echo: " before text). */
export function wsEchoServer(): Server {
  const server = createServer((_req, res) => res.end("not a websocket\n"));
  server.on("upgrade", (req, socket: Socket) => {
    const key = String(req.headers["sec-websocket-key"]);
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
        `X-Seen-Forwarded-For: ${req.headers["x-forwarded-for"]}\r\n\r\n`,
    );
    let buf: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const { frames, rest } = decodeFrames(buf);
      buf = rest;
      for (const f of frames) {
        if (f.opcode === 8) {
          socket.end(encodeFrame(8, f.payload));
          return;
        }
        if (f.opcode === 1) socket.write(encodeFrame(1, Buffer.concat([Buffer.from("echo: "), f.payload])));
        else if (f.opcode === 2) socket.write(encodeFrame(2, f.payload));
        else if (f.opcode === 9) socket.write(encodeFrame(10, f.payload));
      }
    });
    socket.on("error", () => socket.destroy());
  });
  return server;
}
