import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { SecureContext } from "node:tls";
import type { SiteConfig } from "../config/types.ts";
import { type OcspHandler, secureContextFor, type TlsSelection } from "../http/tls-policy.ts";
import { alpnChallenges } from "./challenges.ts";
import { onDemandContext } from "./on-demand-certs.ts";

/**
 * Session-ticket keys shared by every worker (the primary hands them down in the
 * environment), so a resumed session works whichever worker the client reaches.
 */
export function ticketKeys(): Buffer {
  if (rotated) return rotated;
  const hex = process.env.WHARF_TICKET_KEYS;
  return hex && hex.length === 96 ? Buffer.from(hex, "hex") : randomBytes(48);
}

let rotated: Buffer | undefined;

/** Records keys the primary rotated in (listeners built later use them too). */
export function setTicketKeys(keys: Buffer): void {
  rotated = keys;
}

/**
 * Certificates for one TLS address, chosen by SNI from the same host names that route
 * requests: exact names, then `*.example.com`, else the address's first TLS site.
 */
export function buildTlsSelection(
  sites: SiteConfig[],
  keys: Buffer,
  ocsp?: OcspHandler,
): TlsSelection | undefined {
  const exact = new Map<string, SecureContext>();
  const wild = new Map<string, SecureContext>();
  let fallback: ReturnType<typeof secureContextFor> | undefined;
  const byFiles = new Map<string, ReturnType<typeof secureContextFor>>();
  for (const s of sites) {
    if (!s.tls?.cert || !s.tls.key) continue;
    const id = `${s.tls.cert}\0${s.tls.key}\0${s.tls.client_ca ?? ""}`;
    let made = byFiles.get(id);
    if (!made) {
      made = secureContextFor(
        readFileSync(s.tls.cert),
        readFileSync(s.tls.key),
        s.tls.client_ca ? readFileSync(s.tls.client_ca) : undefined,
      );
      byFiles.set(id, made);
    }
    fallback ??= made;
    if (s.hosts.length === 0) fallback = made;
    for (const h of s.hosts) {
      if (h.startsWith("*.")) {
        if (!wild.has(h.slice(1))) wild.set(h.slice(1), made.context);
      } else if (!exact.has(h)) exact.set(h, made.context);
    }
  }
  if (!fallback) return undefined;
  return {
    contextFor(name) {
      const e = exact.get(name);
      if (e) return e;
      const dot = name.indexOf(".");
      return dot > 0 ? wild.get(name.slice(dot)) : undefined;
    },
    defaultContext: fallback.context,
    defaultOptions: fallback.options,
    ticketKeys: keys,
    requestCert: sites.some((s) => s.tls?.client_ca),
    // Addresses of ACME sites answer TLS-ALPN-01 validations (while one is pending).
    alpnChallenges: sites.some((s) => s.tls?.source === "acme") ? alpnChallenges : undefined,
    onDemand: sites.some((s) => s.tls?.on_demand) ? onDemandContext : undefined,
    ocsp,
  };
}
