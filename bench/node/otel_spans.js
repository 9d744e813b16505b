// The OpenTelemetry JS SDK generating and OTLP-protobuf-encoding spans to a null sink, as a
// peer for bench/run.sh. Traces look like diorama's inference traces: a gateway SERVER span,
// a CLIENT span and a model-server SERVER span with gen_ai attributes.
// usage: node otel_spans.js SECONDS   -> prints {"spans":N,"seconds":S,"spans_per_sec":R}
'use strict';
const api = require('@opentelemetry/api');
const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
const { Resource } = require('@opentelemetry/resources');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');

const seconds = Number(process.argv[2] || 5);
const BATCH = 1024;
let pending = [];
let spans = 0;
let bytes = 0;

// A span processor that batches ended spans and serializes them exactly as the OTLP/HTTP
// protobuf exporter does before sending; the bytes are then dropped.
const processor = {
  onStart() {},
  onEnd(span) {
    pending.push(span);
    if (pending.length >= BATCH) flush();
  },
  forceFlush() { flush(); return Promise.resolve(); },
  shutdown() { flush(); return Promise.resolve(); },
};
function flush() {
  if (!pending.length) return;
  const buf = ProtobufTraceSerializer.serializeRequest(pending);
  bytes += buf.length;
  spans += pending.length;
  pending = [];
}

const provider = new BasicTracerProvider({
  resource: new Resource({ 'service.name': 'gateway', 'service.namespace': 'inference' }),
  spanProcessors: [processor],
});
const tracer = provider.getTracer('bench');

function oneTrace(i) {
  tracer.startActiveSpan('POST /v1/chat/completions', { kind: api.SpanKind.SERVER }, (root) => {
    root.setAttribute('http.request.method', 'POST');
    root.setAttribute('http.route', '/v1/chat/completions');
    const rctx = api.trace.setSpan(api.context.active(), root);
    const client = tracer.startSpan('chat gpt-4', { kind: api.SpanKind.CLIENT }, rctx);
    client.setAttribute('gen_ai.operation.name', 'chat');
    client.setAttribute('gen_ai.request.model', 'gpt-4');
    client.setAttribute('server.address', 'model-server');
    const ctx = api.trace.setSpan(api.context.active(), client);
    const srv = tracer.startSpan('chat gpt-4', { kind: api.SpanKind.SERVER }, ctx);
    srv.setAttribute('gen_ai.operation.name', 'chat');
    srv.setAttribute('gen_ai.request.model', 'gpt-4');
    srv.setAttribute('gen_ai.usage.input_tokens', 400 + (i % 100));
    srv.setAttribute('gen_ai.usage.output_tokens', 250 + (i % 50));
    srv.setAttribute('inference.batch_size', 4);
    srv.setAttribute('inference.queue_depth', 0);
    srv.setAttribute('gpu.utilization', 0.75);
    srv.setAttribute('diorama.seq', i);
    srv.end();
    client.end();
    root.setAttribute('http.response.status_code', 200);
    root.end();
  });
}

const t0 = process.hrtime.bigint();
const deadline = t0 + BigInt(Math.round(seconds * 1e9));
let i = 0;
for (;;) {
  for (let k = 0; k < 1000; k++) oneTrace(i++);
  if (process.hrtime.bigint() >= deadline) break;
}
flush();
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ spans, bytes, seconds: +s.toFixed(3), spans_per_sec: Math.round(spans / s) }));
