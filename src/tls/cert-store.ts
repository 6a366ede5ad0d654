import { createPrivateKey, X509Certificate } from "node:crypto";
import { FileStorage } from "../storage/file.ts";
import { waitLock } from "../storage/lock.ts";
import type { Lock, Storage } from "../storage/storage.ts";
import { selfSignedCert } from "./self-signed.ts";

/** A certificate and its key, PEM. */
export interface CertPair {
  cert: string;
  key: string;
}

/** A certificate as the workers load it: from files on this machine. */
export interface CertFiles extends CertPair {
  certPath: string;
  keyPath: string;
}

/** How long an order lock lasts without renewal: an instance that dies mid-order frees it this soon. */
export const ORDER_LOCK_TTL = 20_000;
/** How long a published challenge answer stays in the storage if nobody withdraws it. */
const CHALLENGE_TTL = 15 * 60_000;
const ALPN_PREFIX = "challenges/tls-alpn-01/";
const ALPN_VERSION = "challenges/tls-alpn-01.version";

/**
 * Managed certificates in the storage, laid out as
 * `certificates/<ca>/<first name>/{cert,key}.pem` (the ACME account key under
 * `certificates/<ca>/_account/account.key`). The storage may be shared by several
 * instances (Redis); the workers read certificates from files, so what is loaded is also
 * written to the data directory on this machine, where a file storage keeps it anyway.
 */
export class CertStore {
  readonly shared: Storage;
  readonly local: FileStorage;

  constructor(shared: Storage, dataDir: string) {
    this.shared = shared;
    this.local = shared instanceof FileStorage && shared.dir === dataDir ? shared : new FileStorage(dataDir);
  }

  /** Whether other instances may share the storage (what they store must be looked for). */
  get distributed(): boolean {
    return this.shared !== this.local;
  }

