import { sendError } from "../../http/error-page.ts";
import type { Exchange } from "../../http/exchange.ts";
import type { HandlerInstance } from "../handler.ts";
import { type PasswordHash, parseHash } from "./passwords.ts";
import type { BasicAuthConfig } from "./schema.ts";

/** Verified credentials kept (a slow hash is paid once per credential, not per request). */
const CACHE_ENTRIES = 1000;
/** How long a verified credential is trusted before it is checked again. */
const CACHE_MS = 5 * 60_000;

/**
 * The `basic_auth` guard: a request whose `Authorization: Basic` names a user and the
 * password of its stored hash continues to the next handler; any other gets 401 with
 * `WWW-Authenticate: Basic realm="…"`. Hashes are compared in constant time; an unknown
 * user costs the same hash as a known one (no user enumeration by timing); a verified
 * credential is remembered for five minutes (at most a thousand of them).
 */
export function createBasicAuth(cfg: BasicAuthConfig): HandlerInstance {
  const users = new Map<string, PasswordHash>();
  for (const [user, hash] of Object.entries(cfg.users)) users.set(user, parseHash(hash) as PasswordHash);
  // A decoy with the first user's cost, for unknown users.
  const decoy = users.values().next().value as PasswordHash;
  const challenge = `Basic realm="${cfg.realm}", charset="UTF-8"`;
  const verified = new Map<string, number>();
  const checking = new Map<string, Promise<boolean>>();

  const deny = (ex: Exchange) => {
    ex.setHeader("WWW-Authenticate", challenge);
    sendError(ex, 401);
  };

  return {
    handle(ex, next) {
      const auth = ex.header("authorization");
      if (auth === undefined || !/^basic\s/i.test(auth)) return deny(ex);
      // Keyed by the header itself: hashing it per request cost more than the rest of the guard.
      const key = auth;
      const until = verified.get(key);
      if (until !== undefined) {
        if (until > Date.now()) return next();
        verified.delete(key);
      }
      const decoded = Buffer.from(auth.slice(6).trim(), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon === -1) return deny(ex);
      const user = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const hash = users.get(user);
      // Concurrent requests with one credential share one verification (a browser opens
      // several connections at once; each must not pay the slow hash).
      let check = checking.get(key);
      if (check === undefined) {
        check = (hash ?? decoy)
          .verify(password)
          .then((ok) => ok && hash !== undefined)
          .catch(() => false)
          .finally(() => checking.delete(key));
        checking.set(key, check);
      }
      return check.then((ok) => {
        if (!ok) return deny(ex);
        if (verified.size >= CACHE_ENTRIES) verified.delete(verified.keys().next().value!);
        verified.set(key, Date.now() + CACHE_MS);
        return next();
      });
    },
  };
}
