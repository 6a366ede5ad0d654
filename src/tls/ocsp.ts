import { createHash, X509Certificate } from "node:crypto";
import { children, generalizedTime, raw, readTlv, type Tlv, tlv } from "./der.ts";

/** OID 1.3.14.3.2.26 (SHA-1), the hash every OCSP responder accepts for CertID (RFC 6960 §4.1.1). */
const SHA1_ALGORITHM = tlv(0x30, tlv(0x06, Buffer.from([0x2b, 0x0e, 0x03, 0x02, 0x1a])), tlv(0x05));
/** OID 1.3.6.1.5.5.7.48.1.1, id-pkix-ocsp-basic. */
const BASIC = Buffer.from([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]);

/** What a stapler needs to ask for a certificate's status. */
export interface OcspQuery {
  url: string;
  /** The DER OCSPRequest. */
  request: Buffer;
  /** The certificate's serial number (DER INTEGER content), to find its answer. */
  serial: Buffer;
}

/** The OCSP responder of a certificate (its Authority Information Access), if it names one over HTTP. */
export function responderUrl(cert: X509Certificate): string | undefined {
  const m = /OCSP - URI:(http:\/\/\S+)/.exec(cert.infoAccess ?? "");
  return m?.[1];
}

/**
 * The OCSP request (RFC 6960 §4.1) for `certDer` issued by `issuerDer`: CertID from the
 * SHA-1 of the issuer's name and of its public key, and the serial number.
 */
export function buildQuery(certDer: Buffer, issuerDer: Buffer): OcspQuery | undefined {
  const cert = new X509Certificate(certDer);
  const url = responderUrl(cert);
  if (url === undefined) return undefined;
  // tbsCertificate: [0] version, serialNumber, signature, issuer, …
  const tbs = children(certDer, readTlv(certDer, 0))[0]!;
  const fields = children(certDer, tbs);
  const i = fields[0]!.tag === 0xa0 ? 1 : 0;
  const serial = fields[i]!;
  const issuerName = raw(certDer, fields[i + 2]!);
  // subjectPublicKey: the BIT STRING in the issuer's SubjectPublicKeyInfo, without its unused-bits byte.
  const spki = new X509Certificate(issuerDer).publicKey.export({ type: "spki", format: "der" });
  const keyBits = children(spki, readTlv(spki, 0))[1]!;
  const key = spki.subarray(keyBits.start + 1, keyBits.end);
  const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest();
  const certId = tlv(
    0x30,
    SHA1_ALGORITHM,
    tlv(0x04, sha1(issuerName)),
    tlv(0x04, sha1(key)),
    raw(certDer, serial),
  );
  const request = tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, certId))));
  return { url, request, serial: Buffer.from(certDer.subarray(serial.start, serial.end)) };
}

/** What a response says about the certificate asked for. */
export interface OcspAnswer {
  status: "good" | "revoked" | "unknown";
  thisUpdate: number;
  /** When it stops being valid (ms); responders without one get a day. */
  nextUpdate: number;
}

/**
 * Reads an OCSPResponse (RFC 6960 §4.2.1): successful, basic, with a SingleResponse for
 * `serial`. Undefined for anything else (the signature is for the client to check).
 */
export function readResponse(der: Buffer, serial: Buffer): OcspAnswer | undefined {
  try {
    const top = children(der, readTlv(der, 0));
    const status = top[0]!;
    if (status.tag !== 0x0a || der[status.start] !== 0) return undefined; // successful (0)
    const bytes = children(der, top[1]!)[0]!; // [0] EXPLICIT ResponseBytes
    const [type, octets] = children(der, bytes) as [Tlv, Tlv];
    if (!der.subarray(type.start, type.end).equals(BASIC)) return undefined;
    const basic = children(der, readTlv(der, octets.start, octets.end));
    const data = children(der, basic[0]!);
    let k = data[0]!.tag === 0xa0 ? 1 : 0; // [0] version
    k += 2; // responderID, producedAt
    for (const single of children(der, data[k]!)) {
      const parts = children(der, single);
      const id = children(der, parts[0]!);
      if (!der.subarray(id[3]!.start, id[3]!.end).equals(serial)) continue;
      const tag = parts[1]!.tag & 0x1f;
      const thisUpdate = generalizedTime(der, parts[2]!);
      const next = parts.find((p) => p.tag === 0xa0);
      const nextUpdate = next ? generalizedTime(der, children(der, next)[0]!) : thisUpdate + 86_400_000;
      return { status: tag === 0 ? "good" : tag === 1 ? "revoked" : "unknown", thisUpdate, nextUpdate };
    }
  } catch {
    // Malformed: not stapled.
  }
  return undefined;
}
