/** A listen address split into host ("" for every interface) and port. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `:8080`, `8080`, `localhost:8080`, `127.0.0.1:8080` or `[::1]:8080`;
 * undefined when it is none of these.
 */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const t = text.trim();
  let host: string;
  let portText: string;
  if (/^\d+$/.test(t)) {
    host = "";
    portText = t;
  } else if (t.startsWith("[")) {
    const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(t);
    if (!m) return undefined;
    host = m[1]!;
    portText = m[2]!;
  } else {
    const i = t.lastIndexOf(":");
    if (i === -1) return undefined;
    host = t.slice(0, i);
    portText = t.slice(i + 1);
    if (host !== "" && !/^[A-Za-z0-9.-]+$/.test(host)) return undefined;
  }
  if (!/^\d+$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  return { host, port };
}

/** The canonical text of an address: `:8080`, `localhost:8080`, `[::1]:8080`. */
export function formatListenAddress(a: ListenAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
