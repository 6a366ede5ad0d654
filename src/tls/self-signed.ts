import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

type Key = webcrypto.CryptoKey;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function pemKey(key: Key): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key as never));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "")}\n-----END PRIVATE KEY-----\n`;
}

/**
 * A short-lived self-signed certificate for `names`: what a TLS listener presents for an
 * ACME site until its real certificate arrives (browsers warn; the ACME challenge needs
 * the listener up).
 */
export async function selfSignedCert(names: string[], days = 7): Promise<{ cert: string; key: string }> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(12))).toString("hex"),
    name: `CN=${names[0]}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * 86_400_000),
    signingAlgorithm: ALG,
    keys: keys as never,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        names.map((n) => ({ type: /^[\d.]+$/.test(n) ? "ip" : "dns", value: n })),
      ),
      new x509.BasicConstraintsExtension(false),
    ],
  });
  return { cert: cert.toString("pem"), key: await pemKey(keys.privateKey) };
}
