import { createServer, type Server } from "node:net";
import type { Server as TlsServer } from "node:tls";
import { firstRecordLength, type HelloFacts, readClientHello } from "./client-hello.ts";
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
 * `divert` claims by their ClientHello. The hello is read only while a divert is active,
 * so other connections cost nothing extra.
 */
export function tlsFront(tls: TlsServer, divert: () => HelloDivert | undefined): Server {
  return createServer({ noDelay: true, allowHalfOpen: false }, (socket) => {
    const d = divert();
    if (d === undefined || !d.active()) {
      tls.emit("connection", socket);
      return;
    }
    sniff(
      socket,
      (buf) => {
        const need = firstRecordLength(buf);
        return need <= 0 || buf.length >= need || buf.length >= MAX_HELLO;
      },
      (buf) => {
        const hello = readClientHello(buf);
        const other = hello === undefined ? undefined : d.serverFor(hello);
        (other ?? tls).emit("connection", socket);
      },
    );
    socket.on("error", () => socket.destroy());
  });
}
