#!/usr/bin/env node
// A minimal OTLP/HTTP JSON receiver for test_run_otlp_json.sh, checking the OTLP/JSON rules
// (opentelemetry-proto's JSON mapping) on every body rather than trusting diorama's decoder:
//
//   node otlp_json_peer.js --port-file F --out F [--reject-spans N]
//
// Content-Type must be application/json (gzip allowed); traceId/spanId/parentSpanId are hex of
// 32/16 characters (not base64); kind, status.code, severityNumber, aggregationTemporality are
// integers; intValue, *TimeUnixNano, count and bucketCounts are decimal strings. Counts spans,
// data points and logs. --reject-spans N answers every /v1/traces request with a JSON partial
// success rejecting N spans. On SIGTERM writes {requests, spans, points, logs, gzip, problems}.
'use strict';
const fs = require('fs');
const http = require('http');
const zlib = require('zlib');

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const reject = Number(args['reject-spans'] || 0);
const out = { requests: 0, spans: 0, points: 0, logs: 0, gzip: 0, problems: [] };
const problem = (m) => { if (out.problems.length < 50) out.problems.push(m); };

const isDec = (v) => typeof v === 'string' && /^-?[0-9]+$/.test(v);
const isHex = (v, n) => typeof v === 'string' && v.length === n && /^[0-9a-f]+$/.test(v);

function checkAttrs(list, where) {
  for (const kv of list || []) {
    const v = kv.value || {};
    if ('intValue' in v && !isDec(v.intValue)) problem(`${where}: intValue ${JSON.stringify(v.intValue)} is not a decimal string`);
  }
}

function onSpan(s) {
  out.spans++;
  if (!isHex(s.traceId, 32)) problem(`traceId ${s.traceId} is not 32 hex characters`);
  if (!isHex(s.spanId, 16)) problem(`spanId ${s.spanId} is not 16 hex characters`);
  if (s.parentSpanId !== undefined && !isHex(s.parentSpanId, 16)) problem(`parentSpanId ${s.parentSpanId}`);
  if (!Number.isInteger(s.kind)) problem(`span kind ${JSON.stringify(s.kind)} is not an integer`);
  if (!isDec(s.startTimeUnixNano) || !isDec(s.endTimeUnixNano)) problem('span times are not decimal strings');
  if (s.status && s.status.code !== undefined && !Number.isInteger(s.status.code)) problem('status.code is not an integer');
  checkAttrs(s.attributes, 'span');
}

function onPoint(p, hist) {
  out.points++;
  if (!isDec(p.timeUnixNano)) problem('point timeUnixNano is not a decimal string');
  if (hist && (!isDec(p.count || '0') || !(p.bucketCounts || []).every(isDec))) problem('histogram counts are not decimal strings');
  if (!hist && 'asInt' in p && !isDec(p.asInt)) problem('asInt is not a decimal string');
  checkAttrs(p.attributes, 'point');
}

function onMetric(m) {
  const d = m.gauge || m.sum || m.histogram;
  if (!d) return problem(`metric ${m.name} without data`);
  if ((m.sum || m.histogram) && !Number.isInteger(d.aggregationTemporality)) problem('aggregationTemporality is not an integer');
  for (const p of d.dataPoints || []) onPoint(p, !!m.histogram);
}

function onLog(l) {
  out.logs++;
  if (!Number.isInteger(l.severityNumber)) problem('severityNumber is not an integer');
  if (l.traceId !== undefined && !isHex(l.traceId, 32)) problem(`log traceId ${l.traceId}`);
  checkAttrs(l.attributes, 'log');
}

const walk = {
  '/v1/traces': (j) => j.resourceSpans.forEach((r) => r.scopeSpans.forEach((s) => s.spans.forEach(onSpan))),
  '/v1/metrics': (j) => j.resourceMetrics.forEach((r) => r.scopeMetrics.forEach((s) => s.metrics.forEach(onMetric))),
  '/v1/logs': (j) => j.resourceLogs.forEach((r) => r.scopeLogs.forEach((s) => s.logRecords.forEach(onLog))),
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    out.requests++;
    let body = Buffer.concat(chunks);
    const ct = req.headers['content-type'] || '';
    if (ct !== 'application/json') problem(`Content-Type ${ct}`);
    try {
      if (req.headers['content-encoding'] === 'gzip') { body = zlib.gunzipSync(body); out.gzip++; }
      walk[req.url](JSON.parse(body.toString('utf8')));
    } catch (e) {
      problem(`${req.url}: ${e.message}`);
      res.writeHead(400, { 'Content-Type': 'application/json' });
      return res.end('{"code":3,"message":"bad request"}');
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (req.url === '/v1/traces' && reject > 0)
      return res.end(JSON.stringify({ partialSuccess: { rejectedSpans: String(reject), errorMessage: 'test rejects' } }));
    res.end('{}');
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(args['port-file'] + '.tmp', String(server.address().port));
  fs.renameSync(args['port-file'] + '.tmp', args['port-file']);
});
process.on('SIGTERM', () => {
  fs.writeFileSync(args.out, JSON.stringify(out));
  process.exit(0);
});