  static base(ca: string, names: string[]): string {
    const caDir = ca.replace(/^https?:\/\//, "").replace(/[^A-Za-z0-9.-]+/g, "_");
    return `certificates/${caDir}/${names[0]!.replace(/[^A-Za-z0-9.-]/g, "_")}`;
  }

  /**
   * The stored certificate for `names`, copied to this machine's files. With the storage
   * away, the copy on this machine is used (serving goes on); undefined when there is none.
   */
  async load(ca: string, names: string[]): Promise<CertFiles | undefined> {
    const base = CertStore.base(ca, names);
    let pair: CertPair | undefined;
    let fromShared = this.distributed;
    try {
      pair = await readPair(this.shared, base);
    } catch {
      pair = await readPair(this.local, base);
      fromShared = false;
    }
    // A pair read while another instance wrote a new one may not match: read it next time.
    if (pair === undefined || !matches(pair)) return undefined;
    if (fromShared) {
      const have = await readPair(this.local, base);
      if (have?.cert !== pair.cert || have.key !== pair.key) await writePair(this.local, base, pair);
    }
    return {
      ...pair,
      certPath: this.local.pathOf(`${base}/cert.pem`),
      keyPath: this.local.pathOf(`${base}/key.pem`),
    };
  }

  /** Stores a new certificate: on this machine first (it serves even if the storage is away), then shared. */
  async save(ca: string, names: string[], pair: CertPair): Promise<CertFiles> {
    const base = CertStore.base(ca, names);
    await writePair(this.local, base, pair);
    if (this.distributed) await writePair(this.shared, base, pair);
    return {
      ...pair,
      certPath: this.local.pathOf(`${base}/cert.pem`),
      keyPath: this.local.pathOf(`${base}/key.pem`),
    };
  }

  /** A self-signed stand-in for `names` until their certificate comes (made once, kept on this machine). */
  async temporary(ca: string, names: string[]): Promise<CertFiles> {
    const base = `${CertStore.base(ca, names)}/temporary`;
    let pair: CertPair | undefined;
    const [cert, key] = await Promise.all([this.local.get(`${base}.crt`), this.local.get(`${base}.key`)]);
    if (cert !== undefined && key !== undefined) pair = { cert, key };
    else {
      pair = await selfSignedCert(names);
      await this.local.put(`${base}.key`, pair.key);
      await this.local.put(`${base}.crt`, pair.cert);
    }
    return { ...pair, certPath: this.local.pathOf(`${base}.crt`), keyPath: this.local.pathOf(`${base}.key`) };
  }

  /** The ACME account key for `ca`, made (once across instances) when there is none. */
  async accountKey(ca: string, create: () => Promise<Buffer>): Promise<Buffer> {
    const key = `${CertStore.base(ca, ["_account"])}/account.key`;
    const have = await this.shared.get(key);
    if (have !== undefined) return Buffer.from(have);
    const lock = await waitLock(this.shared, `${CertStore.base(ca, ["_account"])}/create`, ORDER_LOCK_TTL);
    try {
      const again = await this.shared.get(key);
      if (again !== undefined) return Buffer.from(again);
      const made = await create();
      await this.shared.put(key, made.toString());
      return made;
    } finally {
      await lock.release();
    }
  }

  /** The lock for ordering `names`: undefined while another process (or instance) orders them. */
  orderLock(ca: string, names: string[]): Promise<Lock | undefined> {
    return this.shared.lock(`${CertStore.base(ca, names)}/order`, ORDER_LOCK_TTL);
  }

  /** Publishes an HTTP-01 answer where every instance's workers can find it (or withdraws it). */
  async publishChallenge(token: string, keyAuthorization: string | null): Promise<void> {
    if (!this.distributed) return;
    const key = `challenges/http-01/${token.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    if (keyAuthorization === null) await this.shared.delete(key);
    else await this.shared.put(key, keyAuthorization, CHALLENGE_TTL);
  }

  /** An HTTP-01 answer another instance published. */
  async challenge(token: string): Promise<string | undefined> {
    if (!this.distributed || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
    return this.shared.get(`challenges/http-01/${token}`);
  }

  /** Publishes a TLS-ALPN-01 certificate for `name` where other instances find it (or withdraws it). */
  async publishAlpn(name: string, pair: CertPair | null): Promise<void> {
    if (!this.distributed) return;
    const key = `${ALPN_PREFIX}${name.replace(/[^A-Za-z0-9.-]/g, "_")}`;
    if (pair === null) await this.shared.delete(key);
    else await this.shared.put(key, JSON.stringify(pair), CHALLENGE_TTL);
    await this.shared.incr(ALPN_VERSION, 1, 365 * 86_400_000);
  }

  /** Changes whenever a TLS-ALPN-01 certificate is published or withdrawn (one cheap read to poll). */
  alpnVersion(): Promise<number> {
    return this.shared.counter(ALPN_VERSION);
  }

  /** Every TLS-ALPN-01 certificate published in the storage, by name. */
  async alpnChallenges(): Promise<Map<string, CertPair>> {
    const out = new Map<string, CertPair>();
    if (!this.distributed) return out;
    for (const key of await this.shared.list(ALPN_PREFIX)) {
      const text = await this.shared.get(key);
      if (text === undefined) continue;
      try {
        const pair = JSON.parse(text) as CertPair;
        if (typeof pair.cert === "string" && typeof pair.key === "string")
          out.set(key.slice(ALPN_PREFIX.length), pair);
      } catch {
        // Not ours, or half written: skipped.
      }
    }
    return out;
  }
}

function matches(pair: CertPair): boolean {
  try {
    return new X509Certificate(pair.cert).checkPrivateKey(createPrivateKey(pair.key));
  } catch {
    return false;
  }
}

async function readPair(s: Storage, base: string): Promise<CertPair | undefined> {
  const [cert, key] = await Promise.all([s.get(`${base}/cert.pem`), s.get(`${base}/key.pem`)]);
  return cert !== undefined && key !== undefined ? { cert, key } : undefined;
}

async function writePair(s: Storage, base: string, pair: CertPair): Promise<void> {
  // The key first: a reader that finds the new certificate finds its key.
  await s.put(`${base}/key.pem`, pair.key);
  await s.put(`${base}/cert.pem`, pair.cert);
}
