import type { Socket } from "node:net";
import { sniff } from "./sniff.ts";

/** The client a PROXY protocol header names. */
export interface ProxiedPeer {
  address: string;
  port: number;
}

const V2_SIGNATURE = Buffer.from("\r\n\r\n\0\r\nQUIT\n", "latin1");
/** A v1 line is at most 107 bytes (the spec's bound). */
const V1_MAX = 107;

export type ProxyHeader =
  | { kind: "incomplete" }
  | { kind: "invalid" }
  /** `peer` undefined: a LOCAL or UNKNOWN header (the proxy's own connection, e.g. a health check). */
  | { kind: "header"; length: number; peer: ProxiedPeer | undefined };

/**
 * Parses a PROXY protocol header (HAProxy's spec, v1 text and v2 binary) at the start of
 * `buf`: how long it is and who the client is.
 */
export function parseProxyHeader(buf: Buffer): ProxyHeader {
  const n = Math.min(buf.length, V2_SIGNATURE.length);
  if (buf.compare(V2_SIGNATURE, 0, n, 0, n) === 0) {
    if (buf.length < 16) return { kind: "incomplete" };
    const verCmd = buf[12]!;
    if (verCmd >> 4 !== 2) return { kind: "invalid" };
    const length = 16 + buf.readUInt16BE(14);
    if (buf.length < length) return { kind: "incomplete" };
    const cmd = verCmd & 0x0f;
    if (cmd === 0) return { kind: "header", length, peer: undefined }; // LOCAL
    if (cmd !== 1) return { kind: "invalid" };
    const family = buf[13]! >> 4;
    if (family === 1 && length >= 16 + 12) {
      const a = buf.subarray(16, 20);
      return { kind: "header", length, peer: { address: [...a].join("."), port: buf.readUInt16BE(24) } };
    }
    if (family === 2 && length >= 16 + 36) {
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(16 + i).toString(16));
      return { kind: "header", length, peer: { address: compressV6(groups), port: buf.readUInt16BE(48) } };
    }
    return { kind: "header", length, peer: undefined }; // UNSPEC or unix: no address to use
  }
  const prefix = "PROXY ";
  const head = buf.subarray(0, Math.min(buf.length, prefix.length)).toString("latin1");
  if (!prefix.startsWith(head)) return { kind: "invalid" };
  const end = buf.indexOf("\r\n");
  if (end === -1) return buf.length >= V1_MAX ? { kind: "invalid" } : { kind: "incomplete" };
  if (end + 2 > V1_MAX) return { kind: "invalid" };
  const parts = buf.subarray(0, end).toString("latin1").split(" ");
  if (parts[1] === "UNKNOWN") return { kind: "header", length: end + 2, peer: undefined };
  if ((parts[1] !== "TCP4" && parts[1] !== "TCP6") || parts.length !== 6) return { kind: "invalid" };
  const port = Number(parts[4]);
  if (!/^\d{1,5}$/.test(parts[4]!) || port > 65535) return { kind: "invalid" };
  return { kind: "header", length: end + 2, peer: { address: parts[2]!, port } };
}

function compressV6(groups: string[]): string {
  const text = groups.join(":");
  // The longest run of zero groups becomes "::" (RFC 5952).
  let best = "";
  for (const m of `:${text}:`.matchAll(/:(0(?::0)+):/g)) if (m[1]!.length > best.length) best = m[1]!;
  if (best === "") return text;
  return `:${text}:`.replace(`:${best}:`, "::").replace(/^:(?!:)|(?<!:):$/g, "");
}

/** The client addresses PROXY headers named, by the connection they came on. */
const proxied = new WeakMap<object, ProxiedPeer>();

/**
 * The client behind a connection: what a PROXY header said, else the socket's own peer.
 * Works for the raw socket and for a TLS socket over it (`_parent`).
 */
export function peerOf(socket: object | undefined): ProxiedPeer | undefined {
  if (socket === undefined) return undefined;
  const own = proxied.get(socket);
  if (own !== undefined) return own;
  const parent = (socket as { _parent?: object })._parent;
  return parent === undefined ? undefined : proxied.get(parent);
}

/**
 * Reads a PROXY header from a new connection before anything else sees its bytes. A
 * connection from a peer that is not `trusted`, or without a valid header, is closed.
 */
export function acceptProxyHeader(socket: Socket, trusted: (ip: string) => boolean, then: () => void): void {
  if (!trusted(socket.remoteAddress ?? "")) {
    socket.destroy();
    return;
  }
  let parsed: ProxyHeader = { kind: "incomplete" };
  sniff(
    socket,
    (buf) => {
      parsed = parseProxyHeader(buf);
      return parsed.kind !== "incomplete";
    },
    (buf) => {
      if (parsed.kind !== "header") {
        socket.destroy();
        return;
      }
      // What follows the header belongs to the next reader: put back only that.
      socket.read(parsed.length);
      void buf;
      if (parsed.peer) proxied.set(socket, parsed.peer);
      then();
    },
  );
  socket.on("error", () => socket.destroy());
}
