import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { H1Client } from "../../http/h1-client.ts";
import type { Timeouts } from "../../http/upstream.ts";
import type { UpstreamAddress } from "../../http/upstream-address.ts";
import type { Transport } from "./transport.ts";

export interface HttpTransportOptions {
  timeouts: Timeouts;
  maxConnections: number;
  tls: { verify: boolean; ca?: string | undefined; serverName?: string | undefined };
}

/** How long an unused upstream connection is kept open. */
const IDLE_MS = 30_000;

/** HTTP/1.1 to an upstream over TCP, TLS or a unix socket, on kept-alive connections. */
export function httpTransport(addr: UpstreamAddress, opts: HttpTransportOptions): Transport {
  // The TLS name (SNI and the name the certificate must carry) is the upstream's own, or
  // tls.server_name; never the client's Host.
  const serverName = opts.tls.serverName ?? (addr.host && isIP(addr.host) === 0 ? addr.host : undefined);
  return new H1Client(addr, {
    timeouts: opts.timeouts,
    maxConnections: opts.maxConnections,
    idleTimeout: IDLE_MS,
    tls: {
      verify: opts.tls.verify,
      ca: opts.tls.ca ? readFileSync(opts.tls.ca) : undefined,
      serverName,
    },
  });
}
