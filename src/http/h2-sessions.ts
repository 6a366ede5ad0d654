import {
  createServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import type { Logger } from "../core/logger.ts";
import type { RequestListener } from "./exchange.ts";
import { H2Exchange, type H2Peer } from "./h2-exchange.ts";
import { H2Tracker, h2ServerOptions } from "./h2-tracker.ts";
import type { HttpLimits } from "./limits.ts";
import { peerOf } from "./proxy-protocol.ts";
import { routeTarget } from "./target.ts";

/**
 * HTTP/2 on connections handed over by a listener (TLS with ALPN h2, or cleartext with
 * the prior-knowledge preface): node:http2 frames, flow control and HPACK, wharf's
 * Exchange per stream, with the limits of {@link h2ServerOptions}.
 */
export class H2Sessions {
  readonly #server;
  readonly #tracker = new H2Tracker();
  readonly #peers = new WeakMap<Http2Session, H2Peer>();
  readonly #limits: HttpLimits;

  constructor(limits: HttpLimits, onRequest: RequestListener, log: Logger, scheme: "http" | "https") {
    this.#limits = limits;
    this.#server = createServer(h2ServerOptions(limits) as Parameters<typeof createServer>[0]);
    this.#server.setTimeout(limits.idleTimeout);
    this.#server.on("session", (s: Http2Session) => {
      // The peer is read now: a session's socket is gone by the time a late log line asks.
      const socket = s.socket;
      const proxied = peerOf(socket);
      this.#peers.set(s, {
        scheme,
        address: proxied?.address ?? socket?.remoteAddress ?? "",
        port: proxied?.port ?? socket?.remotePort ?? 0,
      });
      this.#tracker.session(s);
      s.on("error", (err: Error) => log.debug("http2 session error", { err: err.message }));
    });
    this.#server.on(
      "stream",
      (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
        this.#tracker.stream(stream);
        stream.on("error", () => {});
        const refused = this.#admit(stream, headers, raw);
        if (refused !== undefined) return;
        const routed = routeTarget(
          (headers[":method"] as string) ?? "GET",
          (headers[":path"] as string | undefined) ?? "",
          (headers[":authority"] as string | undefined) ?? headers.host ?? "",
        );
        if (typeof routed === "number") return void respondStatus(stream, routed);
        const peer = (stream.session && this.#peers.get(stream.session)) ?? { scheme, address: "", port: 0 };
        const ex = new H2Exchange(stream, headers, raw, routed, peer, performance.now(), limits.maxBodySize);
        try {
          onRequest(ex);
        } catch (err) {
          log.error("request handler threw", { err });
          if (!ex.answered) stream.close(0x2);
        }
      },
    );
  }

  /** The checks HTTP/1.1 makes while parsing: target length, header size, declared body size, CONNECT. */
  #admit(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, raw: string[]): number | undefined {
    const l = this.#limits;
    const path = (headers[":path"] as string | undefined) ?? "";
    if (headers[":method"] === "CONNECT") return respondStatus(stream, 405);
    if (path.length > l.maxUriLength) return respondStatus(stream, 414);
    let size = 0;
    for (let i = 0; i < raw.length; i += 2)
      if (raw[i]!.charCodeAt(0) !== 58) size += raw[i]!.length + raw[i + 1]!.length + 4;
    if (size > l.maxHeaderSize) return respondStatus(stream, 431);
    const cl = headers["content-length"];
    if (cl !== undefined && Number(cl) > l.maxBodySize) return respondStatus(stream, 413);
    return undefined;
  }

  /** Serves HTTP/2 on a connection (its TLS handshake done, or its preface unread). */
  accept(socket: Duplex): void {
    this.#server.emit("connection", socket);
  }

  /** Sessions open now. */
  get size(): number {
    return this.#tracker.size;
  }

  /** GOAWAY to every client: streams in flight finish, then each session closes. */
  drain(): void {
    this.#tracker.drain();
  }

  destroyAll(): void {
    this.#tracker.destroyAll();
  }

  applyLimits(): void {
    this.#server.setTimeout(this.#limits.idleTimeout);
  }
}

function respondStatus(stream: ServerHttp2Stream, status: number): number {
  try {
    stream.respond({ ":status": status, "content-type": "text/plain; charset=utf-8" });
    stream.end(`${status}\n`);
  } catch {
    stream.destroy();
  }
  return status;
}
