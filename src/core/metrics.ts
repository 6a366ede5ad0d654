/**
 * A worker's metrics, cheap enough for every request: counters and histograms kept in
 * plain objects keyed by label values, no string built per event. The primary asks each
 * worker for a snapshot and sums them ({@link mergeSnapshots}) when scraped.
 */

/** Bucket bounds of the duration histograms, seconds (Prometheus's defaults, finer at the low end). */
export const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** Bucket bounds of the response size histogram, bytes. */
export const SIZE_BUCKETS = [100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/** A histogram's state: counts per bucket (the last is +Inf), the sum and the count. */
export interface HistogramState {
  buckets: number[];
  sum: number;
  count: number;
}

export class Histogram {
  readonly bounds: readonly number[];
  readonly state: HistogramState;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.state = { buckets: new Array(bounds.length + 1).fill(0), sum: 0, count: 0 };
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.state.buckets[i]!++;
    this.state.sum += v;
    this.state.count++;
  }
}

/** One metric's series: label values (joined by "\u0001") → value or histogram state. */
export type Series = Record<string, number | HistogramState>;

/** What a worker reports: metric name → its series. */
export type Snapshot = Record<string, Series>;

/** Label names of each metric, for the text format. */
export type LabelNames = Record<string, readonly string[]>;

const SEP = "\u0001";

/** A family of counters by label values, each a number in a map. */
export class CounterVec {
  readonly #values = new Map<string, { value: number }>();

  inc(labels: string, by = 1): void {
    this.cell(labels).value += by;
  }

  /** The counter of one label set, to keep and bump where a hot path counts. */
  cell(labels: string): { value: number } {
    let c = this.#values.get(labels);
    if (c === undefined) {
      c = { value: 0 };
      this.#values.set(labels, c);
    }
    return c;
  }

  series(): Series {
    const out: Series = {};
    for (const [k, c] of this.#values) out[k] = c.value;
    return out;
  }
}

/** A family of histograms by label values. */
export class HistogramVec {
  readonly #bounds: readonly number[];
  readonly #values = new Map<string, Histogram>();

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
  }

