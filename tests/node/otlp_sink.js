#!/usr/bin/env node
// An independent OTLP/HTTP receiver for diorama's end-to-end tests.
//
//   node otlp_sink.js --port-file F --out F
//
// Listens on 127.0.0.1 (a free port, written to --port-file), accepts POST /v1/traces,
// /v1/metrics and /v1/logs (application/x-protobuf, optionally gzip), decodes every request
// with the protobufjs classes that @opentelemetry/otlp-proto-exporter-base generated from the
// official opentelemetry-proto, and answers 200 with an empty Export*ServiceResponse. On
// SIGTERM it checks the run as a whole and writes a JSON report to --out:
//   counts of spans, metric points and logs; ids of the right length and not zero; every
//   parent span present in the same trace and containing its child in time; one root per
//   trace; the last cumulative http.server.requests per series summed equals the number of
//   server spans; every log's trace/span id names a received span; diorama.seq values unique
//   and contiguous per signal. Problems are listed in "problems".
'use strict';

const fs = require('fs');
const http = require('http');
const zlib = require('zlib');
const root = require('@opentelemetry/otlp-proto-exporter-base/build/src/generated/root');

const otel = root.opentelemetry.proto;
const REQ = {
  '/v1/traces': otel.collector.trace.v1.ExportTraceServiceRequest,
  '/v1/metrics': otel.collector.metrics.v1.ExportMetricsServiceRequest,
  '/v1/logs': otel.collector.logs.v1.ExportLogsServiceRequest,
};
const RESP = {
  '/v1/traces': otel.collector.trace.v1.ExportTraceServiceResponse,
  '/v1/metrics': otel.collector.metrics.v1.ExportMetricsServiceResponse,
  '/v1/logs': otel.collector.logs.v1.ExportLogsServiceResponse,
};

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];

const problems = [];
const problem = (m) => { if (problems.length < 50) problems.push(m); };
const hex = (b) => Buffer.from(b || []).toString('hex');
const isZero = (b) => !b || b.every((x) => x === 0);
const big = (v) => BigInt((v === null || v === undefined ? 0 : v).toString());

const spans = new Map(); // span id hex -> {trace, parent, start, end, kind}
const seqs = { spans: [], logs: [] };
const logRefs = [];
const requestsSeries = new Map(); // series key -> last cumulative value
let counts = { requests: 0, spans: 0, points: 0, logs: 0, bad_requests: 0, gzip: 0 };

function attr(kvs, key) {
  for (const kv of kvs || []) if (kv.key === key) return kv.value;
  return null;
}

function onTraces(m) {
  for (const rs of m.resourceSpans) {
    if (!attr(rs.resource && rs.resource.attributes, 'service.name')) problem('resource without service.name');
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        counts.spans++;
        if (!s.traceId || s.traceId.length !== 16 || isZero(s.traceId)) problem(`bad trace id ${hex(s.traceId)}`);
        if (!s.spanId || s.spanId.length !== 8 || isZero(s.spanId)) problem(`bad span id ${hex(s.spanId)}`);
        const id = hex(s.spanId);
        if (spans.has(id)) problem(`duplicate span id ${id}`);
        spans.set(id, { trace: hex(s.traceId), parent: s.parentSpanId && s.parentSpanId.length ? hex(s.parentSpanId) : '',
          start: big(s.startTimeUnixNano), end: big(s.endTimeUnixNano), kind: s.kind });
        const seq = attr(s.attributes, 'diorama.seq');
        if (seq) seqs.spans.push(big(seq.intValue));
      }
    }
  }
}

