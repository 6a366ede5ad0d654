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
  readonly #values = new Map<string, number>();

  inc(labels: string, by = 1): void {
    this.#values.set(labels, (this.#values.get(labels) ?? 0) + by);
  }

  series(): Series {
    return Object.fromEntries(this.#values);
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

/** Sums worker snapshots: counters and gauges add, histograms add bucket by bucket. */
export function mergeSnapshots(snapshots: readonly Snapshot[]): Snapshot {
  const out: Snapshot = {};
  for (const snap of snapshots) {
    for (const [name, series] of Object.entries(snap)) {
      const into = (out[name] ??= {});
      for (const [key, v] of Object.entries(series)) {
        const have = into[key];
        if (typeof v === "number") into[key] = ((have as number | undefined) ?? 0) + v;
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
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

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
