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
