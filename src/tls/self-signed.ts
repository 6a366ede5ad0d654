import * as x509 from "@peculiar/x509";
import { ALG, altNames, DAY, exportKey, newKeys, pem, serial } from "./x509-keys.ts";

/**
 * A short-lived self-signed certificate for `names`: what a TLS listener presents for an
 * ACME site until its real certificate arrives (browsers warn; the ACME challenge needs
 * the listener up).
 */
export async function selfSignedCert(names: string[], days = 7): Promise<{ cert: string; key: string }> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${names[0]}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * DAY),
    signingAlgorithm: ALG,
    keys: keys as never,
    extensions: [altNames(names), new x509.BasicConstraintsExtension(false)],
  });
  return { cert: pem(cert), key: await exportKey(keys) };
}
