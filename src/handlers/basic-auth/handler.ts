import { createHash } from "node:crypto";
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
 * credential is remembered (keyed by a digest of the header) for five minutes.
 */
export function createBasicAuth(cfg: BasicAuthConfig): HandlerInstance {
  const users = new Map<string, PasswordHash>();
  for (const [user, hash] of Object.entries(cfg.users)) users.set(user, parseHash(hash) as PasswordHash);
  // A decoy with the first user's cost, for unknown users.
  const decoy = users.values().next().value as PasswordHash;
  const challenge = `Basic realm="${cfg.realm}", charset="UTF-8"`;
  const verified = new Map<string, number>();

  const deny = (ex: Exchange) => {
    ex.setHeader("WWW-Authenticate", challenge);
    sendError(ex, 401);
  };

  return {
    handle(ex, next) {
      const auth = ex.header("authorization");
      if (auth === undefined || !/^basic\s/i.test(auth)) return deny(ex);
      const key = createHash("sha256").update(auth).digest("base64");
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
      return (hash ?? decoy).verify(password).then(
        (ok) => {
          if (!ok || hash === undefined) return deny(ex);
          if (verified.size >= CACHE_ENTRIES) verified.delete(verified.keys().next().value!);
          verified.set(key, Date.now() + CACHE_MS);
          return next();
        },
        () => deny(ex),
      );
    },
  };
}
