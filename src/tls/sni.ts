import { readFileSync } from "node:fs";
import type { SecureContext } from "node:tls";
import type { SiteConfig } from "../config/types.ts";
import { type OcspHandler, secureContextFor, type TlsSelection } from "../http/tls-policy.ts";
import type { WorkerTls } from "./worker-tls.ts";

/**
 * Certificates for one TLS address, chosen by SNI from the same host names that route
 * requests: exact names, then `*.example.com`, else the address's first TLS site.
 */
export function buildTlsSelection(
  sites: SiteConfig[],
  state: WorkerTls,
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
    ticketKeys: state.ticketKeys,
    requestCert: sites.some((s) => s.tls?.client_ca),
    // Addresses of ACME sites answer TLS-ALPN-01 validations (while one is pending).
    helloDivert: sites.some((s) => s.tls?.source === "acme") ? state.alpnDivert : undefined,
    onDemand: sites.some((s) => s.tls?.on_demand) ? state.onDemandContext : undefined,
    ocsp,
  };
}
