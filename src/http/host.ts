/**
 * Parses a Host header value (RFC 9110 §7.2, RFC 3986 authority) into a lower-case host
 * without its port; undefined when the value is not a valid authority.
 */
export function parseHostHeader(value: string): string | undefined {
  // Requests on a connection (and most of a server's traffic) name the same host.
  if (value === lastValue) return lastHost;
  const host = parseHost(value);
  lastValue = value;
  lastHost = host;
  return host;
}

let lastValue = "";
let lastHost: string | undefined = "";

function parseHost(value: string): string | undefined {
  if (value === "") return "";
  let host: string;
  let port = "";
  if (value.charCodeAt(0) === 91 /* [ */) {
    const end = value.indexOf("]");
    if (end === -1) return undefined;
    host = value.slice(0, end + 1);
    const rest = value.slice(end + 1);
    if (rest !== "") {
      if (rest[0] !== ":") return undefined;
      port = rest.slice(1);
    }
    if (!/^\[[0-9a-fA-F:.]+\]$/.test(host)) return undefined;
  } else {
    const colon = value.indexOf(":");
    host = colon === -1 ? value : value.slice(0, colon);
    port = colon === -1 ? "" : value.slice(colon + 1);
    if (!/^[A-Za-z0-9._~!$&'()*+,;=%-]+$/.test(host)) return undefined;
  }
  if (port !== "" && !/^[0-9]{1,5}$/.test(port)) return undefined;
  host = host.toLowerCase();
  // A trailing dot names the same host (example.com. == example.com).
  return host.endsWith(".") ? host.slice(0, -1) : host;
}
