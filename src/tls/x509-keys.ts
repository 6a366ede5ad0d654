import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// @peculiar/x509 signs through WebCrypto; Node's implementation serves.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type KeyPair = webcrypto.CryptoKeyPair;
export const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
export const DAY = 86_400_000;

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** The private key as PKCS#8 PEM. */
export async function exportKey(keys: KeyPair): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
}

/** A key pair back from its PKCS#8 PEM (the public half derived through JWK). */
export async function importKey(pem: string): Promise<KeyPair> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  const privateKey = await webcrypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]);
  const jwk = await webcrypto.subtle.exportKey("jwk", privateKey);
  delete jwk.d;
  jwk.key_ops = ["verify"];
  const publicKey = await webcrypto.subtle.importKey("jwk", jwk, ALG, true, ["verify"]);
  return { privateKey, publicKey };
}

/** A new P-256 key pair. */
export function newKeys(): Promise<KeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as Promise<KeyPair>;
}

/** A certificate as PEM text ending in a newline (so chains concatenate cleanly). */
export function pem(c: x509.X509Certificate): string {
  return `${c.toString("pem").trim()}\n`;
}

/** A positive random 16-byte serial number. */
export function serial(): string {
  const b = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
  b[0] = b[0]! & 0x7f;
  return b.toString("hex");
}

/** Subject alternative names for host names and IP addresses (v4, or v6 with or without brackets). */
export function altNames(names: string[]): x509.SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension(
    names.map((n) => ({
      type: /^[\d.]+$|:/.test(n) ? ("ip" as const) : ("dns" as const),
      value: n.replace(/^\[|\]$/g, ""),
    })),
  );
}
