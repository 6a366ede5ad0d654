import { readFileSync } from "node:fs";
import { Pool } from "undici";
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
  const pool = new Pool(origin, {
    connections: opts.maxConnections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: opts.timeouts.header,
    bodyTimeout: opts.timeouts.read,
    connect: {
      timeout: opts.timeouts.connect,
      ...(addr.socketPath ? { socketPath: addr.socketPath } : {}),
      ...(addr.tls
        ? {
            rejectUnauthorized: opts.tls.verify,
            ...(opts.tls.ca ? { ca: readFileSync(opts.tls.ca) } : {}),
            ...(opts.tls.serverName ? { servername: opts.tls.serverName } : {}),
          }
        : {}),
    },
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
        });
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
