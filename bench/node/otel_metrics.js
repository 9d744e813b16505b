// The OpenTelemetry JS SDK collecting and OTLP-protobuf-encoding metric data points to a null
// sink, as a peer for bench/run.sh: SERIES gauge series (like diorama's host metrics), collected
// and serialized repeatedly.
// usage: node otel_metrics.js SECONDS [SERIES] -> {"points":N,"seconds":S,"points_per_sec":R}
'use strict';
const { MeterProvider, MetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
const { Resource } = require('@opentelemetry/resources');
const { ProtobufMetricsSerializer } = require('@opentelemetry/otlp-transformer');

const seconds = Number(process.argv[2] || 5);
const series = Number(process.argv[3] || 2000);

class ManualReader extends MetricReader {
  constructor() { super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE }); }
  onForceFlush() { return Promise.resolve(); }
  onShutdown() { return Promise.resolve(); }
}
const reader = new ManualReader();
const provider = new MeterProvider({
  resource: new Resource({ 'service.name': 'host-metrics' }),
  readers: [reader],
});
const meter = provider.getMeter('bench');
const cpu = meter.createObservableGauge('system.cpu.utilization', { unit: '1' });
const mem = meter.createObservableGauge('system.memory.usage', { unit: 'By' });
let tick = 0;
cpu.addCallback((r) => { for (let h = 0; h < series / 2; h++) r.observe(0.3 + ((h + tick) % 7) / 100, { 'host.name': 'host-' + h }); });
mem.addCallback((r) => { for (let h = 0; h < series / 2; h++) r.observe(1e9 + h + tick, { 'host.name': 'host-' + h, 'system.memory.state': 'used' }); });

(async () => {
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(seconds * 1e9));
  let points = 0, bytes = 0;
  while (process.hrtime.bigint() < deadline) {
    tick++;
    const { resourceMetrics } = await reader.collect();
    const buf = ProtobufMetricsSerializer.serializeRequest(resourceMetrics);
    bytes += buf.length;
    for (const sm of resourceMetrics.scopeMetrics) for (const m of sm.metrics) points += m.dataPoints.length;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ points, bytes, seconds: +s.toFixed(3), points_per_sec: Math.round(points / s) }));
})();
