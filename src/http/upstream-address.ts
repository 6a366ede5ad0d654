/** Where an upstream is and how it is spoken to. */
export interface UpstreamAddress {
  protocol: "http" | "uwsgi" | "fastcgi";
  tls: boolean;
  /** Set for TCP upstreams. */
  host?: string;
  port?: number;
  /** Set for unix-socket upstreams. */
  socketPath?: string;
  /** The canonical text, used as the upstream's identity. */
  text: string;
}

/**
 * Parses `http://host:port`, `https://host:port`, `unix:/path.sock`, `uwsgi://host:port`,
 * `uwsgi+unix:/path`, `fastcgi://host:port` and `fastcgi+unix:/path`. Returns an error
 * message when the text is none of these.
 */
export function parseUpstreamAddress(text: string): UpstreamAddress | string {
  const unix = /^(?:(uwsgi|fastcgi|http)\+)?unix:(\/.+)$/.exec(text);
  if (unix) {
    return {
      protocol: (unix[1] ?? "http") as UpstreamAddress["protocol"],
      tls: false,
      socketPath: unix[2]!,
      text,
    };
  }
  const m = /^(http|https|uwsgi|fastcgi):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(
    text,
  );
  if (!m) {
    return `must be an upstream address such as "http://127.0.0.1:8000", "unix:/run/app.sock", "uwsgi://127.0.0.1:3031" or "fastcgi+unix:/run/app.sock" (no path)`;
  }
  const scheme = m[1]!;
  const port =
    m[3] !== undefined ? Number(m[3]) : scheme === "https" ? 443 : scheme === "http" ? 80 : undefined;
  if (port === undefined || port < 1 || port > 65535) return `${scheme}:// upstreams need a port`;
  const host = m[2]!.startsWith("[") ? m[2]!.slice(1, -1) : m[2]!;
  return {
    protocol: scheme === "https" ? "http" : (scheme as UpstreamAddress["protocol"]),
    tls: scheme === "https",
    host,
    port,
    text,
  };
}
