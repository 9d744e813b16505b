// Reads a `diorama run --otlp-file` OTLP/JSON lines file and prints, per simulated minute:
// root requests, mean root latency (ms), server errors, and per host the mean busy CPU share
// and memory used (MiB). Usage: node states_check.js FILE START_UNIX_SECONDS
'use strict';
const fs = require('fs');
const [file, start] = process.argv.slice(2);
const t0 = BigInt(start) * 1000000000n;
const minute = (ns) => Number((BigInt(ns) - t0) / 60000000000n);
const out = { spans: {}, hosts: {} };
const attr = (attrs, k) => {
  const a = (attrs || []).find((x) => x.key === k);
  return a ? Object.values(a.value)[0] : undefined;
};
// Line by line: a fleet run with full host metrics is far larger than one JS string may be.
const lines = require('readline').createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
(async () => {
for await (const line of lines) {
  if (!line) continue;
  const r = JSON.parse(line);
  for (const rs of r.resourceSpans || [])
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans) {
        if (s.parentSpanId) continue;
        const m = minute(s.startTimeUnixNano);
        const e = (out.spans[m] = out.spans[m] || { n: 0, ms: 0, errors: 0 });
        e.n++;
        e.ms += Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6;
        if (s.status && s.status.code === 2) e.errors++;
      }
  for (const rm of r.resourceMetrics || []) {
    const host = attr(rm.resource.attributes, 'host.name');
    for (const sm of rm.scopeMetrics)
      for (const met of sm.metrics) {
        if (!host) continue;
        const h = (out.hosts[host] = out.hosts[host] || {});
        if (met.name === 'system.cpu.utilization')
          for (const p of met.gauge.dataPoints) {
            if (attr(p.attributes, 'cpu.mode') !== 'idle') continue;
            const m = minute(p.timeUnixNano);
            const e = (h[m] = h[m] || { cpu: [], mem: 0 });
            e.cpu.push(1 - p.asDouble);
          }
        if (met.name === 'system.memory.usage') // an UpDownCounter (a non-monotonic sum)
          for (const p of (met.sum || met.gauge).dataPoints) {
            if (attr(p.attributes, 'system.memory.state') !== 'used') continue;
            const m = minute(p.timeUnixNano);
            const e = (h[m] = h[m] || { cpu: [], mem: 0 });
            e.mem = Number(p.asInt) / 1048576;
          }
      }
  }
}
for (const m in out.spans) out.spans[m].ms = +(out.spans[m].ms / out.spans[m].n).toFixed(3);
for (const h in out.hosts)
  for (const m in out.hosts[h]) {
    const e = out.hosts[h][m];
    e.cpu = +(e.cpu.reduce((a, b) => a + b, 0) / (e.cpu.length || 1)).toFixed(3);
    e.mem = Math.round(e.mem);
  }
console.log(JSON.stringify(out));
})();
