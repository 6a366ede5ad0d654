import { createServer, type Server, type Socket } from "node:net";
import type { Server as TlsServer } from "node:tls";
import { firstRecordLength, type HelloFacts, readClientHello } from "./client-hello.ts";
import { acceptProxyHeader } from "./proxy-protocol.ts";
import { rawResponse } from "./raw-response.ts";
import { sniff } from "./sniff.ts";

/**
 * Connections a listener may take away from its TLS server by their ClientHello (a CA's
 * TLS-ALPN-01 validation, answered by `src/tls/`): asked only while `active()`.
 */
export interface HelloDivert {
  /** Whether ClientHellos need reading now (only then are they read). */
  active(): boolean;
  /** The TLS server that takes a connection with this hello instead, if any. */
  serverFor(hello: HelloFacts): TlsServer | undefined;
}

/** The longest first record taken while looking at a ClientHello. */
const MAX_HELLO = 16 * 1024 + 5;

/**
 * A TCP listener in front of a TLS server: it hands every connection over, except those
 * `divert` claims by their ClientHello, and plain HTTP requests, which get a 400 saying
 * so. The whole hello is read only while a divert is active; otherwise the first chunk
 * the client sends decides.
 */
export function tlsFront(
  tls: TlsServer,
  divert: () => HelloDivert | undefined,
  proxyProtocol?: (ip: string) => boolean,
): Server {
  const front = (socket: Socket) => {
    const d = divert();
    const reading = d?.active();
    sniff(
      socket,
      (buf) => {
        if (!reading || buf[0] !== HANDSHAKE) return true;
        const need = firstRecordLength(buf);
        return need <= 0 || buf.length >= need || buf.length >= MAX_HELLO;
      },
      (buf) => {
        // Plain HTTP sent to an HTTPS port (a letter where a TLS record starts): say so, as
        // nginx does, instead of a TLS alert the client cannot show.
        if (buf[0] !== HANDSHAKE && buf[0]! >= 0x41 && buf[0]! <= 0x5a) {
          socket.end(
            rawResponse(
              400,
              [],
              "This is an HTTPS port: the request was plain HTTP. Use https:// in the address.\n",
            ),
          );
          return;
        }
        const hello = reading ? readClientHello(buf) : undefined;
        const other = hello === undefined ? undefined : d?.serverFor(hello);
        (other ?? tls).emit("connection", socket);
      },
    );
    socket.on("error", () => socket.destroy());
  };
  return createServer({ noDelay: true, allowHalfOpen: false }, (socket) => {
    // Behind a load balancer speaking PROXY protocol: its header comes before the TLS.
    if (proxyProtocol === undefined) return front(socket);
    acceptProxyHeader(socket, proxyProtocol, () => front(socket));
  });
}

/** The content type of a TLS handshake record: how every TLS connection starts. */
const HANDSHAKE = 22;
