// Checks diorama's --dataset business table (business.csv) against the OTLP/JSON file
// (--otlp-file) of the same run: every business point OTLP carried has its row and no row is
// without one; a counter row is the increase of the cumulative OTLP value since the series'
// previous point and the rows of a series sum exactly to its last OTLP value; a gauge row is
// the OTLP value; a histogram row's count and sum are the OTLP deltas (count exact, sum to 1e-9
// relative), its quantiles ordered and within the bounds. Prints a JSON summary.
// usage: node dataset_biz_check.mjs DIR OTLP_FILE METRIC...
import { readFileSync } from 'node:fs';

const [dir, otlpFile, ...metrics] = process.argv.slice(2);
const want = new Set(metrics);

function parseCsv(text) { // RFC 4180
  const out = []; let row = [], f = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { f += '"'; i++; } else if (c === '"') q = false; else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(f); f = ''; } else if (c === '\n') { row.push(f); out.push(row); row = []; f = ''; } else f += c;
  }
  return out;
}
const csv = parseCsv(readFileSync(`${dir}/business.csv`, 'utf8'));
const head = csv.shift();
const rows = csv.map((r) => Object.fromEntries(head.map((h, k) => [h, r[k]])));

// OTLP: series (metric|attr value) -> [{ms, kind, v, count, sum}] in time order
const series = new Map();
const attrOf = (p) => (p.attributes || []).map((a) => Object.values(a.value)[0])[0] ?? '';
for (const line of readFileSync(otlpFile, 'utf8').split('\n')) {
  if (!line) continue;
  for (const rm of JSON.parse(line).resourceMetrics || [])
    for (const sm of rm.scopeMetrics) for (const m of sm.metrics) {
      if (!want.has(m.name)) continue;
      const kind = m.sum ? 'counter' : m.gauge ? 'gauge' : 'histogram';
      for (const p of (m.sum || m.gauge || m.histogram).dataPoints) {
        const k = `${m.name}|${attrOf(p)}`;
        if (!series.has(k)) series.set(k, []);
        series.get(k).push({
          ms: Number(BigInt(p.timeUnixNano) / 1000000n), kind,
          v: p.asInt !== undefined ? Number(p.asInt) : p.asDouble,
          count: Number(p.count ?? 0), sum: p.sum ?? 0,
        });
      }
    }
}

const errors = [];
const err = (s) => { if (errors.length < 20) errors.push(s); };
const byKey = new Map();
for (const r of rows) byKey.set(`${r.metric}|${r.attr_value}|${r.timestamp}`, r);
let points = 0;
const totals = {};
for (const [k, pts] of series) {
  let prev = { v: 0, count: 0, sum: 0 }, rowSum = 0, rowCount = 0;
  for (const p of pts) {
    points++;
    const r = byKey.get(`${k}|${p.ms}`);
    if (!r) { err(`${k} at ${p.ms}: no row`); prev = p; continue; }
    if (r.type !== p.kind) err(`${k}: type ${r.type} vs ${p.kind}`);
    if (p.kind === 'counter') {
      if (Number(r.value) !== p.v - prev.v) err(`${k} at ${p.ms}: value ${r.value} vs ${p.v - prev.v}`);
      rowSum += Number(r.value);
    } else if (p.kind === 'gauge') {
      if (Number(r.value) !== p.v) err(`${k} at ${p.ms}: value ${r.value} vs ${p.v}`);
    } else {
      const dc = p.count - prev.count, ds = p.sum - prev.sum;
      if (Number(r.count) !== dc) err(`${k} at ${p.ms}: count ${r.count} vs ${dc}`);
      if (Math.abs(Number(r.sum) - ds) > 1e-9 * Math.max(1, Math.abs(ds))) err(`${k} at ${p.ms}: sum ${r.sum} vs ${ds}`);
      if (dc > 0 && !(Number(r.p50) <= Number(r.p99) && Number(r.p50) >= 0)) err(`${k} at ${p.ms}: p50 ${r.p50} p99 ${r.p99}`);
      rowCount += Number(r.count);
    }
    prev = p;
  }
  const last = pts[pts.length - 1];
  if (last.kind === 'counter' && rowSum !== last.v) err(`${k}: rows sum to ${rowSum}, OTLP ends at ${last.v}`);
  if (last.kind === 'histogram' && rowCount !== last.count) err(`${k}: counts sum to ${rowCount}, OTLP ends at ${last.count}`);
  const m = k.split('|')[0];
  totals[m] = (totals[m] || 0) + (last.kind === 'histogram' ? rowCount : last.kind === 'counter' ? rowSum : 0);
}
if (rows.length !== points) err(`rows ${rows.length} vs OTLP points ${points}`);
console.log(JSON.stringify({ rows: rows.length, otlp_points: points, series: series.size, totals, columns: head, errors }));
