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
import { H2Exchange } from "./h2-exchange.ts";
import type { HttpLimits } from "./limits.ts";
import { routeTarget } from "./target.ts";

/** Streams a client may have open at once on one connection. */
const MAX_STREAMS = 128;

/**
 * HTTP/2 on connections handed over by a listener (TLS with ALPN h2, or cleartext with
 * the prior-knowledge preface): node:http2 frames, flow control and HPACK, wharf's
 * Exchange per stream. Limits on concurrent streams and the header list; a client that
 * resets streams faster than it may (rapid reset, CVE-2023-44487) is cut off.
 */
export class H2Sessions {
  readonly #server;
  readonly #sessions = new Set<Http2Session>();
  readonly #open = new Map<Http2Session, number>();
  readonly #limits: HttpLimits;
  #draining = false;

  constructor(limits: HttpLimits, onRequest: RequestListener, log: Logger, scheme: "http" | "https") {
    this.#limits = limits;
    const headerList = limits.maxUriLength + limits.maxHeaderSize + 1024;
    this.#server = createServer({
      settings: { maxConcurrentStreams: MAX_STREAMS, maxHeaderListSize: headerList },
      maxHeaderListPairs: 256,
      streamResetBurst: 1000,
      streamResetRate: 33,
    } as Parameters<typeof createServer>[0]);
    this.#server.setTimeout(limits.idleTimeout);
    this.#server.on("session", (s: Http2Session) => {
      this.#sessions.add(s);
      this.#open.set(s, 0);
      s.once("close", () => {
        this.#sessions.delete(s);
        this.#open.delete(s);
      });
      s.on("error", (err: Error) => log.debug("http2 session error", { err: err.message }));
      if (this.#draining) s.close();
    });
    this.#server.on(
      "stream",
      (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
        const s = stream.session;
        if (s) {
          this.#open.set(s, (this.#open.get(s) ?? 0) + 1);
          stream.once("close", () => {
            this.#open.set(s, (this.#open.get(s) ?? 1) - 1);
            this.#closeIfIdle(s);
          });
        }
        stream.on("error", () => {});
        const refused = this.#admit(stream, headers, raw);
        if (refused !== undefined) return;
        const routed = routeTarget(
          (headers[":method"] as string) ?? "GET",
          (headers[":path"] as string | undefined) ?? "",
          (headers[":authority"] as string | undefined) ?? headers.host ?? "",
        );
        if (typeof routed === "number") return void respondStatus(stream, routed);
        const ex = new H2Exchange(
          stream,
          headers,
          raw,
          routed,
          scheme,
          performance.now(),
          limits.maxBodySize,
        );
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

  #closeIfIdle(s: Http2Session): void {
    if (this.#draining && (this.#open.get(s) ?? 0) === 0 && !s.destroyed) s.destroy();
  }

  /** GOAWAY to every client: streams in flight finish, then each session closes. */
  drain(): void {
    this.#draining = true;
    for (const s of this.#sessions) {
      s.close();
      this.#closeIfIdle(s);
    }
  }

  destroyAll(): void {
    for (const s of this.#sessions) s.destroy();
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
