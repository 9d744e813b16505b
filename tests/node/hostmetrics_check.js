// Summarises an OTLP JSON-lines file (diorama run --otlp-file) for test_world_fleet.sh:
// metric names with unit and kind, value ranges per metric, counters that went backwards,
// host names, service instances with their span counts, diorama.state / diorama.fault.active
// values by minute, and the most points at one timestamp.
// Usage: node hostmetrics_check.js FILE START_UNIX_SECONDS
'use strict';
const fs = require('fs');
const readline = require('readline');
const [file, start] = process.argv.slice(2);
const attr = (as, k) => {
  const a = (as || []).find((x) => x.key === k);
  return a ? a.value.stringValue ?? a.value.intValue ?? a.value.doubleValue : undefined;
};
const minute = (ns) => Math.floor((Number(BigInt(ns) / 1000000000n) - Number(start)) / 60);
const out = { metrics: {}, hosts: [], instances: {}, states: {}, faults: {}, backwards: 0, maxPoints: 0 };
const hosts = new Set();
const last = new Map(); // counter series -> last value
const perTime = new Map();
const val = (p) => (p.asDouble !== undefined ? p.asDouble : Number(p.asInt));
function metric(res, met) {
  const data = met.gauge || met.sum || met.histogram;
  const kind = met.gauge ? 'gauge' : met.sum ? (met.sum.isMonotonic ? 'counter' : 'updown') : 'histogram';
  const m = (out.metrics[met.name] = out.metrics[met.name] || { unit: met.unit, kind, min: Infinity, max: -Infinity, n: 0 });
  for (const p of data.dataPoints) {
    perTime.set(p.timeUnixNano, (perTime.get(p.timeUnixNano) || 0) + 1);
    if (kind === 'histogram') continue;
    const v = val(p);
    m.min = Math.min(m.min, v);
    m.max = Math.max(m.max, v);
    m.n++;
    const key = res + '|' + met.name + '|' + JSON.stringify(p.attributes || []);
    if (kind === 'counter') {
      if (last.has(key) && v < last.get(key)) out.backwards++;
      last.set(key, v);
    }
    if (met.name === 'diorama.state' || met.name === 'diorama.fault.active') {
      const t = met.name === 'diorama.state'
        ? attr(p.attributes, 'target') + '/' + attr(p.attributes, 'state')
        : attr(p.attributes, 'fault');
      const o = met.name === 'diorama.state' ? out.states : out.faults;
      (o[t] = o[t] || {})[minute(p.timeUnixNano)] = v;
    }
  }
}
const rl = readline.createInterface({ input: fs.createReadStream(file) });
rl.on('line', (line) => {
  const j = JSON.parse(line);
  for (const rm of j.resourceMetrics || []) {
    const host = attr(rm.resource.attributes, 'host.name');
    const svc = attr(rm.resource.attributes, 'service.name');
    const id = attr(rm.resource.attributes, 'service.instance.id');
    const res = svc + '/' + id + '/' + host;
    for (const sm of rm.scopeMetrics)
      for (const met of sm.metrics) {
        if (svc === 'host-metrics' && met.name.startsWith('system.')) hosts.add(host);
        metric(res, met);
      }
  }
  for (const rs of j.resourceSpans || []) {
    const svc = attr(rs.resource.attributes, 'service.name');
    const id = attr(rs.resource.attributes, 'service.instance.id');
    const s = (out.instances[svc] = out.instances[svc] || {});
    for (const ss of rs.scopeSpans) s[id] = (s[id] || 0) + ss.spans.length;
  }
});
rl.on('close', () => {
  out.hosts = [...hosts].sort();
  out.maxPoints = Math.max(0, ...perTime.values());
  console.log(JSON.stringify(out));
});
