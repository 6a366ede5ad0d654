import type { Server } from "node:net";

/** A protocol engine on one listening socket: turns connections into Exchanges. */
export interface Engine {
  readonly server: Server;
  /** Stops accepting, closes idle connections, and answers remaining requests with `Connection: close`. */
  drain(): void;
  /** Closes every connection now. */
  destroyAll(): void;
  /** Re-reads the limits object it was given (after a reload changed it). */
  applyLimits(): void;
}
