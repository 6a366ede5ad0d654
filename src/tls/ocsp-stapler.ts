import { createHash } from "node:crypto";
import type { Logger } from "../core/logger.ts";
import type { OcspHandler } from "../http/tls-policy.ts";
import { buildQuery, type OcspQuery, readResponse } from "./ocsp.ts";

/** How long a handshake waits for a first OCSP answer before going on without a staple. */
const FIRST_WAIT_MS = 2000;
/** How long after a failed fetch the responder is asked again. */
const RETRY_MS = 60_000;
const FETCH_TIMEOUT_MS = 5000;

interface Entry {
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
export function createOcspStapler(log: Logger): OcspHandler {
  const entries = new Map<string, Entry>();

  const refresh = (entry: Entry): Promise<void> => {
    const q = entry.query!;
    entry.fetching ??= (async () => {
      try {
        const res = await fetch(q.url, {
          method: "POST",
          headers: { "content-type": "application/ocsp-request" },
          body: new Uint8Array(q.request),
          signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        });
        const der = Buffer.from(await res.arrayBuffer());
        const answer = res.ok ? readResponse(der, q.serial) : undefined;
        const now = Date.now();
        if (!answer || answer.nextUpdate <= now || answer.thisUpdate > now + 60_000) {
          log.warn("OCSP responder gave no usable answer", { url: q.url, http_status: res.status });
          entry.refreshAt = now + RETRY_MS;
          return;
        }
        if (answer.status !== "good")
          log.warn("OCSP status of a served certificate", { status: answer.status });
        entry.response = der;
        entry.expires = answer.nextUpdate;
        entry.refreshAt = answer.thisUpdate + (answer.nextUpdate - answer.thisUpdate) / 2;
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
      entry = { query, response: undefined, expires: 0, refreshAt: 0, fetching: undefined };
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