  get(labels: string): Histogram {
    let h = this.#values.get(labels);
    if (h === undefined) {
      h = new Histogram(this.#bounds);
      this.#values.set(labels, h);
    }
    return h;
  }

  series(): Series {
    const out: Series = {};
    for (const [k, h] of this.#values) out[k] = h.state;
    return out;
  }
}

/** Joins label values into a series key. */
export function labels(...values: (string | number)[]): string {
  return values.join(SEP);
}

/**
 * Sums worker snapshots: counters and gauges add (a gauge whose info says `merge: "min"`
 * takes the least, as a state every worker must agree on), histograms add bucket by bucket.
 */
export function mergeSnapshots(
  snapshots: readonly Snapshot[],
  info: Record<string, MetricInfo> = METRICS,
): Snapshot {
  const out: Snapshot = {};
  for (const snap of snapshots) {
    for (const [name, series] of Object.entries(snap)) {
      out[name] ??= {};
      const into = out[name];
      const min = info[name]?.merge === "min";
      for (const [key, v] of Object.entries(series)) {
        const have = into[key];
        if (typeof v === "number")
          into[key] = have === undefined ? v : min ? Math.min(have as number, v) : (have as number) + v;
        else if (have === undefined) into[key] = { buckets: [...v.buckets], sum: v.sum, count: v.count };
        else {
          const h = have as HistogramState;
          v.buckets.forEach((n, i) => {
            h.buckets[i] = (h.buckets[i] ?? 0) + n;
          });
          h.sum += v.sum;
          h.count += v.count;
        }
      }
    }
  }
  return out;
}

/** A metric's description for the text format. */
export interface MetricInfo {
  help: string;
  type: "counter" | "gauge" | "histogram";
  labels: readonly string[];
  /** For histograms: the bucket bounds. */
  bounds?: readonly number[];
  /** How the workers' values combine: summed (default), or the least ("healthy" only if all say so). */
  merge?: "sum" | "min";
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** The media type of the Prometheus text exposition format. */
export const PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The Prometheus text exposition format (0.0.4) of a merged snapshot. */
export function toPrometheus(snapshot: Snapshot, info: Record<string, MetricInfo>): string {
  let out = "";
  for (const [name, meta] of Object.entries(info)) {
    const series = snapshot[name];
    if (series === undefined) continue;
    out += `# HELP ${name} ${meta.help}\n# TYPE ${name} ${meta.type}\n`;
    for (const [key, v] of Object.entries(series)) {
      const values = key === "" ? [] : key.split(SEP);
      const pairs = meta.labels.map((l, i) => `${l}="${escapeLabel(values[i] ?? "")}"`);
      const label = (extra?: string) => {
        const all = extra ? [...pairs, extra] : pairs;
        return all.length > 0 ? `{${all.join(",")}}` : "";
      };
      if (typeof v === "number") {
        out += `${name}${label()} ${v}\n`;
        continue;
      }
      let cumulative = 0;
      (meta.bounds ?? []).forEach((bound, i) => {
        cumulative += v.buckets[i] ?? 0;
        out += `${name}_bucket${label(`le="${bound}"`)} ${cumulative}\n`;
      });
      cumulative += v.buckets[meta.bounds?.length ?? 0] ?? 0;
      out += `${name}_bucket${label('le="+Inf"')} ${cumulative}\n`;
      out += `${name}_sum${label()} ${v.sum}\n${name}_count${label()} ${v.count}\n`;
    }
  }
  return out;
}

/** The metrics a worker counts, by the events where they happen (engine, dispatcher, handlers). */
export class WorkerMetrics {
  /** site, code, method */
  readonly requests = new CounterVec();
  /** site */
  readonly duration = new HistogramVec(DURATION_BUCKETS);
  /** site */
  readonly size = new HistogramVec(SIZE_BUCKETS);
  inFlight = 0;
  /** upstream */
  readonly upstreamDuration = new HistogramVec(DURATION_BUCKETS);
  /** upstream */
  readonly upstreamRetries = new CounterVec();
  /** result: hit, miss, stale, bypass… */
  readonly cacheRequests = new CounterVec();
  /** limit */
  readonly ratelimitRejected = new CounterVec();

  /** What the primary sums: the counted families, and the gauges it is given. */
  snapshot(gauges: Snapshot = {}): Snapshot {
    return {
      wharf_http_requests_total: this.requests.series(),
      wharf_http_request_duration_seconds: this.duration.series(),
      wharf_http_response_size_bytes: this.size.series(),
      wharf_http_requests_in_flight: { "": this.inFlight },
      wharf_upstream_request_duration_seconds: this.upstreamDuration.series(),
      wharf_upstream_retries_total: this.upstreamRetries.series(),
      wharf_cache_requests_total: this.cacheRequests.series(),
      wharf_ratelimit_rejected_total: this.ratelimitRejected.series(),
      ...gauges,
    };
  }
}

/** The families of wharf's /metrics, in the order they are written. */
export const METRICS: Record<string, MetricInfo> = {
  wharf_http_requests_total: {
    help: "Requests answered.",
    type: "counter",
    labels: ["site", "code", "method"],
  },
  wharf_http_request_duration_seconds: {
    help: "Time from a request's head to the end of its answer.",
    type: "histogram",
    labels: ["site"],
    bounds: DURATION_BUCKETS,
  },
  wharf_http_response_size_bytes: {
    help: "Response body bytes sent.",
    type: "histogram",
    labels: ["site"],
    bounds: SIZE_BUCKETS,
  },
  wharf_http_requests_in_flight: { help: "Requests being answered now.", type: "gauge", labels: [] },
  wharf_connections_open: { help: "Client connections open now.", type: "gauge", labels: ["protocol"] },
  wharf_upstream_healthy: {
    help: "1 when an upstream takes requests (in every worker), else 0.",
    type: "gauge",
    labels: ["upstream"],
    merge: "min",
  },
  wharf_upstream_requests_in_flight: {
    help: "Requests at an upstream now.",
    type: "gauge",
    labels: ["upstream"],
  },
  wharf_upstream_request_duration_seconds: {
    help: "Time from sending a request upstream to the end of its answer's body.",
    type: "histogram",
    labels: ["upstream"],
    bounds: DURATION_BUCKETS,
  },
  wharf_upstream_retries_total: {
    help: "Requests sent again to an upstream.",
    type: "counter",
    labels: ["upstream"],
  },
  wharf_cache_requests_total: {
    help: "Requests through a response cache, by what it did.",
    type: "counter",
    labels: ["result"],
  },
  wharf_ratelimit_rejected_total: {
    help: "Requests refused by a rate limit.",
    type: "counter",
    labels: ["limit"],
  },
  wharf_tls_certificate_not_after_seconds: {
    help: "When a served certificate expires (Unix time).",
    type: "gauge",
    labels: ["name"],
  },
  wharf_storage_up: {
    help: "1 while the shared storage (Redis) answers, else 0 (only with server.storage).",
    type: "gauge",
    labels: [],
  },
  wharf_storage_outages_total: {
    help: "Times the shared storage went away.",
    type: "counter",
    labels: [],
  },
  wharf_ratelimit_local_total: {
    help: "Rate-limit decisions taken per instance because the shared storage was away.",
    type: "counter",
    labels: [],
  },
  wharf_config_reloads_total: { help: "Config reloads, by result.", type: "counter", labels: ["result"] },
  wharf_worker_restarts_total: { help: "Workers replaced after they died.", type: "counter", labels: [] },
  wharf_workers: { help: "Worker processes running.", type: "gauge", labels: [] },
  process_resident_memory_bytes: {
    help: "Resident memory of wharf's processes, summed.",
    type: "gauge",
    labels: [],
  },
  process_cpu_seconds_total: { help: "CPU time of wharf's processes, summed.", type: "counter", labels: [] },
  process_open_fds: {
    help: "Open file descriptors of wharf's processes, summed.",
    type: "gauge",
    labels: [],
  },
  process_start_time_seconds: { help: "When the primary started (Unix time).", type: "gauge", labels: [] },
};
