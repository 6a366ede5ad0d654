import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as acme from "acme-client";
import type { AcmeConfig, WharfConfig } from "../config/types.ts";
import { WharfError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { selfSignedCert } from "./self-signed.ts";
import { CertStorage, defaultDataDir, writeAtomic } from "./storage.ts";

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

/** A certificate and its key, PEM. */
export interface CertPair {
  cert: string;
  key: string;
}

interface Managed {
  names: string[];
  dir: string;
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
const RETRY_MAX = 3_600_000;

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
  #storage: CertStorage | undefined;
  #client: acme.Client | undefined;
  #stopped = false;
  #started = false;
  #waiting: Managed[] = [];

  constructor(log: Logger, hooks: AcmeHooks) {
    this.#log = log.child({ component: "acme" });
    this.#hooks = hooks;
  }

  /** Fills in cert/key for every `tls: auto` site (stored, or temporary) and schedules orders. */
  async prepare(config: WharfConfig): Promise<WharfConfig> {
    const out = structuredClone(config);
    const autoSites = out.sites.filter((s) => s.tls?.source === "acme");
    if (autoSites.length === 0) return out;
    const cfg = out.server.acme;
    if (this.#cfg && JSON.stringify(this.#cfg) !== JSON.stringify(cfg)) this.#client = undefined;
    this.#cfg = cfg;
    this.#storage = new CertStorage(cfg.data_dir ?? defaultDataDir());
    for (const site of autoSites) {
      if (site.tls!.on_demand) {
        // Until a name's own certificate is there (and for clients without SNI): a temporary one.
        const dir = this.#storage.certDir(cfg.directory, ["on-demand.default.invalid"]);
        if (!existsSync(join(dir, "temporary.crt"))) {
          const temp = await selfSignedCert(["on-demand.default.invalid"]);
          writeAtomic(join(dir, "temporary.crt"), temp.cert, 0o644);
          writeAtomic(join(dir, "temporary.key"), temp.key);
        }
        site.tls!.cert = join(dir, "temporary.crt");
        site.tls!.key = join(dir, "temporary.key");
        continue;
      }
      const names = [...site.hosts].sort();
      const key = names.join(",");
      let m = this.#managed.get(key);
      if (!m) {
        m = {
          names,
          dir: this.#storage.certDir(cfg.directory, names),
          timer: undefined,
          ordering: false,
          backoff: RETRY_MIN,
          onDemand: false,
        };
        this.#managed.set(key, m);
      }
      const certPath = join(m.dir, "cert.pem");
      const keyPath = join(m.dir, "key.pem");
      if (existsSync(certPath) && existsSync(keyPath)) {
        const when = renewalTime(readFileSync(certPath), cfg.renewal_ratio);
        this.#log.info("certificate loaded from storage", { names, renew_at: new Date(when).toISOString() });
        this.#schedule(m, when - Date.now());
        site.tls!.cert = certPath;
        site.tls!.key = keyPath;
      } else {
        const temp = await selfSignedCert(names);
        writeAtomic(join(m.dir, "temporary.crt"), temp.cert, 0o644);
        writeAtomic(join(m.dir, "temporary.key"), temp.key);
        site.tls!.cert = join(m.dir, "temporary.crt");
        site.tls!.key = join(m.dir, "temporary.key");
        // Ordered once the listeners are up: the CA's validation must reach them.
        this.#schedule(m, 0);
      }
    }
    return out;
  }

  /** Lets orders begin: called once the listeners are up (a CA's validation must reach them). */
  start(): void {
    this.#started = true;
    for (const m of this.#waiting.splice(0)) this.#schedule(m, 0);
  }

  stop(): void {
    this.#stopped = true;
    for (const m of this.#managed.values()) if (m.timer) clearTimeout(m.timer);
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

  async #clientFor(cfg: AcmeConfig, storage: CertStorage): Promise<acme.Client> {
    if (this.#client) return this.#client;
    let accountKey = storage.readAccountKey(cfg.directory);
    if (!accountKey) {
      accountKey = await acme.crypto.createPrivateEcdsaKey();
      storage.writeAccountKey(cfg.directory, accountKey);
    }
    const client = new acme.Client({
      directoryUrl: cfg.directory,
      accountKey,
      ...(cfg.eab ? { externalAccountBinding: { kid: cfg.eab.kid, hmacKey: cfg.eab.hmac_key } } : {}),
    });
    await client.createAccount({
      termsOfServiceAgreed: true,
      ...(cfg.email ? { contact: [`mailto:${cfg.email}`] } : {}),
    });
    this.#client = client;
    return client;
  }

  /** The on-demand entry for a name (made on first use). */
  #onDemandEntry(name: string): Managed | undefined {
    const cfg = this.#cfg;
    const storage = this.#storage;
    if (!cfg || !storage) return undefined;
    const key = `on-demand:${name}`;
    let m = this.#managed.get(key);
    if (!m) {
      m = {
        names: [name],
        dir: storage.certDir(cfg.directory, [name]),
        timer: undefined,
        ordering: false,
        backoff: RETRY_MIN,
        onDemand: true,
      };
      this.#managed.set(key, m);
    }
    return m;
  }

  /** An on-demand certificate kept from before (its renewal scheduled), without asking anyone. */
  storedOnDemand(name: string): CertPair | undefined {
    const m = this.#onDemandEntry(name);
    if (!m) return undefined;
    const certPath = join(m.dir, "cert.pem");
    const keyPath = join(m.dir, "key.pem");
    if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
    const cert = readFileSync(certPath, "utf8");
    if (!m.timer && !m.ordering) this.#schedule(m, renewalTime(cert, this.#cfg!.renewal_ratio) - Date.now());
    return { cert, key: readFileSync(keyPath, "utf8") };
  }

  /** Orders a certificate for a name now (on demand, approved and within the rate). */
  async orderOnDemand(name: string): Promise<CertPair | undefined> {
    const m = this.#onDemandEntry(name);
    return m ? this.#order(m) : undefined;
  }

  async #order(m: Managed): Promise<CertPair | undefined> {
    const cfg = this.#cfg;
    const storage = this.#storage;
    if (this.#stopped || m.ordering || !cfg || !storage) return undefined;
    const release = storage.lock(m.dir);
    if (!release) {
      this.#log.warn("another process is ordering this certificate; retrying later", { names: m.names });
      this.#schedule(m, RETRY_MIN);
      return undefined;
    }
    m.ordering = true;
    const withdraw: (() => void)[] = [];
    try {
      this.#log.info("ordering certificate", { names: m.names, ca: cfg.directory });
      const client = await this.#clientFor(cfg, storage);
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
          withdraw.push(() => this.#hooks.publishAlpn(name, null, null));
        } else {
          this.#hooks.publish(ch.token, keyAuth);
          withdraw.push(() => this.#hooks.publish(ch.token, null));
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
      writeAtomic(join(m.dir, "key.pem"), key);
      writeAtomic(join(m.dir, "cert.pem"), cert, 0o644);
      const when = renewalTime(cert, cfg.renewal_ratio);
      this.#log.info("certificate obtained", { names: m.names, renew_at: new Date(when).toISOString() });
      m.backoff = RETRY_MIN;
      m.lastError = undefined;
      this.#schedule(m, when - Date.now());
      const pair = { cert, key: key.toString() };
      if (m.onDemand) this.#hooks.issued(m.names[0]!, pair.cert, pair.key);
      else this.#hooks.updated();
      return pair;
    } catch (err) {
      m.lastError = (err as Error).message;
      // A first on-demand order is not retried here: the next handshake for the name asks again.
      const retry = !m.onDemand || existsSync(join(m.dir, "cert.pem"));
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
      for (const w of withdraw) w();
      m.ordering = false;
      release();
    }
  }
}
