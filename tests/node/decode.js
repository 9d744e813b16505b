#!/usr/bin/env node
// Independent conformance decoder for diorama's OTLP output.
//
//   node decode.js <traces|metrics|logs> <request.pb> [--json <request.json>]
//
// Decodes an Export<Signal>ServiceRequest with the protobufjs classes that
// @opentelemetry/otlp-proto-exporter-base generated from the official opentelemetry-proto, checks
// what the OTLP spec requires of it (id lengths, parent links, times, histogram invariants,
// severity ranges), and prints a JSON summary (counts) on stdout. With --json, also reads the
// OTLP/JSON encoding of the same request (hex ids, int64 as strings, "NaN" doubles) and checks
// that it decodes to exactly the same message. Exit status 1 when any check failed; the
// failures are listed in the summary's "problems".
//
// Metric.metadata (field 12) is newer than the generated classes, so it is read with a
// minimal raw walk over the bytes (protobufjs Reader) and decoded as KeyValue.
'use strict';

const fs = require('fs');
const root = require('@opentelemetry/otlp-proto-exporter-base/build/src/generated/root');
const $protobuf = require('protobufjs/minimal');

const otel = root.opentelemetry.proto;
const TYPES = {
  traces: otel.collector.trace.v1.ExportTraceServiceRequest,
  metrics: otel.collector.metrics.v1.ExportMetricsServiceRequest,
  logs: otel.collector.logs.v1.ExportLogsServiceRequest,
};
const TO_OBJECT = { longs: String, bytes: String, enums: Number, defaults: false, oneofs: false };

const problems = [];
function problem(msg) {
  if (problems.length < 50) problems.push(msg);
}

const hex = (b) => Buffer.from(b || []).toString('hex');
const num = (v) => (v === null || v === undefined ? 0 : Number(v)); // Long or number
const big = (v) => BigInt((v === null || v === undefined ? 0 : v).toString());
const isZero = (b) => !b || b.every((x) => x === 0);

function attrMap(kvs) {
  const m = new Map();
  for (const kv of kvs || []) {
    if (m.has(kv.key)) problem(`duplicate attribute key ${kv.key}`);
    m.set(kv.key, kv.value);
  }
  return m;
}

function intAttr(m, key) {
  const v = m.get(key);
  return v && v.intValue !== undefined && v.intValue !== null ? big(v.intValue) : null;
}

// Sequence numbers seen through the verification attributes (diorama.seq).
function seqStats(seqs) {
  if (seqs.length === 0) return null;
  const sorted = [...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let dups = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) dups++;
  return { n: seqs.length, min: sorted[0].toString(), max: sorted[sorted.length - 1].toString(), dups };
}

function checkTraces(req) {
  const s = { resources: 0, scopes: 0, spans: 0, roots: 0, children_in_batch: 0, errors: 0, attributes: 0 };
  const seqs = [];
  const byId = new Map();
  const spans = [];
  for (const rs of req.resourceSpans) {
    s.resources++;
    if (!attrMap(rs.resource && rs.resource.attributes).has('service.name'))
      problem('resource without service.name');
    for (const ss of rs.scopeSpans) {
      s.scopes++;
      for (const sp of ss.spans) {
        s.spans++;
        s.attributes += (sp.attributes || []).length;
        spans.push(sp);
        if (!sp.traceId || sp.traceId.length !== 16 || isZero(sp.traceId)) problem(`bad traceId ${hex(sp.traceId)}`);
        if (!sp.spanId || sp.spanId.length !== 8 || isZero(sp.spanId)) problem(`bad spanId ${hex(sp.spanId)}`);
        const parent = sp.parentSpanId || [];
        if (parent.length !== 0 && (parent.length !== 8 || isZero(parent)))
          problem(`bad parentSpanId ${hex(parent)}`);
        if (parent.length === 0) s.roots++;
        if (!sp.name) problem('span without name');
        if (num(sp.kind) < 0 || num(sp.kind) > 5) problem(`bad kind ${sp.kind}`);
        if (big(sp.startTimeUnixNano) === 0n || big(sp.endTimeUnixNano) < big(sp.startTimeUnixNano))
          problem(`bad times on span ${hex(sp.spanId)}`);
        const code = sp.status ? num(sp.status.code) : 0;
        if (code < 0 || code > 2) problem(`bad status code ${code}`);
        if (code === 2) s.errors++;
        const key = hex(sp.traceId) + hex(sp.spanId);
        if (byId.has(key)) problem(`duplicate span ${key}`);
        byId.set(key, sp);
        const seq = intAttr(attrMap(sp.attributes), 'diorama.seq');
        if (seq !== null) seqs.push(seq);
      }
    }
  }
  for (const sp of spans) {
    if (!sp.parentSpanId || sp.parentSpanId.length === 0) continue;
    const p = byId.get(hex(sp.traceId) + hex(sp.parentSpanId));
    if (!p) continue; // the parent may travel in another batch
    s.children_in_batch++;
    if (big(sp.startTimeUnixNano) < big(p.startTimeUnixNano))
      problem(`span ${hex(sp.spanId)} starts before its parent`);
  }
  s.seq = seqStats(seqs);
  return s;
}

