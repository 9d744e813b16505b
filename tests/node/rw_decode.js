// Decodes Prometheus remote-write request bodies independently of diorama's C code: snappyjs
// (npm) for the snappy block format and protobufjs with proto/remote.proto (1.0) or
// proto/remote_v2.proto (2.0). No npm package ships the 2.0 proto, so proto/remote_v2.proto
// is written from the 2.0 specification; its field numbers are those of prometheus/prometheus
// prompb/io/prometheus/write/v2/types.proto.
//
//   node rw_decode.js 1|2 FILE...   (files in arrival order, e.g. a sink --record directory)
//
// Prints one JSON object: requests, timeseries messages, distinct series, samples, 2.0
// metadata by type, series with/without created timestamps, and every rule the specs set
// that the bodies break (labels sorted and unique, __name__ present, symbols[0] empty, samples
// of a series in time order across the whole stream).
"use strict";
const fs = require("fs");
const path = require("path");
const protobuf = require("protobufjs");
const snappy = require("snappyjs");

const version = process.argv[2];
const files = process.argv.slice(3);
const protoDir = path.join(__dirname, "..", "..", "proto");
const root = protobuf.loadSync(path.join(protoDir, version === "2" ? "remote_v2.proto" : "remote.proto"));
const Req = root.lookupType(version === "2" ? "io.prometheus.write.v2.Request" : "prometheus.WriteRequest");
const TYPES = ["unspecified", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset"];

const out = { requests: 0, timeseries: 0, series: 0, samples: 0, histograms: 0, types: {},
  created: 0, no_created: 0, help: 0, problems: [] };
const last = new Map(); // series key -> newest timestamp seen
const problem = (m) => { if (out.problems.length < 20) out.problems.push(m); };

function labelsOf(req, ts) {
  if (version !== "2")
    return ts.labels.map((l) => [l.name, l.value]);
  const refs = ts.labelsRefs || [];
  if (refs.length % 2) problem("odd labels_refs");
  const l = [];
  for (let i = 0; i + 1 < refs.length; i += 2) {
    if (refs[i] >= req.symbols.length || refs[i + 1] >= req.symbols.length) problem("ref outside symbols");
    l.push([req.symbols[refs[i]], req.symbols[refs[i + 1]]]);
  }
  return l;
}

function series(req, ts) {
  const l = labelsOf(req, ts);
  for (let i = 1; i < l.length; i++)
    if (!(l[i - 1][0] < l[i][0])) problem(`labels not sorted/unique: ${l[i - 1][0]} ${l[i][0]}`);
  if (!l.some(([n]) => n === "__name__")) problem("no __name__");
  if (l.some(([, v]) => v === "")) problem("empty label value");
  const key = l.map(([n, v]) => `${n}=${v}`).join(",");
  if (!last.has(key)) { out.series++; last.set(key, -Infinity); }
  for (const s of ts.samples) {
    const t = Number(s.timestamp);
    if (t <= last.get(key)) problem(`out of order or duplicate: ${key} ${t}`);
    last.set(key, t);
  }
  out.samples += ts.samples.length;
  out.histograms += (ts.histograms || []).length;
  if (version === "2") {
    const md = ts.metadata || {};
    const type = TYPES[md.type || 0];
    out.types[type] = (out.types[type] || 0) + 1;
    if (md.helpRef) out.help++;
    if (type === "counter" || type === "histogram") {
      if (Number(ts.createdTimestamp || 0) > 0) out.created++; else out.no_created++;
    }
  }
}

for (const f of files) {
  const req = Req.decode(snappy.uncompress(fs.readFileSync(f)));
  out.requests++;
  if (version === "2" && req.symbols[0] !== "") problem("symbols[0] is not empty");
  for (const ts of req.timeseries) {
    out.timeseries++;
    series(req, ts);
  }
}
console.log(JSON.stringify(out));
