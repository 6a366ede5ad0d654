import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { writeAtomic } from "./storage.ts";
import { ALG, altNames, DAY, exportKey, importKey, type KeyPair, newKeys, pem, serial } from "./x509-keys.ts";

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

  /** Makes the CA's directory (and its leaves') if they are not there. */
  ensureDir(): void {
    mkdirSync(join(this.dir, "leaves"), { recursive: true, mode: 0o700 });
  }

  /** Loads the CA, creating it the first time (and a new intermediate when it nears expiry). */
  async load(): Promise<void> {
    if (this.#inter) return;
    this.ensureDir();
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

  /** The intermediate that issues leaves, PEM (once loaded): a leaf whose chain lacks it is re-issued. */
  get intermediatePem(): string {
    return pem(this.#inter!.cert);
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
        altNames(names),
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
