import { createServer, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import type { Logger } from "../core/logger.ts";
import type { Engine } from "./engine.ts";
import type { RequestListener } from "./exchange.ts";
import { type CoarseClock, H1Connection, type H1Shared } from "./h1-connection.ts";
import type { H2Sessions } from "./h2-sessions.ts";
import type { HttpLimits } from "./limits.ts";
import { acceptProxyHeader } from "./proxy-protocol.ts";
import { sniff } from "./sniff.ts";

/**
 * The connections of one listener and the one timer that enforces their deadlines: a
 * sweep every so often instead of a timer per request (cheaper on the hot path, and an
 * idle connection holds no timer at all).
 */
export class H1Connections {
  readonly shared: H1Shared;
  readonly #all = new Set<H1Connection>();
  /** Sockets handed over for a protocol switch, still cut by `destroyAll`. */
  readonly #released = new Set<Duplex>();
  #timer: NodeJS.Timeout | undefined;
  readonly #clock: CoarseClock = { now: performance.now(), tick: 1000 };

  constructor(limits: HttpLimits, onRequest: RequestListener, log: Logger, scheme: "http" | "https") {
    this.shared = { limits, onRequest, log, scheme, draining: false };
  }

  /** Connections open now. */
  get size(): number {
    return this.#all.size;
  }

  /** Takes a new connection (plain or TLS, already handshaken). */
  add(socket: Duplex & { setNoDelay?: (on: boolean) => unknown }): H1Connection {
    if (this.#timer === undefined) {
      this.#clock.now = performance.now();
      this.#timer = this.#startSweeper();
    }
    const conn = new H1Connection(socket, this.shared, this.#clock);
    this.#all.add(conn);
    conn.onClosed = () => this.#all.delete(conn);
    conn.onReleased = (s) => {
      this.#all.delete(conn);
      this.#released.add(s);
      s.once("close", () => this.#released.delete(s));
    };
    if (this.shared.draining) conn.closeIfIdle();
    return conn;
  }

  #startSweeper(): NodeJS.Timeout {
    const l = this.shared.limits;
    const tick = Math.max(50, Math.min(1000, Math.min(l.headerTimeout, l.requestTimeout, l.idleTimeout) / 4));
    this.#clock.tick = tick;
    const t = setInterval(() => {
      const now = performance.now();
      this.#clock.now = now;
      for (const c of this.#all) if (c.deadline !== 0 && c.deadline <= now) c.timeout();
    }, tick);
    t.unref();
    return t;
  }

  /** A new tick for new limits. */
  restartSweeper(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = this.#all.size > 0 || this.#timer ? this.#startSweeper() : undefined;
  }

  drain(): void {
    this.shared.draining = true;
    for (const c of this.#all) c.closeIfIdle();
  }

  destroyAll(): void {
    for (const c of this.#all) c.socket.destroy();
    for (const s of this.#released) s.destroy();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** What a cleartext HTTP/2 connection starts with (RFC 9113 §3.4). */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * The HTTP/1.1 engine of wharf's own: a parser and response writer on `node:net` sockets.
 * With `h2` (cleartext HTTP/2 enabled), a connection that opens with the HTTP/2 preface
 * is served HTTP/2 instead.
 */
export function createWharfEngine(
  limits: HttpLimits,
  onRequest: RequestListener,
  log: Logger,
  opts: { h2?: H2Sessions | undefined; proxyProtocol?: ((ip: string) => boolean) | undefined } = {},
): Engine {
  const conns = new H1Connections(limits, onRequest, log, "http");
  const h2 = opts.h2;
  const proxyProtocol = opts.proxyProtocol;
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket: Socket) => {
    if (proxyProtocol === undefined) return serve(socket);
    // Behind a load balancer speaking PROXY protocol: its header comes first.
    acceptProxyHeader(socket, proxyProtocol, () => {
      serve(socket);
      socket.resume();
    });
  });
  const serve = (socket: Socket) => {
    if (h2 === undefined) {
      conns.add(socket);
      return;
    }
    // The first bytes decide: the preface (or as much of it as came) means HTTP/2.
    const isPreface = (seen: Buffer) => {
      const n = Math.min(seen.length, PREFACE.length);
      return seen.compare(PREFACE, 0, n, 0, n) === 0;
    };
    sniff(
      socket,
      (seen) => !isPreface(seen) || seen.length >= PREFACE.length,
      (seen) => {
        if (isPreface(seen)) h2.accept(socket);
        else {
          conns.add(socket);
          socket.resume();
        }
      },
    );
  };
  server.on("close", () => conns.close());
  const applyLimits = () => {
    server.maxConnections = limits.maxConnections;
    conns.restartSweeper();
  };
  applyLimits();
  return {
    server,
    connections: () => ({ h1: conns.size, h2c: h2?.size ?? 0 }),
    drain() {
      server.close();
      conns.drain();
      h2?.drain();
    },
    destroyAll: () => {
      conns.destroyAll();
      h2?.destroyAll();
    },
    applyLimits,
  };
}
