import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { Logger } from "../core/logger.ts";
import type { Engine } from "./engine.ts";
import type { RequestListener } from "./exchange.ts";
import { H1Connections } from "./h1-engine.ts";
import { H2Sessions } from "./h2-sessions.ts";
import type { HttpLimits } from "./limits.ts";
import { tlsFront } from "./tls-front.ts";
import { attachOcsp, type TlsSelection, tlsServerOptions } from "./tls-policy.ts";

/**
 * HTTPS on wharf's own engine: after the handshake, ALPN `h2` goes to HTTP/2 (node:http2's
 * stream API, wharf's Exchange per stream), `http/1.1` (or none) to wharf's HTTP/1.1
 * connections. TLS-ALPN-01 validations are answered in front of it.
 */
export function createWharfTlsEngine(
  limits: HttpLimits,
  selection: { current: TlsSelection },
  onRequest: RequestListener,
  log: Logger,
  proxyProtocol?: (ip: string) => boolean,
): Engine {
  const h1 = new H1Connections(limits, onRequest, log, "https");
  const h2 = new H2Sessions(limits, onRequest, log, "https");
  const tls = createTlsServer({
    ...tlsServerOptions(selection),
    ALPNProtocols: ["h2", "http/1.1"],
    allowHalfOpen: true,
  });
  tls.on("secureConnection", (socket: TLSSocket) => {
    if (socket.alpnProtocol === "h2") h2.accept(socket);
    else {
      socket.setNoDelay(true);
      h1.add(socket);
    }
  });
  attachOcsp(tls, selection);
  tls.on("tlsClientError", (err: NodeJS.ErrnoException) =>
    log.debug("tls handshake failed", { code: err.code }),
  );
  const front = tlsFront(tls, () => selection.current.helloDivert, proxyProtocol);
  const applyLimits = () => {
    front.maxConnections = limits.maxConnections;
    h1.restartSweeper();
    h2.applyLimits();
  };
  applyLimits();
  front.on("close", () => h1.close());
  return {
    server: front,
    tls,
    connections: () => ({ "h1-tls": h1.size, h2: h2.size }),
    drain() {
      front.close();
      h1.drain();
      h2.drain();
    },
    destroyAll() {
      h1.destroyAll();
      h2.destroyAll();
    },
    applyLimits,
  };
}
