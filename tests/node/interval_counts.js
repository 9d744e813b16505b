// Per metric interval of a `diorama run --otlp-file` OTLP/JSON file: the requests completed in
// it (from the cumulative http.server.requests counter, summed over routes and statuses, for
// one service) and the mean busy CPU of one host. Prints a JSON array, one object per interval.
// Usage: node interval_counts.js FILE SERVICE [HOST]
'use strict';
const fs = require('fs');
const [file, service, host] = process.argv.slice(2);
const attr = (attrs, k) => {
  const a = (attrs || []).find((x) => x.key === k);
  return a ? Object.values(a.value)[0] : undefined;
};
const cum = new Map(); // time -> cumulative requests
const cpu = new Map(); // time -> [busy shares]
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  if (!line) continue;
  for (const rm of JSON.parse(line).resourceMetrics || []) {
    const svc = attr(rm.resource.attributes, 'service.name');
    const h = attr(rm.resource.attributes, 'host.name');
    for (const sm of rm.scopeMetrics)
      for (const m of sm.metrics) {
        if (m.name === 'http.server.requests' && svc === service)
          for (const p of m.sum.dataPoints)
            cum.set(p.timeUnixNano, (cum.get(p.timeUnixNano) || 0) + Number(p.asInt));
        if (m.name === 'system.cpu.utilization' && host && h === host && svc === 'host-metrics')
          for (const p of m.gauge.dataPoints)
            if (attr(p.attributes, 'cpu.mode') === 'idle') {
              if (!cpu.has(p.timeUnixNano)) cpu.set(p.timeUnixNano, []);
              cpu.get(p.timeUnixNano).push(1 - p.asDouble);
            }
      }
  }
}
const times = [...new Set([...cum.keys(), ...cpu.keys()])].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
let prev = 0;
const out = times.map((t) => {
  const c = cum.get(t) || prev;
  const o = { t: new Date(Number(BigInt(t) / 1000000n)).toISOString(), requests: c - prev };
  prev = c;
  const v = cpu.get(t);
  if (v) o.cpu = +(v.reduce((a, b) => a + b, 0) / v.length).toFixed(3);
  return o;
});
console.log(JSON.stringify(out));
