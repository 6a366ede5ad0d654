import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { buildConnector, Pool } from "undici";
import type { UpstreamAddress } from "./address.ts";
import {
  classify,
  type Timeouts,
  type Transport,
  type UpstreamRequest,
  type UpstreamResponse,
} from "./transport.ts";

export interface HttpTransportOptions {
  timeouts: Timeouts;
  maxConnections: number;
  tls: { verify: boolean; ca?: string | undefined; serverName?: string | undefined };
}

/** HTTP/1.1 to an upstream over TCP, TLS or a unix socket, with a keep-alive pool (undici). */
export function httpTransport(addr: UpstreamAddress, opts: HttpTransportOptions): Transport {
  const origin = addr.socketPath
    ? "http://localhost"
    : `${addr.tls ? "https" : "http"}://${addr.host!.includes(":") ? `[${addr.host}]` : addr.host}:${addr.port}`;
  const base = buildConnector({
    timeout: opts.timeouts.connect,
    ...(addr.socketPath ? { socketPath: addr.socketPath } : {}),
    ...(addr.tls
      ? {
          rejectUnauthorized: opts.tls.verify,
          ...(opts.tls.ca ? { ca: readFileSync(opts.tls.ca) } : {}),
        }
      : {}),
  });
  // The TLS name (SNI and the name the certificate must carry) is the upstream's own, or
  // tls.server_name; never the client's Host, which undici would otherwise take from the
  // forwarded header.
  const tlsName = opts.tls.serverName ?? (addr.host && isIP(addr.host) === 0 ? addr.host : undefined);
  const connect: buildConnector.connector = (o, cb) =>
    base({ ...o, servername: tlsName ?? "", ...(tlsName ? {} : { hostname: addr.host ?? o.hostname }) }, cb);
  const pool = new Pool(origin, {
    connections: opts.maxConnections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: opts.timeouts.header,
    bodyTimeout: opts.timeouts.read,
    connect,
  });
  return {
    async request(req: UpstreamRequest): Promise<UpstreamResponse> {
      const flat: string[] = [];
      for (const [k, v] of req.headers) flat.push(k, v);
      try {
        const r = await pool.request({
          path: req.path,
          method: req.method as "GET",
          headers: flat,
          body: req.body ?? null,
          signal: req.signal,
          // A fixed name: undici would reconnect to an https upstream whenever the Host
          // header (and so its idea of the server name) changes between requests.
          servername: tlsName ?? "upstream",
        } as Parameters<typeof pool.request>[0]);
        const headers: [string, string][] = [];
        for (const [k, v] of Object.entries(r.headers)) {
          if (Array.isArray(v)) for (const one of v) headers.push([k, one]);
          else if (v !== undefined) headers.push([k, v]);
        }
        return { status: r.statusCode, headers, body: r.body };
      } catch (err) {
        throw classify(err);
      }
    },
    close: () => pool.close(),
  };
}
