// The demo's telemetry as `diorama sink --record DIR` received it (OTLP/HTTP protobuf, decoded
// with the protobufjs classes generated from the official opentelemetry-proto): in the phases
// console_demo.js wrote (sim ms of each state label), ppdb002's CPU (system.cpu.utilization,
// 1 - idle) rose while degrading, the server spans it serves (resource host.name=ppdb002) got
// slower, and under critical some of them failed (status ERROR) while none or few did before.
//
//   node console_sink_check.js RECORD_DIR PHASES.json METRIC_INTERVAL_MS
'use strict';
const fs = require('fs');
const path = require('path');
const root = require('@opentelemetry/otlp-proto-exporter-base/build/src/generated/root');

const otel = root.opentelemetry.proto.collector;
const [dir, phasesFile, intervalArg] = process.argv.slice(2);
const interval = Number(intervalArg);
const HOST = 'ppdb002';
const ph = JSON.parse(fs.readFileSync(phasesFile, 'utf8'));
let failed = 0;
function check(what, cond, detail) {
    console.log((cond ? 'ok   ' : 'FAIL ') + what + (!cond && detail !== undefined ? ': ' + JSON.stringify(detail).slice(0, 600) : ''));
    if (!cond)
        failed++;
}
const ms = (v) => Number(BigInt(v.toString()) / 1000000n);
const attr = (res, key) => {
    const kv = (res && res.attributes || []).find((a) => a.key === key);
    return kv && kv.value && kv.value.stringValue;
};
// Which phase sim-ms t is in; one metric interval after each change is left out (a point
// there may straddle two states).
function phase(t, slack) {
    if (t < ph.degrading)
        return 'healthy';
    if (t >= ph.degrading + slack && t < ph.critical)
        return 'degrading';
    if (t >= ph.critical + slack && t < ph.healthy_again)
        return 'critical';
    return null;
}
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;

const spans = { healthy: [], degrading: [], critical: [] };
const errors = { healthy: 0, degrading: 0, critical: 0 };
const cpu = { healthy: [], degrading: [], critical: [] };
let files = 0; // NNNNNNNN-<spans|metric_points>.pb (docs/sink.md, --record)
for (const f of fs.readdirSync(dir).sort()) {
    const buf = fs.readFileSync(path.join(dir, f));
    files++;
    if (f.endsWith('-spans.pb')) {
        for (const rs of otel.trace.v1.ExportTraceServiceRequest.decode(buf).resourceSpans) {
            if (attr(rs.resource, 'host.name') !== HOST)
                continue;
            for (const ss of rs.scopeSpans)
                for (const s of ss.spans) {
                    const p = s.kind === 2 && phase(ms(s.startTimeUnixNano), 0);
                    if (!p)
                        continue;
                    spans[p].push(Number(BigInt(s.endTimeUnixNano.toString()) - BigInt(s.startTimeUnixNano.toString())) / 1e6);
                    if (s.status && s.status.code === 2)
                        errors[p]++;
                }
        }
    } else if (f.endsWith('-metric_points.pb')) {
        for (const rm of otel.metrics.v1.ExportMetricsServiceRequest.decode(buf).resourceMetrics) {
            if (attr(rm.resource, 'host.name') !== HOST)
                continue;
            for (const sm of rm.scopeMetrics)
                for (const m of sm.metrics) {
                    if (m.name !== 'system.cpu.utilization' || !m.gauge)
                        continue;
                    const byTime = new Map();
                    for (const dp of m.gauge.dataPoints) {
                        if (!dp.attributes.some((a) => a.key === 'cpu.mode' && a.value.stringValue === 'idle'))
                            continue;
                        const t = ms(dp.timeUnixNano), l = byTime.get(t) || [];
                        l.push(dp.asDouble);
                        byTime.set(t, l);
                    }
                    for (const [t, idle] of byTime) {
                        // a point covers the interval before its time: it belongs to a phase
                        // only when the whole interval does
                        const p = phase(t, interval);
                        if (p && phase(t - (interval), 0) === p)
                            cpu[p].push(1 - mean(idle));
                    }
                }
        }
    }
}
check(`the sink recorded the run (${files} requests)`, files > 0);
const n = (k) => spans[k].length;
check(`${HOST}'s server spans in every phase (${n('healthy')}, ${n('degrading')}, ${n('critical')})`,
    n('healthy') >= 20 && n('degrading') >= 20 && n('critical') >= 20);
const lat = { healthy: median(spans.healthy), degrading: median(spans.degrading), critical: median(spans.critical) };
check(`sink: the latency of the requests ${HOST} serves rose (median ${lat.healthy.toFixed(2)} -> ${lat.degrading.toFixed(2)} ms degrading, ${lat.critical.toFixed(2)} ms critical)`,
    lat.degrading > lat.healthy * 1.3 && lat.critical > lat.degrading, lat);
const rate = (k) => errors[k] / Math.max(1, n(k));
check(`sink: errors of the requests ${HOST} serves under critical (${(100 * rate('healthy')).toFixed(1)}% -> ${(100 * rate('critical')).toFixed(1)}%)`,
    errors.critical > 0 && rate('critical') > rate('healthy') + 0.05 && rate('critical') > rate('degrading'), errors);
const c = { healthy: mean(cpu.healthy), degrading: mean(cpu.degrading), critical: mean(cpu.critical) };
check(`sink: ${HOST}'s CPU rose (${c.healthy.toFixed(2)} -> ${c.degrading.toFixed(2)} degrading, ${c.critical.toFixed(2)} critical; ${cpu.healthy.length}/${cpu.degrading.length}/${cpu.critical.length} points)`,
    cpu.healthy.length && cpu.degrading.length && c.degrading > c.healthy + 0.2 && c.critical >= c.degrading, c);
process.exit(failed ? 1 : 0);
