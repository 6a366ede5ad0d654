import type { SecureContext } from "node:tls";
import type { AlpnChallenges } from "../http/tls-front.ts";
import { tlsModule } from "../http/tls-policy.ts";

/**
 * HTTP-01 challenge responses this worker answers (token → key authorization). The
 * primary, which runs the ACME orders, hands them to every worker; whichever worker the
 * CA's validation request reaches can answer it.
 */
const tokens = new Map<string, string>();

export const CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

export function setChallenge(token: string, keyAuthorization: string | null): void {
  if (keyAuthorization === null) tokens.delete(token);
  else tokens.set(token, keyAuthorization);
}

/** The key authorization for a request path, when it is a pending challenge. */
export function challengeFor(path: string): string | undefined {
  if (tokens.size === 0 || !path.startsWith(CHALLENGE_PREFIX)) return undefined;
  return tokens.get(path.slice(CHALLENGE_PREFIX.length));
}

/**
 * TLS-ALPN-01 challenge certificates this worker presents (server name → context), for
 * the CA's validation handshakes with ALPN `acme-tls/1` (RFC 8737).
 */
const alpn = new Map<string, SecureContext>();

export function setAlpnChallenge(name: string, cert: string | null, key: string | null): void {
  if (cert === null || key === null) alpn.delete(name);
  else alpn.set(name, tlsModule().createSecureContext({ cert, key, ALPNProtocols: ["acme-tls/1"] } as never));
}

/** What TLS listeners consult for pending TLS-ALPN-01 validations. */
export const alpnChallenges: AlpnChallenges = {
  pending: () => alpn.size > 0,
  contextFor: (name) => alpn.get(name),
};