// Metric.metadata lists, in request order, by a raw walk: request 1 -> ResourceMetrics 2 ->
// ScopeMetrics 2 -> Metric 12.
function rawMetadata(buf) {
  const out = [];
  const KeyValue = otel.common.v1.KeyValue;
  function fields(r, end, fn) {
    while (r.pos < end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      if ((tag & 7) === 2) {
        const len = r.uint32();
        const start = r.pos;
        fn(field, start, start + len);
        r.pos = start + len;
      } else {
        r.skipType(tag & 7);
      }
    }
  }
  const r = $protobuf.Reader.create(buf);
  fields(r, buf.length, (f1, s1, e1) => {
    if (f1 !== 1) return;
    fields(r, e1, (f2, s2, e2) => {
      if (f2 !== 2) return;
      fields(r, e2, (f3, s3, e3) => {
        if (f3 !== 2) return;
        const md = [];
        fields(r, e3, (f4, s4, e4) => {
          if (f4 === 12) md.push(KeyValue.decode(buf.subarray(s4, e4)));
        });
        out.push(md);
      });
    });
  });
  return out;
}

function checkHistogram(dp, name) {
  const bounds = dp.explicitBounds || [];
  const counts = (dp.bucketCounts || []).map(big);
  if (counts.length !== bounds.length + 1) problem(`${name}: ${counts.length} buckets for ${bounds.length} bounds`);
  for (let i = 1; i < bounds.length; i++)
    if (!(bounds[i] > bounds[i - 1])) problem(`${name}: bounds not strictly increasing`);
  const total = counts.reduce((a, b) => a + b, 0n);
  if (total !== big(dp.count)) problem(`${name}: buckets sum to ${total}, count ${big(dp.count)}`);
  if (big(dp.count) > 0n && dp.min > dp.max) problem(`${name}: min > max`);
}

function checkMetrics(req, buf) {
  const s = { resources: 0, scopes: 0, metrics: 0, points: 0, gauge: 0, sum: 0, histogram: 0 };
  const metadata = rawMetadata(buf);
  const seqs = [];
  let mi = 0;
  for (const rm of req.resourceMetrics) {
    s.resources++;
    for (const sm of rm.scopeMetrics) {
      s.scopes++;
      for (const m of sm.metrics) {
        s.metrics++;
        if (!m.name) problem('metric without name');
        const kind = ['gauge', 'sum', 'histogram'].find((k) => m[k]);
        if (!kind) {
          problem(`metric ${m.name} has no data`);
          continue;
        }
        const dps = m[kind].dataPoints || [];
        s.points += dps.length;
        s[kind] += dps.length;
        if (kind !== 'gauge' && ![1, 2].includes(num(m[kind].aggregationTemporality)))
          problem(`${m.name}: aggregation temporality ${m[kind].aggregationTemporality}`);
        for (const dp of dps) {
          if (big(dp.timeUnixNano) === 0n || big(dp.timeUnixNano) < big(dp.startTimeUnixNano))
            problem(`${m.name}: bad point times`);
          if (kind === 'histogram') checkHistogram(dp, m.name);
          else if (dp.asDouble === undefined && dp.asInt === undefined) problem(`${m.name}: point without value`);
          if (attrMap(dp.attributes).has('diorama.seq')) problem(`${m.name}: diorama.seq on a data point`);
        }
        const md = attrMap(metadata[mi++] || []);
        const seq = intAttr(md, 'diorama.seq');
        if (seq !== null) {
          const n = intAttr(md, 'diorama.points');
          if (n !== BigInt(dps.length)) problem(`${m.name}: diorama.points ${n} for ${dps.length} points`);
          for (let i = 0n; i < BigInt(dps.length); i++) seqs.push(seq + i);
        }
      }
    }
  }
  if (mi !== metadata.length) problem(`raw walk found ${metadata.length} metrics, decoder ${mi}`);
  s.seq = seqStats(seqs);
  return s;
}

