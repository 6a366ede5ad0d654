/**
 * The live dashboard: one self-contained page (no CDN, no build step), served on a TCP
 * admin listener. It polls /stats every second and draws requests per second, latency
 * percentiles, status codes over time, connections, upstreams, certificates and workers.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wharf</title>
<link rel="icon" href="data:,">
<style>
  :root { --fg: #1d2530; --muted: #687385; --line: #e3e7ee; --bg: #f6f8fb; --card: #fff;
          --ok: #1f9d55; --warn: #d97706; --bad: #dc2626; --accent: #2563eb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 1rem; padding: 14px 22px; background: #0f172a; color: #e2e8f0; }
  header h1 { margin: 0; font-size: 18px; letter-spacing: .02em; }
  header .sub { color: #94a3b8; font-size: 13px; }
  main { padding: 18px 22px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
  .card h2 { margin: 0 0 8px; font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
  .big { font-size: 30px; font-weight: 650; font-variant-numeric: tabular-nums; }
  .row { display: flex; gap: 18px; flex-wrap: wrap; }
  .kv { font-variant-numeric: tabular-nums; }
  .kv b { display: block; font-size: 20px; }
  .wide { grid-column: 1 / -1; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 5px 6px; border-bottom: 1px solid var(--line); font-size: 13px; }
  th { color: var(--muted); font-weight: 500; }
  .pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff; }
  .ok { background: var(--ok); } .warn { background: var(--warn); } .bad { background: var(--bad); }
  canvas { width: 100%; height: 150px; display: block; }
  .legend span { margin-right: 12px; font-size: 12px; color: var(--muted); }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
  #err { color: var(--bad); }
</style>
</head>
<body>
<header><h1>wharf</h1><span class="sub" id="sub">connecting…</span><span id="err"></span></header>
<main>
  <section class="card"><h2>Requests / s</h2><div class="big" id="rps">–</div></section>
  <section class="card"><h2>Latency</h2><div class="row">
    <div class="kv">p50<b id="p50">–</b></div><div class="kv">p95<b id="p95">–</b></div><div class="kv">p99<b id="p99">–</b></div>
  </div></section>
  <section class="card"><h2>Connections</h2><div class="big" id="conns">–</div><div class="kv" id="connsBy"></div></section>
  <section class="card"><h2>In flight</h2><div class="big" id="inflight">–</div></section>
  <section class="card wide"><h2>Status codes per second</h2>
    <canvas id="chart" width="1200" height="150"></canvas>
    <div class="legend"><span><i style="background:#1f9d55"></i>2xx</span><span><i style="background:#2563eb"></i>3xx</span><span><i style="background:#d97706"></i>4xx</span><span><i style="background:#dc2626"></i>5xx</span></div>
  </section>
  <section class="card wide"><h2>Upstreams</h2><table id="upstreams"><tr><th>address</th><th>state</th><th>in flight</th><th>failures</th><th>last error</th></tr></table></section>
  <section class="card wide"><h2>Certificates</h2><table id="certs"><tr><th>names</th><th>source</th><th>issuer</th><th>expires</th><th>next renewal</th></tr></table></section>
  <section class="card wide"><h2>Workers</h2><table id="workers"><tr><th>id</th><th>pid</th><th>uptime</th><th>connections</th><th>memory</th><th>restarts</th></tr></table></section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const history = [];
let previous = null;

function parseMetrics(text) {
  const out = {};
  for (const line of text.split("\\n")) {
    if (line === "" || line[0] === "#") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? (.+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const p of (m[3] || "").matchAll(/([a-zA-Z_]+)="((?:[^"\\\\]|\\\\.)*)"/g)) labels[p[1]] = p[2];
    (out[m[1]] = out[m[1]] || []).push({ labels, value: Number(m[4]) });
  }
  return out;
}
const sum = (rows, pick) => (rows || []).filter(pick || (() => true)).reduce((a, r) => a + r.value, 0);

function quantile(buckets, q) {
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  if (total <= 0) return null;
  let prevLe = 0, prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= q * total) {
      if (!isFinite(le)) return prevLe;
      const share = count === prevCount ? 0 : (q * total - prevCount) / (count - prevCount);
      return prevLe + (le - prevLe) * share;
    }
    prevLe = isFinite(le) ? le : prevLe; prevCount = count;
  }
  return prevLe;
}
function histogram(rows) {
  const by = new Map();
  for (const r of rows || []) {
    const le = r.labels.le === "+Inf" ? Infinity : Number(r.labels.le);
    by.set(le, (by.get(le) || 0) + r.value);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]);
}
const ms = (s) => s === null ? "–" : s < 0.001 ? (s * 1e6).toFixed(0) + " µs" : s < 1 ? (s * 1000).toFixed(1) + " ms" : s.toFixed(2) + " s";
const bytes = (n) => n > 1 << 30 ? (n / (1 << 30)).toFixed(1) + " GiB" : n > 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB" : (n / 1024).toFixed(0) + " KiB";
const text = (s) => String(s == null ? "–" : s).replace(/[&<>"]/g, (c) => "&#" + c.charCodeAt(0) + ";");
function table(id, rows) {
  const t = $(id);
  while (t.rows.length > 1) t.deleteRow(1);
  for (const cells of rows) t.insertRow().innerHTML = cells.map((c) => "<td>" + c + "</td>").join("");
  if (rows.length === 0) t.insertRow().innerHTML = '<td colspan="6" style="color: var(--muted)">none</td>';
}

function draw() {
  const c = $("chart"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const n = 120, w = c.width / n;
  const max = Math.max(1, ...history.map((h) => h.c2 + h.c3 + h.c4 + h.c5));
  history.slice(-n).forEach((h, i) => {
    let y = c.height;
    for (const [v, color] of [[h.c2, "#1f9d55"], [h.c3, "#2563eb"], [h.c4, "#d97706"], [h.c5, "#dc2626"]]) {
      const hgt = (v / max) * (c.height - 4);
      g.fillStyle = color; g.fillRect(i * w, y - hgt, Math.max(1, w - 1), hgt); y -= hgt;
    }
  });
}

async function tick() {
  try {
    const r = await fetch("stats", { cache: "no-store" });
    if (!r.ok) throw new Error("stats: " + r.status);
    const s = await r.json();
    const m = parseMetrics(s.metrics);
    const reqs = m.wharf_http_requests_total || [];
    const byClass = (k) => sum(reqs, (r) => String(r.labels.code || "")[0] === k);
    const now = { time: s.time, total: sum(reqs), c2: byClass("2"), c3: byClass("3"), c4: byClass("4"), c5: byClass("5"),
      hist: histogram(m.wharf_http_request_duration_seconds_bucket) };
    if (previous) {
      const dt = Math.max(0.001, (now.time - previous.time) / 1000);
      const rate = (k) => Math.max(0, (now[k] - previous[k]) / dt);
      $("rps").textContent = rate("total").toFixed(rate("total") < 10 ? 1 : 0);
      history.push({ c2: rate("c2"), c3: rate("c3"), c4: rate("c4"), c5: rate("c5") });
      const delta = now.hist.map(([le, c], i) => [le, c - ((previous.hist[i] || [le, 0])[1])]);
      const window = delta.length && delta[delta.length - 1][1] > 0 ? delta : now.hist;
      $("p50").textContent = ms(quantile(window, 0.5));
      $("p95").textContent = ms(quantile(window, 0.95));
      $("p99").textContent = ms(quantile(window, 0.99));
      draw();
    }
    previous = now;
    const conns = m.wharf_connections_open || [];
    $("conns").textContent = sum(conns);
    $("connsBy").textContent = conns.map((c) => c.labels.protocol + " " + c.value).join(" · ");
    $("inflight").textContent = sum(m.wharf_http_requests_in_flight);
    table("upstreams", s.upstreams.map((u) => [text(u.url),
      u.drained ? '<span class="pill warn">drained</span>' : u.healthy ? '<span class="pill ok">healthy</span>' : '<span class="pill bad">down</span>',
      u.inFlight, u.fails, text(u.lastError)]));
    table("certs", s.certificates.map((c) => {
      const days = (Date.parse(c.not_after) - Date.now()) / 864e5;
      const cls = days < 7 ? "bad" : days < 21 ? "warn" : "ok";
      return [text(c.names.join(", ")), text(c.source), text(c.issuer), '<span class="pill ' + cls + '">' + days.toFixed(0) + " days</span>", text(c.next_renewal)];
    }));
    table("workers", s.workers.map((w) => [w.id, w.pid, w.uptime_s + " s", w.connections, bytes(w.rss_bytes), w.restarts]));
    const st = s.storage ? " · storage " + s.storage.kind + (s.storage.up ? " reachable" : " UNREACHABLE") : "";
    $("sub").textContent = s.workers.length + " workers" + st + " · " + new Date(s.time).toLocaleTimeString();
    $("err").textContent = "";
  } catch (e) {
    $("err").textContent = " " + e.message;
  }
}
tick();
setInterval(tick, 1000);
</script>
</body>
</html>
`;
