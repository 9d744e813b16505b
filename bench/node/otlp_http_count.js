#!/usr/bin/env node
// Benchmark peer: the OTLP/HTTP twin of tests/node/otlp_grpc_server.js --fast 1, so that
// bench/otlp_grpc_bench.sh compares gRPC with HTTP on a receiver that is not diorama's: node's
// http module, the same protobufjs classes (@opentelemetry/otlp-proto-exporter-base, from
// tests/node), decode and count, no checks.
//
//   node otlp_http_count.js --port-file F --out F
//
// POST /v1/traces, /v1/metrics, /v1/logs (application/x-protobuf, gzip or not) -> 200 with an
// empty Export*ServiceResponse. On SIGTERM: {"counts": {calls, spans, points, logs, bad}} to
// --out.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const zlib = require('zlib');

const root = require(path.join(__dirname, '../../tests/node/node_modules',
  '@opentelemetry/otlp-proto-exporter-base/build/src/generated/root'));
const c = root.opentelemetry.proto.collector;
const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];

const counts = { calls: 0, spans: 0, points: 0, logs: 0, bad: 0 };
const routes = {
  '/v1/traces': [c.trace.v1.ExportTraceServiceRequest, (m) => {
    for (const rs of m.resourceSpans) for (const ss of rs.scopeSpans) counts.spans += ss.spans.length;
  }],
  '/v1/metrics': [c.metrics.v1.ExportMetricsServiceRequest, (m) => {
    for (const rm of m.resourceMetrics) for (const sm of rm.scopeMetrics) for (const met of sm.metrics) {
      const d = met.gauge || met.sum || met.histogram || met.exponentialHistogram || met.summary;
      if (d) counts.points += d.dataPoints.length;
    }
  }],
  '/v1/logs': [c.logs.v1.ExportLogsServiceRequest, (m) => {
    for (const rl of m.resourceLogs) for (const sl of rl.scopeLogs) counts.logs += sl.logRecords.length;
  }],
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (b) => chunks.push(b));
  req.on('end', () => {
    const r = routes[req.url];
    try {
      if (!r) throw new Error(`no route ${req.url}`);
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      r[1](r[0].decode(body));
      counts.calls++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    } catch (e) {
      counts.bad++;
      res.writeHead(400);
      res.end(String(e.message));
    }
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => fs.writeFileSync(args['port-file'], `${server.address().port}\n`));
const finish = () => {
  fs.writeFileSync(args.out, JSON.stringify({ counts }) + '\n');
  process.exit(0);
};
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
