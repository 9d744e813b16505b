// A real OTLP client for `diorama sink`: the OpenTelemetry JS SDK with its OTLP/HTTP protobuf
// exporters (or, with --protocol grpc, its OTLP/gRPC exporters on @grpc/grpc-js) sends exactly
// N spans, M metric points (M series of one counter, exported once at shutdown) and K log
// records, then shuts down (flushing everything) and prints what it sent.
//
//   node otel_exporters.js --url http://127.0.0.1:4318 [--spans N] [--points M] [--logs K]
//                          [--service NAME] [--protocol http|grpc] [--compression none|gzip]
'use strict';
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { Resource } = require('@opentelemetry/resources');

const GRPC = process.argv.includes('grpc');
const pkg = (sig) => `@opentelemetry/exporter-${sig}-otlp-${GRPC ? 'grpc' : 'proto'}`;
const { OTLPTraceExporter } = require(pkg('trace'));
const { OTLPMetricExporter } = require(pkg('metrics'));
const { OTLPLogExporter } = require(pkg('logs'));

// gRPC exporters take the server's URL (no path) and a compression; HTTP ones the full URL.
function exporterOpts(a, path) {
  if (a.protocol !== 'grpc') return { url: `${a.url}/v1/${path}` };
  return { url: a.url, compression: a.compression };
}

function args() {
  const a = { url: 'http://127.0.0.1:4318', spans: 1000, points: 50, logs: 700, service: 'otel-js',
    protocol: 'http', compression: 'none' };
  const v = process.argv.slice(2);
  for (let i = 0; i + 1 < v.length; i += 2) {
    const k = v[i].replace(/^--/, '');
    if (!(k in a)) throw new Error(`unknown option ${v[i]}`);
    a[k] = typeof a[k] === 'number' ? Number(v[i + 1]) : v[i + 1];
  }
  return a;
}

async function spans(a, resource) {
  const exporter = new OTLPTraceExporter(exporterOpts(a, 'traces'));
  // The queue holds every span, so none is dropped however fast they are made.
  const proc = new BatchSpanProcessor(exporter, {
    maxQueueSize: a.spans + 1, maxExportBatchSize: 512, scheduledDelayMillis: 200,
  });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [proc] });
  const tracer = provider.getTracer('diorama-sink-test');
  for (let i = 0; i < a.spans; i++) tracer.startSpan(`op-${i % 5}`).end();
  await provider.shutdown();
}

async function metrics(a, resource) {
  const exporter = new OTLPMetricExporter(exporterOpts(a, 'metrics'));
  // One export only: the one shutdown makes (the interval never fires).
  const reader = new PeriodicExportingMetricReader({
    exporter, exportIntervalMillis: 3600000, exportTimeoutMillis: 30000,
  });
  const provider = new MeterProvider({ resource, readers: [reader] });
  const counter = provider.getMeter('diorama-sink-test').createCounter('test.requests');
  for (let i = 0; i < a.points; i++) counter.add(1, { series: i });
  await provider.shutdown();
}

async function logs(a, resource) {
  const exporter = new OTLPLogExporter(exporterOpts(a, 'logs'));
  const provider = new LoggerProvider({ resource });
  provider.addLogRecordProcessor(new BatchLogRecordProcessor(exporter, {
    maxQueueSize: a.logs + 1, maxExportBatchSize: 512, scheduledDelayMillis: 200,
  }));
  const logger = provider.getLogger('diorama-sink-test');
  for (let i = 0; i < a.logs; i++) logger.emit({ severityNumber: 9, severityText: 'INFO', body: `line ${i}` });
  await provider.shutdown();
}

async function main() {
  const a = args();
  const resource = new Resource({ 'service.name': a.service });
  await Promise.all([spans(a, resource), metrics(a, resource), logs(a, resource)]);
  console.log(JSON.stringify({ spans: a.spans, points: a.points, logs: a.logs, service: a.service }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
