import type { WharfConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";
import type { Storage } from "../storage/storage.ts";
import type { AcmeManager, ManagedStatus } from "../tls/acme.ts";
import type { InternalCerts } from "../tls/internal-certs.ts";
import type { OnDemandIssuer } from "../tls/on-demand.ts";
import type { PrimaryControl } from "./primary.ts";

/**
 * The primary's certificate management: ACME orders and renewals (with their challenge
 * answers published to every worker), on-demand issuance, and the internal CA's leaves.
 * `prepare` fills a config's managed TLS sites with certificate paths; `start` begins
 * renewals once the server listens (as Caddy does: certificates after listening).
 * acme-client and the X.509 code load only when a config needs them.
 */
export class Certificates {
  readonly #log: Logger;
  readonly #workers: () => PrimaryControl | undefined;
  /** The config as loaded (on-demand reads its `ask` settings from it). */
  readonly #loaded: () => WharfConfig;
  /** A certificate changed: the workers should get the config again, re-prepared. */
  readonly #changed: (what: string) => void;
  #acme: AcmeManager | undefined;
  #onDemand: OnDemandIssuer | undefined;
  #internal: InternalCerts | undefined;
  #listening = false;

  readonly #storage: () => Storage | undefined;

  constructor(
    log: Logger,
    workers: () => PrimaryControl | undefined,
    loaded: () => WharfConfig,
    changed: (what: string) => void,
    storage: () => Storage | undefined = () => undefined,
  ) {
    this.#storage = storage;
    this.#log = log;
    this.#workers = workers;
    this.#loaded = loaded;
    this.#changed = changed;
  }

  /** The config with every managed site's certificate in place (ordered or made if need be). */
  async prepare(config: WharfConfig): Promise<WharfConfig> {
    let out = config;
    if (out.sites.some((s) => s.tls?.source === "acme")) out = await this.#prepareAcme(out);
    if (out.sites.some((s) => s.tls?.source === "internal")) {
      this.#internal ??= new (await import("../tls/internal-certs.ts")).InternalCerts(
        this.#log,
        () => this.#changed("renewed internal certificates"),
        this.#storage,
      );
      out = await this.#internal.prepare(out);
    }
    return out;
  }

  async #prepareAcme(config: WharfConfig): Promise<WharfConfig> {
    const broadcast = (msg: Parameters<PrimaryControl["broadcast"]>[0]) => this.#workers()?.broadcast(msg);
    this.#acme ??= new (await import("../tls/acme.ts")).AcmeManager(
      this.#log,
      {
        publish: (token, keyAuthorization) => broadcast({ type: "acme-http01", token, keyAuthorization }),
        publishAlpn: (name, cert, key) => broadcast({ type: "acme-tlsalpn01", name, cert, key }),
        updated: () => this.#changed("the new certificate"),
        issued: (name, cert, key) => broadcast({ type: "ondemand-cert", name, cert, key }),
      },
      this.#storage,
    );
    if (this.#listening) this.#acme.start();
    const out = await this.#acme.prepare(config);
    if (out.sites.some((s) => s.tls?.on_demand) && !this.#onDemand) {
      this.#onDemand = new (await import("../tls/on-demand.ts")).OnDemandIssuer(
        this.#log,
        this.#acme,
        () => this.#loaded().server.acme.on_demand,
        (name, pair) =>
          broadcast({ type: "ondemand-cert", name, cert: pair?.cert ?? null, key: pair?.key ?? null }),
      );
    }
    return out;
  }

  /** The server listens: renewals (and orders that wait for the listener) may begin. */
  start(): void {
    this.#listening = true;
    this.#acme?.start();
  }

  /** A worker met `name` in a handshake: on-demand issuance, or a refusal when it is off. */
  request(name: string): void {
    if (this.#onDemand) this.#onDemand.request(name);
    else this.#workers()?.broadcast({ type: "ondemand-cert", name, cert: null, key: null });
  }

  /** An HTTP-01 answer published by another instance sharing the storage. */
  async challenge(token: string): Promise<string | undefined> {
    return this.#acme?.store?.challenge(token).catch(() => undefined);
  }

  /** What the managers plan: each managed certificate's next order and last failure. */
  status(): ManagedStatus[] {
    return this.#acme?.status() ?? [];
  }

  stop(): void {
    this.#acme?.stop();
    this.#internal?.stop();
  }
}
