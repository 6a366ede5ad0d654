import { X509Certificate } from "node:crypto";
import * as acme from "acme-client";
import type { AcmeConfig, WharfConfig } from "../config/types.ts";
import { WharfError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { pollStorage } from "../storage/poll.ts";
import type { Lock, Storage } from "../storage/storage.ts";
import { type CertFiles, type CertPair, CertStore } from "./cert-store.ts";
import { defaultDataDir } from "./storage.ts";

export type { CertPair } from "./cert-store.ts";

export interface AcmeHooks {
  /** Publishes (or, with null, withdraws) an HTTP-01 answer on every worker. */
  publish(token: string, keyAuthorization: string | null): void;
  /** Publishes (or, with nulls, withdraws) a TLS-ALPN-01 certificate for `name` on every worker. */
  publishAlpn(name: string, cert: string | null, key: string | null): void;
  /** Called when a certificate was stored: the workers should load the new config. */
  updated(): void;
  /** An on-demand certificate was obtained or renewed: every worker should have it. */
  issued(name: string, cert: string, key: string): void;
}

interface Managed {
  names: string[];
  /** The certificate the workers serve for these names (undefined: a temporary one). */
  served: string | undefined;
  timer: NodeJS.Timeout | undefined;
  ordering: boolean;
  backoff: number;
  /** Obtained for a name first seen in a handshake; renewals are broadcast, not a config reload. */
  onDemand: boolean;
  /** When the next order is due (ms since the epoch), and why the last one failed. */
  next?: number | undefined;
  lastError?: string | undefined;
}

/** What the admin API shows of a managed certificate. */
export interface ManagedStatus {
  names: string[];
  nextRenewal: string | undefined;
  lastError: string | undefined;
}

// acme-client retries a failed HTTP call 5 times over about 75 s; wharf's own backoff below
// retries whole orders, so a short inner retry keeps a failure from stalling for minutes.
const settings = (acme as unknown as { axios: { defaults: { acmeSettings: Record<string, number> } } }).axios
  .defaults.acmeSettings;
settings.retryMaxAttempts = 2;
settings.retryDefaultDelay = 1;

const RETRY_MIN = 30_000;
/** How often an instance waiting for another's order looks for its certificate. */
const WAIT_POLL = 2_000;
const RETRY_MAX = 3_600_000;
/** How often an instance on a shared storage looks for TLS-ALPN-01 certificates other instances published. */
const ALPN_POLL = 1_000;
/** How long an ordering instance waits for the others to take up its TLS-ALPN-01 certificate. */
const ALPN_SPREAD_MS = ALPN_POLL + 1500;

/**
 * When a certificate should be renewed: at `ratio` of its lifetime (two thirds by
 * default), give or take 1 % of that time, so that many certificates issued together do
 * not all renew in the same second.
 */
export function renewalTime(pem: string | Buffer, ratio = 2 / 3, now = Date.now()): number {
  const c = new X509Certificate(pem);
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  const window = (to - from) * ratio;
  const jitter = (Math.random() - 0.5) * 0.02 * window;
  return Math.max(now, from + window + jitter);
}

/**
 * Automatic certificates (RFC 8555) for `tls: auto` sites, run by the primary: stored
 * certificates are reused; missing ones get a temporary self-signed certificate, then an
 * order answered by HTTP-01 or TLS-ALPN-01 through the workers; renewal at two thirds of the lifetime;
 * failures retried with exponential backoff while the site keeps serving.
 */
export class AcmeManager {
  readonly #log: Logger;
  readonly #hooks: AcmeHooks;
  readonly #managed = new Map<string, Managed>();
  #cfg: AcmeConfig | undefined;
  #store: CertStore | undefined;
  readonly #storage: () => Storage | undefined;
  #client: Promise<acme.Client> | undefined;
  #stopped = false;
  #started = false;
  #waiting: Managed[] = [];
  #alpnTimer: NodeJS.Timeout | undefined;
  /** The TLS-ALPN-01 certificates taken from the storage, by name (their PEM). */
  #remoteAlpn = new Map<string, string>();

  /** `storage`: where certificates, the account and locks are kept (the data directory if undefined). */
  constructor(log: Logger, hooks: AcmeHooks, storage: () => Storage | undefined = () => undefined) {
    this.#log = log.child({ component: "acme" });
    this.#hooks = hooks;
    this.#storage = storage;
  }

  /** Where certificates are kept (for on-demand sites and for workers asking for challenge answers). */
  get store(): CertStore | undefined {
    return this.#store;
  }

  /** Fills in cert/key for every `tls: auto` site (stored, or temporary) and schedules orders. */
  async prepare(config: WharfConfig): Promise<WharfConfig> {
    const out = structuredClone(config);
    const autoSites = out.sites.filter((s) => s.tls?.source === "acme");
    if (autoSites.length === 0) return out;
    const cfg = out.server.acme;
    if (this.#cfg && JSON.stringify(this.#cfg) !== JSON.stringify(cfg)) this.#client = undefined;
    this.#cfg = cfg;
    const dataDir = cfg.data_dir ?? defaultDataDir();
    const shared = this.#storage();
    let store = this.#store;
    if (
      store === undefined ||
      store.local.dir !== dataDir ||
      (shared !== undefined && store.shared !== shared)
    ) {
      const { FileStorage } = await import("../storage/file.ts");
      store = new CertStore(shared ?? new FileStorage(dataDir), dataDir);
      this.#store = store;
    }
    for (const site of autoSites) {
      if (site.tls!.on_demand) {
        // Until a name's own certificate is there (and for clients without SNI): a temporary one.
        const temp = await store.temporary(cfg.directory, ["on-demand.default.invalid"]);
        site.tls!.cert = temp.certPath;
        site.tls!.key = temp.keyPath;
        continue;
      }
      const names = [...site.hosts].sort();
      const m = this.#entry(names.join(","), names, false);
      const files = await store.load(cfg.directory, names);
      if (files) {
        const when = renewalTime(files.cert, cfg.renewal_ratio);
        if (m.served !== files.cert)
          this.#log.info("certificate loaded from storage", {
            names,
            renew_at: new Date(when).toISOString(),
          });
        m.served = files.cert;
        if (!m.ordering) this.#schedule(m, when - Date.now());
        site.tls!.cert = files.certPath;
        site.tls!.key = files.keyPath;
      } else {
        const temp = await store.temporary(cfg.directory, names);
        site.tls!.cert = temp.certPath;
        site.tls!.key = temp.keyPath;
        // Ordered once the listeners are up: the CA's validation must reach them.
        if (!m.ordering && !m.timer) this.#schedule(m, 0);
      }
    }
    if (this.#started) this.#watchAlpn();
    return out;
  }

  #entry(key: string, names: string[], onDemand: boolean): Managed {
    let m = this.#managed.get(key);
    if (!m) {
      m = { names, served: undefined, timer: undefined, ordering: false, backoff: RETRY_MIN, onDemand };
      this.#managed.set(key, m);
    }
    return m;
  }

  /** Lets orders begin: called once the listeners are up (a CA's validation must reach them). */
  start(): void {
    this.#started = true;
    for (const m of this.#waiting.splice(0)) this.#schedule(m, 0);
    this.#watchAlpn();
  }

  stop(): void {
    this.#stopped = true;
    for (const m of this.#managed.values()) if (m.timer) clearTimeout(m.timer);
    if (this.#alpnTimer) clearInterval(this.#alpnTimer);
    this.#alpnTimer = undefined;
  }

  /**
   * On a shared storage, the TLS-ALPN-01 certificates other instances publish are handed to
   * this instance's workers too (and withdrawn when they go): the CA's validation may come
   * here, through a balancer or a shared port.
   */
  #watchAlpn(): void {
    if (this.#alpnTimer || !this.#store?.distributed || !this.#cfg?.challenges.includes("tls-alpn-01"))
      return;
    let seen = -1;
    this.#alpnTimer = pollStorage(ALPN_POLL, async () => {
      const store = this.#store;
      if (!store?.distributed) return;
      const version = await store.alpnVersion();
      if (version === seen) return;
      const now = await store.alpnChallenges();
      seen = version;
      for (const [name, pair] of now)
        if (this.#remoteAlpn.get(name) !== pair.cert) this.#hooks.publishAlpn(name, pair.cert, pair.key);
      for (const name of this.#remoteAlpn.keys())
        if (!now.has(name)) this.#hooks.publishAlpn(name, null, null);
      this.#remoteAlpn = new Map([...now].map(([name, pair]) => [name, pair.cert]));
    });
  }

  /** The managed certificates: when each is ordered next, and the last failure. */
  status(): ManagedStatus[] {
    return [...this.#managed.values()].map((m) => ({
      names: m.names,
      nextRenewal: m.next === undefined ? undefined : new Date(m.next).toISOString(),
      lastError: m.lastError,
    }));
  }

  #schedule(m: Managed, delay: number): void {
    if (m.timer) clearTimeout(m.timer);
    m.next = Date.now() + Math.max(0, delay);
    if (!this.#started && delay <= 0) {
      this.#waiting.push(m);
      return;
    }
    // setTimeout's limit is about 24.8 days; a longer wait is taken in steps.
    const step = Math.min(Math.max(delay, 0), 2_000_000_000);
    m.timer = setTimeout(() => {
      if (step < delay) return this.#schedule(m, delay - step);
      void this.#order(m);
    }, step);
    m.timer.unref();
  }

  /** The ACME client with its account (one for all orders in flight; made again after a failure). */
  #clientFor(cfg: AcmeConfig, store: CertStore): Promise<acme.Client> {
    this.#client ??= this.#account(cfg, store).catch((err: unknown) => {
      this.#client = undefined;
      throw err;
    });
    return this.#client;
  }

  async #account(cfg: AcmeConfig, store: CertStore): Promise<acme.Client> {
    const accountKey = await store.accountKey(cfg.directory, () => acme.crypto.createPrivateEcdsaKey());
    const client = new acme.Client({
      directoryUrl: cfg.directory,
      accountKey,
      ...(cfg.eab ? { externalAccountBinding: { kid: cfg.eab.kid, hmacKey: cfg.eab.hmac_key } } : {}),
    });
    try {
      // The stored key's account (made earlier, maybe by another instance), fetched as it is.
      await client.createAccount({ onlyReturnExisting: true });
    } catch {
      await client.createAccount({
        termsOfServiceAgreed: true,
        ...(cfg.email ? { contact: [`mailto:${cfg.email}`] } : {}),
      });
    }
    return client;
  }

  /** An on-demand certificate kept from before (its renewal scheduled), without asking anyone. */
  async storedOnDemand(name: string): Promise<CertPair | undefined> {
    const cfg = this.#cfg;
    const store = this.#store;
    if (!cfg || !store) return undefined;
    const m = this.#entry(`on-demand:${name}`, [name], true);
    const files = await store.load(cfg.directory, [name]);
    if (!files) return undefined;
    m.served = files.cert;
    if (!m.timer && !m.ordering) this.#schedule(m, renewalTime(files.cert, cfg.renewal_ratio) - Date.now());
    return { cert: files.cert, key: files.key };
  }

  /** Orders a certificate for a name now (on demand, approved and within the rate). */
  async orderOnDemand(name: string): Promise<CertPair | undefined> {
    if (!this.#cfg || !this.#store) return undefined;
    return this.#order(this.#entry(`on-demand:${name}`, [name], true));
  }

  /** The stored certificate for `m` when it is not due for renewal (another instance got it). */
  async #fresh(m: Managed, cfg: AcmeConfig, store: CertStore): Promise<CertFiles | undefined> {
    const files = await store.load(cfg.directory, m.names);
    if (files && renewalTime(files.cert, cfg.renewal_ratio) > Date.now() + 1000) return files;
    return undefined;
  }

  /** Serves `files` for `m` from now on and schedules its renewal. */
  #adopt(m: Managed, cfg: AcmeConfig, files: CertPair): CertPair {
    const when = renewalTime(files.cert, cfg.renewal_ratio);
    m.backoff = RETRY_MIN;
    m.lastError = undefined;
    this.#schedule(m, when - Date.now());
    const pair = { cert: files.cert, key: files.key };
    if (m.served === files.cert) return pair;
    m.served = files.cert;
    if (m.onDemand) this.#hooks.issued(m.names[0]!, pair.cert, pair.key);
    else this.#hooks.updated();
    return pair;
  }

  async #order(m: Managed): Promise<CertPair | undefined> {
    const cfg = this.#cfg;
    const store = this.#store;
    if (this.#stopped || m.ordering || !cfg || !store) return undefined;
    m.ordering = true;
    const withdraw: (() => Promise<void>)[] = [];
    let lock: Lock | undefined;
    try {
      // Another instance may have got it (first order or renewal): then it is loaded, not ordered.
      const stored = await this.#fresh(m, cfg, store);
      if (stored) {
        this.#log.info("certificate loaded from storage", { names: m.names });
        return this.#adopt(m, cfg, stored);
      }
      lock = await store.orderLock(cfg.directory, m.names);
      if (!lock) {
        if (m.lastError === undefined)
          this.#log.info("another instance is ordering this certificate; waiting for it", { names: m.names });
        m.lastError = "another instance is ordering it";
        this.#schedule(m, WAIT_POLL);
        return undefined;
      }
      const again = await this.#fresh(m, cfg, store);
      if (again) return this.#adopt(m, cfg, again);
      this.#log.info("ordering certificate", { names: m.names, ca: cfg.directory });
      const client = await this.#clientFor(cfg, store);
      const order = await client.createOrder({
        identifiers: m.names.map((value) => ({ type: "dns", value })),
      });
      for (const authz of await client.getAuthorizations(order)) {
        if (authz.status === "valid") continue;
        const name = authz.identifier.value;
        // The first challenge type of the configured preference that the CA offers.
        const ch = cfg.challenges
          .map((type) => authz.challenges.find((c) => c.type === type))
          .find((c) => c !== undefined);
        if (!ch)
          throw new WharfError(
            "WHARF_ERR_ACME",
            `the CA offers none of ${cfg.challenges.join(", ")} for ${name}`,
          );
        const keyAuth = await client.getChallengeKeyAuthorization(ch);
        if ((ch.type as string) === "tls-alpn-01") {
          const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuth);
          this.#hooks.publishAlpn(name, cert.toString(), key.toString());
          // Other instances take it from the storage within a poll: the CA may reach any of them.
          await store.publishAlpn(name, { cert: cert.toString(), key: key.toString() });
          withdraw.push(async () => {
            this.#hooks.publishAlpn(name, null, null);
            await store.publishAlpn(name, null);
          });
          if (store.distributed) await new Promise((r) => setTimeout(r, ALPN_SPREAD_MS));
        } else {
          this.#hooks.publish(ch.token, keyAuth);
          // Whichever instance the CA reaches answers: the answer goes to the shared storage too.
          await store.publishChallenge(ch.token, keyAuth);
          withdraw.push(async () => {
            this.#hooks.publish(ch.token, null);
            await store.publishChallenge(ch.token, null);
          });
        }
        this.#log.info("answering challenge", { name, type: ch.type });
        await client.completeChallenge(ch);
        await client.waitForValidStatus(ch);
      }
      const [key, csr] = await acme.crypto.createCsr(
        { commonName: m.names[0]!, altNames: m.names },
        await acme.crypto.createPrivateEcdsaKey(),
      );
      const finalized = await client.finalizeOrder(order, csr);
      const cert = await client.getCertificate(finalized);
      if (lock.lost) this.#log.warn("the order lock was lost while ordering", { names: m.names });
      const files = await store.save(cfg.directory, m.names, { cert, key: key.toString() });
      this.#log.info("certificate obtained", {
        names: m.names,
        renew_at: new Date(renewalTime(cert, cfg.renewal_ratio)).toISOString(),
      });
      return this.#adopt(m, cfg, files);
    } catch (err) {
      m.lastError = (err as Error).message;
      // A first on-demand order is not retried here: the next handshake for the name asks again.
      const retry = !m.onDemand || m.served !== undefined;
      const wait = m.backoff;
      m.backoff = Math.min(m.backoff * 2, RETRY_MAX);
      this.#log.error("certificate order failed; the site keeps its current certificate", {
        names: m.names,
        error: (err as Error).message,
        ...(retry ? { retry_in_ms: wait } : {}),
      });
      this.#client = undefined;
      if (retry) this.#schedule(m, wait);
      return undefined;
    } finally {
      for (const w of withdraw) await w().catch(() => {});
      m.ordering = false;
      await lock?.release().catch(() => {});
    }
  }
}