const SEVERITY = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

function checkLogs(req) {
  const s = { resources: 0, scopes: 0, logs: 0, correlated: 0, by_severity: {} };
  const seqs = [];
  for (const rl of req.resourceLogs) {
    s.resources++;
    for (const sl of rl.scopeLogs) {
      s.scopes++;
      for (const l of sl.logRecords) {
        s.logs++;
        const sev = num(l.severityNumber);
        if (sev < 0 || sev > 24) problem(`bad severity ${sev}`);
        if (sev > 0 && l.severityText !== SEVERITY[Math.floor((sev - 1) / 4)])
          problem(`severity ${sev} with text ${l.severityText}`);
        s.by_severity[l.severityText || 'UNSET'] = (s.by_severity[l.severityText || 'UNSET'] || 0) + 1;
        const t = l.traceId || [];
        const sp = l.spanId || [];
        if (t.length !== 0 && t.length !== 16) problem(`log traceId of ${t.length} bytes`);
        if (sp.length !== 0 && sp.length !== 8) problem(`log spanId of ${sp.length} bytes`);
        if (t.length) s.correlated++;
        if (big(l.timeUnixNano) === 0n && big(l.observedTimeUnixNano) === 0n) problem('log without time');
        if (!l.body || typeof l.body.stringValue !== 'string') problem('log without string body');
        const seq = intAttr(attrMap(l.attributes), 'diorama.seq');
        if (seq !== null) seqs.push(seq);
      }
    }
  }
  s.seq = seqStats(seqs);
  return s;
}

// OTLP/JSON -> protobufjs plain object: hex ids become base64 (what fromObject expects for
// bytes); everything else (int64 strings, "NaN", integer enums) fromObject takes as is.
function hexIdsToBase64(v) {
  if (Array.isArray(v)) return v.map(hexIdsToBase64);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) {
      if (['traceId', 'spanId', 'parentSpanId'].includes(k) && typeof x === 'string') {
        if (!/^([0-9a-f]{2})*$/.test(x)) problem(`JSON ${k} is not lowercase hex: ${x}`);
        o[k] = Buffer.from(x, 'hex').toString('base64');
      } else {
        o[k] = hexIdsToBase64(x);
      }
    }
    return o;
  }
  return v;
}

function compareJson(Type, decoded, jsonPath) {
  const text = fs.readFileSync(jsonPath, 'utf8');
  if (!text.endsWith('\n') || text.indexOf('\n') !== text.length - 1)
    problem('JSON request is not exactly one line ending in a newline');
  const fromJson = Type.fromObject(hexIdsToBase64(JSON.parse(text)));
  const a = JSON.stringify(Type.toObject(decoded, TO_OBJECT));
  const b = JSON.stringify(Type.toObject(fromJson, TO_OBJECT));
  if (a !== b) {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    problem(`JSON and protobuf differ at ${i}: pb ...${a.slice(i, i + 80)} json ...${b.slice(i, i + 80)}`);
    return false;
  }
  return true;
}

function main(argv) {
  const [signal, pbPath, flag, jsonPath] = argv;
  const Type = TYPES[signal];
  if (!Type || !pbPath || (flag && flag !== '--json')) {
    process.stderr.write('usage: decode.js <traces|metrics|logs> <request.pb> [--json <request.json>]\n');
    return 2;
  }
  const buf = fs.readFileSync(pbPath);
  let req;
  try {
    req = Type.decode(buf);
  } catch (e) {
    problem(`protobuf decode failed: ${e.message}`);
  }
  const summary = { signal, bytes: buf.length };
  if (req) {
    // A canonical encoder's output re-encodes to the same bytes (no unknown fields here,
    // except Metric.metadata which the generated classes drop).
    if (signal !== 'metrics' && !Buffer.from(Type.encode(req).finish()).equals(buf))
      problem('re-encoding the decoded request gives different bytes');
    const check = { traces: checkTraces, metrics: checkMetrics, logs: checkLogs }[signal];
    Object.assign(summary, check(req, buf));
    if (jsonPath) summary.json_equal = compareJson(Type, req, jsonPath);
  }
  summary.problems = problems;
  process.stdout.write(JSON.stringify(summary) + '\n');
  return problems.length ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
