import type { Server } from "node:net";
import { WharfError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Engine } from "./engine.ts";
import type { RequestListener } from "./exchange.ts";
import { createWharfEngine } from "./h1-engine.ts";
import type { HttpLimits } from "./limits.ts";
import type { TlsSelection } from "./tls-policy.ts";

interface AddressSlot {
  engines: Engine[];
  handler: RequestListener;
  limits: HttpLimits;
  /** Set for TLS addresses: the certificates by SNI, re-pointed on reload. */
  tls: { current: TlsSelection } | undefined;
  /** Set for addresses behind an L4 balancer: which peers may send a PROXY header. */
  proxyProtocol: ((ip: string) => boolean) | undefined;
}

/** The interfaces a listen host stands for: every interface for "", both loopbacks for localhost. */
function bindHosts(host: string): { host: string; optional: boolean }[] {
  if (host === "") return [{ host: "::", optional: false }];
  if (host === "localhost") {
    return [
      { host: "127.0.0.1", optional: false },
      { host: "::1", optional: true },
    ];
  }
  return [{ host, optional: false }];
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    // exclusive + reusePort: each worker binds its own socket and the kernel spreads
    // connections, instead of the cluster primary handing them out one by one.
    server.listen({ host, port, exclusive: true, reusePort: true, backlog: 4096, ipv6Only: false }, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/**
 * Listening sockets by address, kept across config reloads: a reload re-points an address
 * at the new config's handler instead of closing and re-binding it.
 */
export class ListenerPool {
  readonly #slots = new Map<string, AddressSlot>();
  readonly #log: Logger;
  /** The HTTP/1.1 engine for addresses opened from now on. */
  engine: "wharf" | "node" = "wharf";
  /** Cleartext HTTP/2 (prior knowledge) on plain addresses opened from now on. */
  h2c = false;

  constructor(log: Logger) {
    this.#log = log;
  }

  has(address: string): boolean {
    return this.#slots.has(address);
  }

  /** Whether an open address expects PROXY protocol headers. */
  isProxied(address: string): boolean {
    return this.#slots.get(address)?.proxyProtocol !== undefined;
  }

  /** Whether an open address speaks TLS. */
  isTls(address: string): boolean {
    return this.#slots.get(address)?.tls !== undefined;
  }

  /** Opens `address` (canonical `host:port`) if it is not open yet; with `tls`, as HTTPS (h2 + HTTP/1.1). */
  async open(
    address: string,
    host: string,
    port: number,
    limits: HttpLimits,
    tls?: TlsSelection,
    proxyProtocol?: (ip: string) => boolean,
  ): Promise<void> {
    if (this.#slots.has(address)) return;
    const slot: AddressSlot = {
      engines: [],
      handler: () => {},
      limits: { ...limits },
      tls: tls ? { current: tls } : undefined,
      proxyProtocol,
    };
    const onRequest: RequestListener = (ex) => slot.handler(ex);
    try {
      for (const b of bindHosts(host)) {
        const engine = await this.#engine(slot, onRequest);
        try {
          await listen(engine.server, b.host, port);
        } catch (err) {
          if (b.optional) continue;
          if (b.host === "::" && (err as NodeJS.ErrnoException).code === "EAFNOSUPPORT") {
            await listen(engine.server, "0.0.0.0", port);
          } else throw err;
        }
        slot.engines.push(engine);
      }
    } catch (err) {
      for (const e of slot.engines) e.server.close();
      throw err;
    }
    this.#slots.set(address, slot);
  }

  /**
   * An engine for one listening socket. Only what an address needs is loaded (node:http,
   * node:http2 and node:tls each cost start-up time): plain HTTP/1.1 on wharf's engine needs none.
   */
  async #engine(slot: AddressSlot, onRequest: RequestListener): Promise<Engine> {
    if (slot.tls) {
      if (this.engine === "node")
        return (await import("./tls-engine.ts")).createTlsEngine(slot.limits, slot.tls, onRequest, this.#log);
      return (await import("./wharf-tls-engine.ts")).createWharfTlsEngine(
        slot.limits,
        slot.tls,
        onRequest,
        this.#log,
        proxyTrust(slot),
      );
    }
    if (this.engine === "node")
      return (await import("./h1-node.ts")).createNodeEngine(slot.limits, onRequest, this.#log);
    const h2 = this.h2c
      ? new (await import("./h2-sessions.ts")).H2Sessions(slot.limits, onRequest, this.#log, "http")
      : undefined;
    return createWharfEngine(slot.limits, onRequest, this.#log, { h2, proxyProtocol: proxyTrust(slot) });
  }

  /** Points an open address at a handler; later requests go there, in-flight ones finish where they are. */
  route(
    address: string,
    handler: RequestListener,
    limits: HttpLimits,
    tls?: TlsSelection,
    proxyProtocol?: (ip: string) => boolean,
  ): void {
    const slot = this.#slots.get(address);
    if (!slot) throw new WharfError("WHARF_ERR_INTERNAL", `not listening on ${address}`);
    slot.handler = handler;
    if (slot.proxyProtocol !== undefined && proxyProtocol !== undefined) slot.proxyProtocol = proxyProtocol;
    if (slot.tls && tls && slot.tls.current !== tls) {
      slot.tls.current = tls;
      for (const e of slot.engines) e.tls?.setSecureContext(tls.defaultOptions);
    }
    Object.assign(slot.limits, limits);
    for (const e of slot.engines) e.applyLimits();
  }

  /** New session-ticket keys for every TLS listener (old tickets then need a full handshake). */
  setTicketKeys(keys: Buffer): void {
    for (const slot of this.#slots.values()) {
      if (!slot.tls) continue;
      slot.tls.current.ticketKeys = keys;
      for (const e of slot.engines) e.tls?.setTicketKeys(keys);
    }
  }

  /** The addresses bound, as URLs (`http://127.0.0.1:8080`, `https://[::]:443`): port 0 resolved. */
  boundAddresses(): string[] {
    const out: string[] = [];
    for (const slot of this.#slots.values()) {
      const scheme = slot.tls ? "https" : "http";
      for (const e of slot.engines) {
        const a = e.server.address();
        if (a && typeof a === "object")
          out.push(`${scheme}://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`);
      }
    }
    return out;
  }

  /** Client connections open now, by protocol, over every address. */
  connections(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const slot of this.#slots.values())
      for (const e of slot.engines)
        for (const [k, n] of Object.entries(e.connections())) out[k] = (out[k] ?? 0) + n;
    return out;
  }

  /** Drains and closes every address not in `keep`. */
  async closeExcept(keep: Set<string>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [address, slot] of this.#slots) {
      if (keep.has(address)) continue;
      this.#slots.delete(address);
      closing.push(...slot.engines.map((e) => this.#drain(e)));
    }
    await Promise.all(closing);
  }

  /** Drains everything: no new connections, idle ones closed, in-flight ones finish. */
  drainAll(): Promise<void> {
    return this.closeExcept(new Set());
  }

  /** Cuts every connection now (the end of a shutdown's grace period). */
  destroyAll(): void {
    for (const slot of this.#slots.values()) for (const e of slot.engines) e.destroyAll();
    for (const e of this.#draining) e.destroyAll();
  }

  readonly #draining = new Set<Engine>();

  #drain(engine: Engine): Promise<void> {
    this.#draining.add(engine);
    return new Promise((resolve) => {
      engine.server.once("close", () => {
        this.#draining.delete(engine);
        resolve();
      });
      engine.drain();
    });
  }
}

/** The PROXY-protocol trust of an address as of now (a reload may change the trusted peers). */
function proxyTrust(slot: AddressSlot): ((ip: string) => boolean) | undefined {
  if (slot.proxyProtocol === undefined) return undefined;
  return (ip) => slot.proxyProtocol?.(ip) ?? false;
}
