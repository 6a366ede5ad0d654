import assert from "node:assert/strict";
import { test } from "node:test";
import {
  labels,
  type MetricInfo,
  mergeSnapshots,
  toPrometheus,
  WorkerMetrics,
} from "../../src/core/metrics.ts";

const INFO: Record<string, MetricInfo> = {
  t_requests_total: { help: "Requests.", type: "counter", labels: ["site", "code"] },
  t_up: { help: "Up.", type: "gauge", labels: ["upstream"], merge: "min" },
  t_seconds: { help: "Time.", type: "histogram", labels: [], bounds: [0.1, 1] },
};

test("worker snapshots merge: counters add, min gauges take the least, histograms add per bucket", () => {
  const a = {
    t_requests_total: { [labels("a.test", 200)]: 3 },
    t_up: { x: 1, y: 1 },
    t_seconds: { "": { buckets: [1, 0, 0], sum: 0.05, count: 1 } },
  };
  const b = {
    t_requests_total: { [labels("a.test", 200)]: 4, [labels("a.test", 404)]: 1 },
    t_up: { x: 0, y: 1 },
    t_seconds: { "": { buckets: [0, 1, 1], sum: 2.5, count: 2 } },
  };
  const text = toPrometheus(mergeSnapshots([a, b], INFO), INFO);
  assert.equal(
    text,
    `# HELP t_requests_total Requests.
# TYPE t_requests_total counter
t_requests_total{site="a.test",code="200"} 7
t_requests_total{site="a.test",code="404"} 1
# HELP t_up Up.
# TYPE t_up gauge
t_up{upstream="x"} 0
t_up{upstream="y"} 1
# HELP t_seconds Time.
# TYPE t_seconds histogram
t_seconds_bucket{le="0.1"} 1
t_seconds_bucket{le="1"} 2
t_seconds_bucket{le="+Inf"} 3
t_seconds_sum 2.55
t_seconds_count 3
`,
  );
  // The inputs are not changed by merging.
  assert.deepEqual(a.t_seconds[""].buckets, [1, 0, 0]);
});

test("label values are escaped for the text format", () => {
  const text = toPrometheus({ t_up: { 'a"b\\c\nd': 1 } }, INFO);
  assert.match(text, /^t_up\{upstream="a\\"b\\\\c\\nd"\} 1$/m);
});

test("a worker's counters: cells keep counting, histograms bucket by bound", () => {
  const m = new WorkerMetrics();
  const cell = m.requests.cell(labels("s", 200, "GET"));
  cell.value++;
  m.requests.inc(labels("s", 200, "GET"), 2);
  const h = m.duration.get("s");
  h.observe(0.0001);
  h.observe(100);
  const snap = m.snapshot();
  assert.equal(snap.wharf_http_requests_total![labels("s", 200, "GET")], 3);
  const state = snap.wharf_http_request_duration_seconds!.s as { buckets: number[]; count: number };
  assert.equal(state.count, 2);
  assert.equal(state.buckets[0], 1);
  assert.equal(state.buckets.at(-1), 1, "above every bound: the +Inf bucket");
});
