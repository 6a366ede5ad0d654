import type { UpstreamRegistry, UpstreamView } from "../handlers/index.ts";

/**
 * A worker's upstreams, as the admin API and the metrics see them: every proxy's, and the
 * drained set the primary hands down (a drained upstream gets no new requests; what it is
 * answering finishes).
 */
export class Upstreams implements UpstreamRegistry {
  readonly #sources = new Set<() => UpstreamView[]>();
  #drained = new Set<string>();

  add(views: () => UpstreamView[]): () => void {
    this.#sources.add(views);
    return () => this.#sources.delete(views);
  }

  isDrained(url: string): boolean {
    return this.#drained.has(url);
  }

  setDrained(urls: readonly string[]): void {
    this.#drained = new Set(urls);
  }

  /** Every upstream of every proxy, merged by address (a proxy may share one with another). */
  views(): UpstreamView[] {
    return mergeUpstreamViews([...this.#sources].flatMap((source) => source()));
  }
}

/**
 * Views of the same upstreams merged by address (from several proxies, or several
 * workers): healthy only if every one says so, counts added, the last error kept.
 */
export function mergeUpstreamViews(views: Iterable<UpstreamView>): UpstreamView[] {
  const by = new Map<string, UpstreamView>();
  for (const v of views) {
    const have = by.get(v.url);
    if (have === undefined) by.set(v.url, { ...v });
    else {
      have.healthy &&= v.healthy;
      have.inFlight += v.inFlight;
      have.queued += v.queued;
      have.fails += v.fails;
      have.lastError = v.lastError ?? have.lastError;
    }
  }
  return [...by.values()];
}
