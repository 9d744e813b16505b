#!/usr/bin/env node
// An independent OTLP/gRPC receiver for diorama's tests and benchmarks: a @grpc/grpc-js server
// whose Trace/Metrics/LogsService Export methods decode requests with the protobufjs classes
// @opentelemetry/otlp-proto-exporter-base generated from the official opentelemetry-proto
// (the npm packages ship those classes, not the .proto files, so the service definition is
// written out here: the three methods' paths and (de)serializers).
//
//   node otlp_grpc_server.js --port-file F --out F [--unavailable N] [--retry-info SECS]
//                            [--fast 1] [--delay MS] [--tls-cert PEM --tls-key PEM]
//
// Listens on 127.0.0.1 (a free port, written to --port-file). The first N calls (over all
// services) are answered UNAVAILABLE without looking at the request; with --retry-info the
// answer is RESOURCE_EXHAUSTED with a google.rpc.RetryInfo of SECS instead. Every other call is
// decoded and counted: spans, metric data points, log records, calls, and the
// diorama.seq values per signal (duplicates and gaps are problems). On SIGTERM the counts go
// to --out as JSON. --fast 1 counts without keeping sequence numbers (benchmarks). --delay
// holds every answer MS milliseconds (a slow collector). counts.connections is the number of
// distinct client connections (peer addresses) calls came on. With --tls-cert/--tls-key the
// server speaks TLS (grpc-js: ALPN h2) with that certificate.
'use strict';

const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const $protobuf = require('protobufjs/minimal');
const root = require('@opentelemetry/otlp-proto-exporter-base/build/src/generated/root');

const otel = root.opentelemetry.proto;
const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const refuse = Number(args.unavailable || 0);
const retryInfo = args['retry-info'] !== undefined ? Number(args['retry-info']) : null;
const fast = args.fast === '1';
const delay = Number(args.delay || 0);
const peers = new Set();

const counts = { calls: 0, refused: 0, spans: 0, points: 0, logs: 0, bad: 0, connections: 0 };
const seqs = { spans: [], logs: [], points: [] };
const problems = [];
const problem = (m) => { if (problems.length < 50) problems.push(m); };
let calls = 0;

function attr(kvs, key) {
  for (const kv of kvs || []) if (kv.key === key) return kv.value;
  return null;
}
function seq(kind, kvs) {
  if (fast) return;
  const v = attr(kvs, 'diorama.seq');
  if (v) seqs[kind].push(BigInt(v.intValue.toString()));
}

function onTraces(m) {
  for (const rs of m.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) {
    counts.spans++;
    seq('spans', s.attributes);
  }
}
function onMetrics(m) {
  for (const rm of m.resourceMetrics) for (const sm of rm.scopeMetrics) for (const met of sm.metrics) {
    const data = met.gauge || met.sum || met.histogram || met.exponentialHistogram || met.summary;
    if (!data) { problem(`metric ${met.name} without data`); continue; }
    for (const p of data.dataPoints) { counts.points++; seq('points', p.attributes); }
  }
}
function onLogs(m) {
  for (const rl of m.resourceLogs) for (const sl of rl.scopeLogs) for (const l of sl.logRecords) {
    counts.logs++;
    seq('logs', l.attributes);
  }
}

// google.rpc.Status with one RetryInfo detail, for grpc-status-details-bin.
function retryDetails(code, secs) {
  const W = () => $protobuf.Writer.create();
  const dur = W().uint32(8).int64(secs).finish();
  const ri = W().uint32(10).bytes(dur).finish();
  const any = W().uint32(10).string('type.googleapis.com/google.rpc.RetryInfo').uint32(18).bytes(ri).finish();
  return Buffer.from(W().uint32(8).int32(code).uint32(18).string('slow down').uint32(26).bytes(any).finish());
}

function method(name, Req, Resp, onMsg) {
  return {
    path: `/opentelemetry.proto.collector.${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m) => Buffer.from(Req.encode(m).finish()),
    requestDeserialize: (b) => b, // decoded in the handler, so a bad message is counted
    responseSerialize: (m) => Buffer.from(Resp.encode(m).finish()),
    responseDeserialize: (b) => Resp.decode(b),
    handler: (call, cb) => {
      calls++;
      if (!fast) peers.add(call.getPeer());
      if (calls <= refuse) {
        counts.refused++;
        if (retryInfo !== null) {
          const md = new grpc.Metadata();
          md.set('grpc-status-details-bin', retryDetails(grpc.status.RESOURCE_EXHAUSTED, retryInfo));
          cb({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'slow down', metadata: md });
        } else {
          cb({ code: grpc.status.UNAVAILABLE, details: 'test: unavailable' });
        }
        return;
      }
      try {
        onMsg(Req.decode(call.request));
        counts.calls++;
        if (delay > 0) setTimeout(() => cb(null, Resp.create({})), delay);
        else cb(null, Resp.create({}));
      } catch (e) {
        counts.bad++;
        problem(`undecodable ${name}: ${e.message}`);
        cb({ code: grpc.status.INVALID_ARGUMENT, details: e.message });
      }
    },
  };
}

const c = otel.collector;
const services = [
  ['trace.v1.TraceService', 'Export', c.trace.v1.ExportTraceServiceRequest, c.trace.v1.ExportTraceServiceResponse, onTraces],
  ['metrics.v1.MetricsService', 'Export', c.metrics.v1.ExportMetricsServiceRequest, c.metrics.v1.ExportMetricsServiceResponse, onMetrics],
  ['logs.v1.LogsService', 'Export', c.logs.v1.ExportLogsServiceRequest, c.logs.v1.ExportLogsServiceResponse, onLogs],
];

function check(name, list) {
  const sorted = list.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) { problem(`${name}: duplicate diorama.seq ${sorted[i]}`); return; }
}

function finish() {
  for (const k of Object.keys(seqs)) check(k, seqs[k]);
  counts.connections = peers.size;
  fs.writeFileSync(args.out, JSON.stringify({ counts, problems }) + '\n');
  process.exit(0);
}

const server = new grpc.Server({ 'grpc.max_receive_message_length': 256 << 20 });
for (const [svc, m, Req, Resp, on] of services) {
  const def = method(`${svc}/${m}`, Req, Resp, on);
  server.addService({ [m]: def }, { [m]: def.handler });
}
const creds = args['tls-cert']
  ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: fs.readFileSync(args['tls-cert']),
    private_key: fs.readFileSync(args['tls-key']) }])
  : grpc.ServerCredentials.createInsecure();
server.bindAsync('127.0.0.1:0', creds, (err, port) => {
  if (err) { console.error(err); process.exit(1); }
  fs.writeFileSync(args['port-file'], `${port}\n`);
});
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
