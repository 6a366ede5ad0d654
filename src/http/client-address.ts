import { BlockList, isIP, isIPv6 } from "node:net";
import type { Exchange } from "./exchange.ts";

/** An address without the IPv4-mapped IPv6 prefix (`::ffff:10.0.0.1` → `10.0.0.1`). */
export function plainIp(ip: string): string {
  return ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** Parses addresses and CIDRs (IPv4 and IPv6) into one matcher; IPv4-mapped IPv6 matches as IPv4. */
export function addressMatcher(list: readonly string[]): (ip: string) => boolean {
  if (list.length === 0) return () => false;
  const bl = new BlockList();
  for (const entry of list) {
    const [addr, bits] = entry.split("/");
    const type = isIPv6(addr!) ? "ipv6" : "ipv4";
    if (bits === undefined) bl.addAddress(addr!, type);
    else bl.addSubnet(addr!, Number(bits), type);
  }
  return (ip) => {
    const plain = plainIp(ip);
    const type = isIPv6(plain) ? "ipv6" : isIP(plain) === 4 ? "ipv4" : undefined;
    return type !== undefined && bl.check(plain, type);
  };
}

/** One address from an X-Forwarded-For / X-Real-IP entry or a Forwarded `for=` node. */
function entryAddress(raw: string): string | undefined {
  let v = raw.trim().replace(/^"|"$/g, "");
  if (v.startsWith("[")) v = v.slice(1, v.indexOf("]"));
  else if (isIP(v) === 0 && /^[\d.]+:\d+$/.test(v)) v = v.slice(0, v.lastIndexOf(":"));
  return isIP(v) !== 0 ? plainIp(v) : undefined;
}

/** The addresses a field lists, in order (client first). */
function listed(name: string, value: string): (string | undefined)[] {
  if (name === "forwarded")
    return value.split(",").map((element) => {
      const m = /(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]+)/i.exec(element);
      return m ? entryAddress(m[1]!) : undefined;
    });
  return value.split(",").map(entryAddress);
}

/**
 * The client's address (`{client_ip}`), as nginx's realip with `real_ip_recursive on`:
 * from a trusted peer, the first of `headers` present is read right to left, skipping
 * trusted hops; the first address that is not trusted is the client. From anyone else,
 * the peer's address, whatever the request says. A malformed entry stops the walk.
 */
export function resolveClientIp(
  ex: Exchange,
  trusted: (ip: string) => boolean,
  headers: readonly string[],
): string {
  const peer = plainIp(ex.clientIp);
  if (!trusted(peer)) return peer;
  for (const name of headers) {
    const value = ex.header(name);
    if (value === undefined) continue;
    const chain = listed(name, value);
    let client = peer;
    for (let i = chain.length - 1; i >= 0; i--) {
      const ip = chain[i];
      if (ip === undefined) break;
      client = ip;
      if (!trusted(ip)) break;
    }
    return client;
  }
  return peer;
}
