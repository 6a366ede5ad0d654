import { randomBytes } from "node:crypto";
import type { SecureContext, Server as TlsServer } from "node:tls";
import type { Logger } from "../core/logger.ts";
import type { HelloDivert } from "../http/tls-front.ts";
import { secureContextFor, tlsModule } from "../http/tls-policy.ts";

export const CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

/** How long a handshake waits for an on-demand certificate before it gets the default one. */
const ON_DEMAND_WAIT_MS = 30_000;
/** How long a name refused a certificate is not asked for again. */
const DENIED_MS = 60_000;

/**
 * A worker's TLS state, owned by its runtime and fed by the primary: the session-ticket
 * keys all workers share, the ACME challenge answers (HTTP-01 tokens, TLS-ALPN-01
 * certificates) whichever worker the CA reaches must give, and the certificates obtained
 * on demand for names first seen in a handshake.
 */
export class WorkerTls {
  readonly #log: Logger;
  readonly #tokens = new Map<string, string>();
  readonly #alpn = new Map<string, SecureContext>();
  readonly #onDemand = new Map<string, SecureContext>();
  readonly #denied = new Map<string, number>();
  readonly #waiting = new Map<string, ((ctx: SecureContext | undefined) => void)[]>();
  #ticketKeys: Buffer;
  #answerer: TlsServer | undefined;
  /** How this worker asks the primary for an on-demand certificate. */
  askPrimary: ((name: string) => void) | undefined;

  constructor(log: Logger, ticketKeysHex = process.env.WHARF_TICKET_KEYS) {
    this.#log = log;
    this.#ticketKeys =
      ticketKeysHex && ticketKeysHex.length === 96 ? Buffer.from(ticketKeysHex, "hex") : randomBytes(48);
  }

  /** Session-ticket keys shared by every worker, so a resumed session works on any of them. */
  get ticketKeys(): Buffer {
    return this.#ticketKeys;
  }
  set ticketKeys(keys: Buffer) {
    this.#ticketKeys = keys;
  }

  // --- HTTP-01 ---

  setChallenge(token: string, keyAuthorization: string | null): void {
    if (keyAuthorization === null) this.#tokens.delete(token);
    else this.#tokens.set(token, keyAuthorization);
  }

  /** The key authorization for a request path, when it is a pending challenge. */
  challengeFor(path: string): string | undefined {
    if (this.#tokens.size === 0 || !path.startsWith(CHALLENGE_PREFIX)) return undefined;
    return this.#tokens.get(path.slice(CHALLENGE_PREFIX.length));
  }

  // --- TLS-ALPN-01 (RFC 8737) ---

  setAlpnChallenge(name: string, cert: string | null, key: string | null): void {
    if (cert === null || key === null) this.#alpn.delete(name);
    else
      this.#alpn.set(
        name,
        tlsModule().createSecureContext({ cert, key, ALPNProtocols: ["acme-tls/1"] } as never),
      );
  }

  /** What an ACME site's listener consults: a validation handshake goes to the answerer. */
  readonly alpnDivert: HelloDivert = {
    active: () => this.#alpn.size > 0,
    serverFor: (hello) => {
      if (hello.serverName === undefined || !hello.alpn.includes("acme-tls/1")) return undefined;
      if (!this.#alpn.has(hello.serverName)) return undefined;
      this.#answerer ??= this.#makeAnswerer();
      return this.#answerer;
    },
  };

  /** A TLS server that completes a validation handshake with the challenge certificate, then closes. */
  #makeAnswerer(): TlsServer {
    const server = tlsModule().createServer({
      ALPNProtocols: ["acme-tls/1"],
      SNICallback: (name, cb) => cb(null, this.#alpn.get(name.toLowerCase())),
    });
    server.on("secureConnection", (s) => {
      this.#log.info("answered a TLS-ALPN-01 validation", { name: s.servername });
      s.end();
    });
    server.on("tlsClientError", (err: Error) =>
      this.#log.debug("TLS-ALPN-01 handshake failed", { err: err.message }),
    );
    return server;
  }

  // --- on-demand certificates ---

  /** The primary's answer for a name: its certificate, or nulls when there is none to be had. */
  setOnDemandCert(name: string, cert: string | null, key: string | null): void {
    let ctx: SecureContext | undefined;
    if (cert !== null && key !== null) {
      ctx = secureContextFor(Buffer.from(cert), Buffer.from(key)).context;
      this.#onDemand.set(name, ctx);
      this.#denied.delete(name);
    } else this.#denied.set(name, Date.now() + DENIED_MS);
    const list = this.#waiting.get(name);
    this.#waiting.delete(name);
    for (const resolve of list ?? []) resolve(ctx);
  }

  /**
   * The certificate for `name`: at hand, or asked for (once, however many handshakes
   * wait) and waited on for a bounded time; undefined when refused or late.
   */
  readonly onDemandContext = (name: string): Promise<SecureContext | undefined> => {
    const have = this.#onDemand.get(name);
    if (have) return Promise.resolve(have);
    const until = this.#denied.get(name);
    if (until !== undefined && until > Date.now()) return Promise.resolve(undefined);
    const ask = this.askPrimary;
    if (ask === undefined || !/^[a-z0-9.-]+$/.test(name) || !name.includes("."))
      return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let done = false;
      const finish = (ctx: SecureContext | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(ctx);
      };
      const timer = setTimeout(() => finish(undefined), ON_DEMAND_WAIT_MS);
      timer.unref();
      const list = this.#waiting.get(name);
      if (list) list.push(finish);
      else {
        this.#waiting.set(name, [finish]);
        ask(name);
      }
    });
  };
}