function onMetrics(m) {
  for (const rm of m.resourceMetrics) {
    const svc = attr(rm.resource.attributes, 'service.name');
    const inst = attr(rm.resource.attributes, 'service.instance.id'); // replicas: own series
    for (const sm of rm.scopeMetrics) {
      for (const met of sm.metrics) {
        const data = met.gauge || met.sum || met.histogram || met.exponentialHistogram || met.summary;
        if (!data) { problem(`metric ${met.name} without data`); continue; }
        for (const p of data.dataPoints) {
          counts.points++;
          if (met.histogram) {
            const total = p.bucketCounts.reduce((a, b) => a + big(b), 0n);
            if (total !== big(p.count)) problem(`${met.name}: buckets sum ${total} != count ${p.count}`);
            if (p.bucketCounts.length !== p.explicitBounds.length + 1) problem(`${met.name}: bucket/bound lengths`);
          }
          if (met.name === 'http.server.requests') {
            const key = svc.stringValue + '/' + (inst ? inst.stringValue : '') +
              JSON.stringify(p.attributes.map((a) => [a.key, a.value]));
            const v = big(p.asInt);
            const prev = requestsSeries.get(key);
            if (prev !== undefined && v < prev) problem(`${key}: cumulative counter went down`);
            requestsSeries.set(key, v);
          }
        }
      }
    }
  }
}

function onLogs(m) {
  for (const rl of m.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      for (const l of sl.logRecords) {
        counts.logs++;
        if (l.severityNumber < 1 || l.severityNumber > 24) problem(`severity ${l.severityNumber}`);
        if (l.spanId && l.spanId.length) logRefs.push([hex(l.traceId), hex(l.spanId)]);
        const seq = attr(l.attributes, 'diorama.seq');
        if (seq) seqs.logs.push(big(seq.intValue));
      }
    }
  }
}

const HANDLERS = { '/v1/traces': onTraces, '/v1/metrics': onMetrics, '/v1/logs': onLogs };

function handle(req, res, body) {
  const type = REQ[req.url];
  if (req.method !== 'POST' || !type) { res.writeHead(404).end(); return; }
  try {
    if (req.headers['content-encoding'] === 'gzip') { body = zlib.gunzipSync(body); counts.gzip++; }
    const msg = type.decode(body);
    counts.requests++;
    HANDLERS[req.url](msg);
    const out = RESP[req.url].encode(RESP[req.url].create({})).finish();
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf', 'Content-Length': out.length }).end(Buffer.from(out));
  } catch (e) {
    counts.bad_requests++;
    problem(`undecodable request on ${req.url}: ${e.message}`);
    res.writeHead(400).end();
  }
}

function checkContiguous(name, list) {
  if (!list.length) return;
  list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 0; i < list.length; i++) {
    if (list[i] !== BigInt(i)) { problem(`${name}: diorama.seq ${list[i]} at position ${i} (gap or duplicate)`); return; }
  }
}

function report() {
  const roots = new Set();
  let servers = 0;
  for (const [id, s] of spans) {
    if (s.kind !== 3) servers++;
    if (!s.parent) {
      if (roots.has(s.trace)) problem(`trace ${s.trace} has two roots`);
      roots.add(s.trace);
      continue;
    }
    const p = spans.get(s.parent);
    if (!p) { problem(`span ${id}: parent ${s.parent} never arrived`); continue; }
    if (p.trace !== s.trace) problem(`span ${id}: parent in another trace`);
    if (s.start < p.start || s.end > p.end) problem(`span ${id} not within its parent's time`);
  }
  for (const [t, s] of logRefs) {
    const sp = spans.get(s);
    if (!sp || sp.trace !== t) problem(`log refers to unknown span ${t}/${s}`);
  }
  checkContiguous('spans', seqs.spans);
  checkContiguous('logs', seqs.logs);
  let requestsMetric = 0n;
  for (const v of requestsSeries.values()) requestsMetric += v;
  return { ...counts, traces: roots.size, server_spans: servers,
    requests_metric_total: Number(requestsMetric), problems };
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks)));
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(args['port-file'] + '.tmp', String(server.address().port));
  fs.renameSync(args['port-file'] + '.tmp', args['port-file']);
});
process.on('SIGTERM', () => {
  fs.writeFileSync(args.out, JSON.stringify(report()));
  process.exit(0);
});
