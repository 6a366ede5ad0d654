import { createHash } from "node:crypto";
import type { Logger } from "../core/logger.ts";
import type { OcspHandler } from "../http/tls-policy.ts";
import { buildQuery, type OcspQuery, readResponse } from "./ocsp.ts";

/** How long a handshake waits for a first OCSP answer before going on without a staple. */
const FIRST_WAIT_MS = 2000;
/** How long after a failed fetch the responder is asked again. */
const RETRY_MS = 60_000;
const FETCH_TIMEOUT_MS = 5000;

/** How long a handshake's first fetch waits for the shared storage before asking the responder. */
const STORE_WAIT_MS = 1000;

/** Where staples are shared with other instances (a storage behind the primary). */
export interface StapleStore {
  /** The stored OCSP response for the certificate whose SHA-256 is `id` (hex). */
  get(id: string): Promise<Buffer | undefined>;
  put(id: string, der: Buffer, ttlMs: number): Promise<void>;
}

interface Entry {
  id: string;
  query: OcspQuery | undefined;
  response: Buffer | undefined;
  expires: number;
  refreshAt: number;
  fetching: Promise<void> | undefined;
}

/**
 * OCSP stapling: for a certificate whose issuer names a responder, the worker fetches its
 * status, keeps it until half its validity has passed, and hands it to every client that
 * asks (status_request). Only a successful, current answer for that very certificate is
 * stapled; the signature is the client's to check.
 */
export function createOcspStapler(log: Logger, store?: StapleStore): OcspHandler {
  const entries = new Map<string, Entry>();

  /** Takes `der` when it is a current answer for the entry's certificate; false otherwise. */
  const adopt = (entry: Entry, der: Buffer, now: number): boolean => {
    const answer = readResponse(der, entry.query!.serial);
    if (!answer || answer.nextUpdate <= now || answer.thisUpdate > now + 60_000) return false;
    entry.response = der;
    entry.expires = answer.nextUpdate;
    entry.refreshAt = answer.thisUpdate + (answer.nextUpdate - answer.thisUpdate) / 2;
    return true;
  };

  /** An answer another instance (or this one, before a restart) stored and that is not due for refresh. */
  const stored = async (entry: Entry): Promise<boolean> => {
    if (!store) return false;
    const late = new Promise<undefined>((r) => setTimeout(() => r(undefined), STORE_WAIT_MS).unref());
    const der = await Promise.race([store.get(entry.id).catch(() => undefined), late]);
    const now = Date.now();
    if (!der || der.equals(entry.response ?? Buffer.alloc(0)) || !adopt(entry, der, now)) return false;
    return entry.refreshAt > now;
  };

  const refresh = (entry: Entry): Promise<void> => {
    const q = entry.query!;
    entry.fetching ??= (async () => {
      try {
        if (await stored(entry)) return;
        const res = await fetch(q.url, {
          method: "POST",
          headers: { "content-type": "application/ocsp-request" },
          body: new Uint8Array(q.request),
          signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        });
        const der = Buffer.from(await res.arrayBuffer());
        const answer = res.ok ? readResponse(der, q.serial) : undefined;
        const now = Date.now();
        if (!answer || !adopt(entry, der, now)) {
          log.warn("OCSP responder gave no usable answer", { url: q.url, http_status: res.status });
          entry.refreshAt = now + RETRY_MS;
          return;
        }
        if (answer.status !== "good")
          log.warn("OCSP status of a served certificate", { status: answer.status });
        await store?.put(entry.id, der, answer.nextUpdate - now).catch(() => {});
      } catch (err) {
        log.warn("OCSP responder unreachable", { url: q.url, error: (err as Error).message });
        entry.refreshAt = Date.now() + RETRY_MS;
      } finally {
        entry.fetching = undefined;
      }
    })();
    return entry.fetching;
  };

  return (cert, issuer, cb) => {
    if (!issuer) return cb(null, null);
    const key = createHash("sha256").update(cert).digest("hex");
    let entry = entries.get(key);
    if (!entry) {
      let query: OcspQuery | undefined;
      try {
        query = buildQuery(cert, issuer);
      } catch (err) {
        log.warn("cannot build an OCSP request for a certificate", { error: (err as Error).message });
      }
      entry = { id: key, query, response: undefined, expires: 0, refreshAt: 0, fetching: undefined };
      entries.set(key, entry);
    }
    if (!entry.query) return cb(null, null);
    const now = Date.now();
    const current = entry.response !== undefined && now < entry.expires;
    if (now >= entry.refreshAt && !entry.fetching) void refresh(entry);
    if (current || !entry.fetching) return cb(null, current ? entry.response! : null);
    // The first answer is on its way: wait a little for it rather than staple nothing.
    const e = entry;
    const timer = new Promise<void>((r) => setTimeout(r, FIRST_WAIT_MS).unref());
    void Promise.race([e.fetching, timer]).then(() =>
      cb(null, e.response !== undefined && Date.now() < e.expires ? e.response : null),
    );
  };
}
