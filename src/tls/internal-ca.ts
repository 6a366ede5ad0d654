import { webcrypto, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { writeAtomic } from "./storage.ts";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type KeyPair = webcrypto.CryptoKeyPair;
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

async function exportKey(keys: KeyPair): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
}

async function importKey(pem: string): Promise<KeyPair> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  const privateKey = await webcrypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]);
  // The public half is read back from the certificate by the caller; derive it via JWK.
  const jwk = await webcrypto.subtle.exportKey("jwk", privateKey);
  delete jwk.d;
  jwk.key_ops = ["verify"];
  const publicKey = await webcrypto.subtle.importKey("jwk", jwk, ALG, true, ["verify"]);
  return { privateKey, publicKey };
}

function newKeys(): Promise<KeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as Promise<KeyPair>;
}

/** A certificate as PEM text ending in a newline (so chains concatenate cleanly). */
function pem(c: x509.X509Certificate): string {
  return `${c.toString("pem").trim()}\n`;
}

function serial(): string {
  // Positive, 16 random bytes.
  const b = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
  b[0] = b[0]! & 0x7f;
  return b.toString("hex");
}

/**
 * wharf's own certificate authority for localhost, LAN and development (`tls: internal`):
 * a root (10 years) and an intermediate (1 year) made once and kept in the data directory,
 * issuing short-lived leaf certificates (7 days) for whatever names a site serves.
 */
export class InternalCa {
  readonly dir: string;
  #root: { cert: x509.X509Certificate; keys: KeyPair } | undefined;
  #inter: { cert: x509.X509Certificate; keys: KeyPair } | undefined;

  constructor(dataDir: string) {
    this.dir = join(dataDir, "internal-ca");
  }

  /** Path of the root certificate: what `wharf trust` installs. */
  get rootPath(): string {
    return join(this.dir, "root.crt");
  }

  /** Loads the CA, creating it the first time (and a new intermediate when it nears expiry). */
  async load(): Promise<void> {
    if (this.#inter) return;
    mkdirSync(join(this.dir, "leaves"), { recursive: true, mode: 0o700 });
    const now = Date.now();
    if (existsSync(this.rootPath) && existsSync(join(this.dir, "root.key"))) {
      this.#root = {
        cert: new x509.X509Certificate(readFileSync(this.rootPath, "utf8")),
        keys: await importKey(readFileSync(join(this.dir, "root.key"), "utf8")),
      };
    } else {
      const keys = await newKeys();
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: serial(),
        name: "CN=wharf Local Root CA, O=wharf",
        notBefore: new Date(now - DAY),
        notAfter: new Date(now + 3650 * DAY),
        signingAlgorithm: ALG,
        keys: keys as never,
        extensions: [
          new x509.BasicConstraintsExtension(true, 1, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
        ],
      });
      writeAtomic(join(this.dir, "root.key"), await exportKey(keys));
      writeAtomic(this.rootPath, pem(cert), 0o644);
      this.#root = { cert, keys };
    }
    const interPath = join(this.dir, "intermediate.crt");
    if (existsSync(interPath) && existsSync(join(this.dir, "intermediate.key"))) {
      const cert = new x509.X509Certificate(readFileSync(interPath, "utf8"));
      if (cert.notAfter.getTime() - now > 30 * DAY) {
        this.#inter = {
          cert,
          keys: await importKey(readFileSync(join(this.dir, "intermediate.key"), "utf8")),
        };
        return;
      }
    }
    const keys = await newKeys();
    const root = this.#root!;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: "CN=wharf Local Intermediate CA, O=wharf",
      issuer: root.cert.subject,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 365 * DAY),
      signingAlgorithm: ALG,
      publicKey: keys.publicKey as never,
      signingKey: root.keys.privateKey as never,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
        await x509.AuthorityKeyIdentifierExtension.create(root.keys.publicKey as never),
      ],
    });
    writeAtomic(join(this.dir, "intermediate.key"), await exportKey(keys));
    writeAtomic(interPath, pem(cert), 0o644);
    this.#inter = { cert, keys };
  }

  /** Issues a leaf certificate for `names` (DNS names or IP addresses); PEM chain and key. */
  async issue(names: string[], days = 7): Promise<{ cert: string; key: string; notAfter: Date }> {
    await this.load();
    const inter = this.#inter!;
    const keys = await newKeys();
    const now = Date.now();
    const notAfter = new Date(Math.min(now + days * DAY, inter.cert.notAfter.getTime()));
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${names[0]}`,
      issuer: inter.cert.subject,
      notBefore: new Date(now - 3_600_000),
      notAfter,
      signingAlgorithm: ALG,
      publicKey: keys.publicKey as never,
      signingKey: inter.keys.privateKey as never,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          names.map((n) => ({
            type: /^[\d.]+$|:/.test(n) ? ("ip" as const) : ("dns" as const),
            value: n.replace(/^\[|\]$/g, ""),
          })),
        ),
        await x509.AuthorityKeyIdentifierExtension.create(inter.keys.publicKey as never),
      ],
    });
    return { cert: `${pem(leaf)}${pem(inter.cert)}`, key: await exportKey(keys), notAfter };
  }
}

/** Whether a PEM certificate expires within `ms`. */
export function expiresWithin(pem: string, ms: number): boolean {
  return Date.parse(new X509Certificate(pem).validTo) - Date.now() < ms;
}
