import type { Server } from "node:net";
import type { Server as TlsServer } from "node:tls";

/** A protocol engine on one listening socket: turns connections into Exchanges. */
export interface Engine {
  /** The listening socket. */
  readonly server: Server;
  /** For HTTPS: the TLS server behind it (certificates and ticket keys are set there). */
  readonly tls?: TlsServer | undefined;
  /** Stops accepting, closes idle connections, and answers remaining requests with `Connection: close`. */
  drain(): void;
  /** Closes every connection now. */
  destroyAll(): void;
  /** Re-reads the limits object it was given (after a reload changed it). */
  applyLimits(): void;
  /** Client connections open now, by protocol (`h1`, `h1-tls`, `h2`, `h2c`). */
  connections(): Record<string, number>;
}
