import type { CompiledSite } from "./compile.ts";

/**
 * Host → site for one listen address: exact names first, then `*.example.com` wildcards
 * (one label, as in Caddy), then the address's default site: the first site without
 * hosts, else the first site listed (as nginx picks its default server).
 */
export class SiteTable {
  readonly #exact = new Map<string, CompiledSite>();
  readonly #wildcards = new Map<string, CompiledSite>();
  readonly #fallback: CompiledSite;

  constructor(sites: CompiledSite[]) {
    let catchAll: CompiledSite | undefined;
    for (const site of sites) {
      if (site.config.hosts.length === 0) catchAll ??= site;
      for (const h of site.config.hosts) {
        if (h.startsWith("*.")) {
          if (!this.#wildcards.has(h.slice(1))) this.#wildcards.set(h.slice(1), site);
        } else if (!this.#exact.has(h)) this.#exact.set(h, site);
      }
    }
    this.#fallback = catchAll ?? sites[0]!;
  }

  /** The site for a lower-case host without port. */
  lookup(host: string): CompiledSite {
    const exact = this.#exact.get(host);
    if (exact) return exact;
    if (this.#wildcards.size > 0) {
      const dot = host.indexOf(".");
      if (dot > 0) {
        const wild = this.#wildcards.get(host.slice(dot));
        if (wild) return wild;
      }
    }
    return this.#fallback;
  }

  /** Every host name this table answers for by name (for certificates, later). */
  get hosts(): string[] {
    return [...this.#exact.keys(), ...[...this.#wildcards.keys()].map((s) => `*${s}`)];
  }
}
