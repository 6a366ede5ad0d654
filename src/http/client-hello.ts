/**
 * Reads the server name (SNI) and the offered ALPN protocols from a TLS ClientHello, as
 * it arrives on the socket before any TLS processing (RFC 8446 §4.1.2, RFC 6066 §3,
 * RFC 7301 §3.1). Used to answer TLS-ALPN-01 challenges (RFC 8737), whose certificate
 * depends on the ALPN offer, which a certificate callback cannot see.
 */

export interface HelloFacts {
  serverName: string | undefined;
  alpn: string[];
}

/** The number of bytes the first TLS record needs, or -1 when this is not a handshake record. */
export function firstRecordLength(buf: Buffer): number {
  if (buf.length < 5) return 5;
  if (buf[0] !== 22) return -1;
  return 5 + buf.readUInt16BE(3);
}

/** Parses the ClientHello in the first record of `buf`; undefined when it is not one (or is cut short). */
export function readClientHello(buf: Buffer): HelloFacts | undefined {
  const end = firstRecordLength(buf);
  if (end < 0 || buf.length < end) return undefined;
  let p = 5;
  if (buf[p] !== 1) return undefined; // handshake type: client_hello
  const helloEnd = Math.min(end, p + 4 + buf.readUIntBE(p + 1, 3));
  p += 4;
  p += 2 + 32; // legacy_version, random
  if (p >= helloEnd) return undefined;
  p += 1 + buf[p]!; // legacy_session_id
  if (p + 2 > helloEnd) return undefined;
  p += 2 + buf.readUInt16BE(p); // cipher_suites
  if (p >= helloEnd) return undefined;
  p += 1 + buf[p]!; // legacy_compression_methods
  const facts: HelloFacts = { serverName: undefined, alpn: [] };
  if (p + 2 > helloEnd) return facts;
  const extEnd = Math.min(helloEnd, p + 2 + buf.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    const data = p + 4;
    if (data + len > extEnd) return undefined;
    if (type === 0) facts.serverName = readServerName(buf, data, data + len);
    else if (type === 16) facts.alpn = readAlpn(buf, data, data + len);
    p = data + len;
  }
  return facts;
}

function readServerName(buf: Buffer, p: number, end: number): string | undefined {
  if (p + 2 > end) return undefined;
  p += 2; // server_name_list length
  while (p + 3 <= end) {
    const type = buf[p]!;
    const len = buf.readUInt16BE(p + 1);
    if (p + 3 + len > end) return undefined;
    if (type === 0) return buf.toString("latin1", p + 3, p + 3 + len).toLowerCase();
    p += 3 + len;
  }
  return undefined;
}

function readAlpn(buf: Buffer, p: number, end: number): string[] {
  const out: string[] = [];
  if (p + 2 > end) return out;
  p += 2; // protocol_name_list length
  while (p < end) {
    const len = buf[p]!;
    if (p + 1 + len > end) break;
    out.push(buf.toString("latin1", p + 1, p + 1 + len));
    p += 1 + len;
  }
  return out;
}
