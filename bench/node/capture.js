#!/usr/bin/env node
// Records every POST body it receives, one file per request (DIR/000001.lp ...), and answers
// 204 like InfluxDB's /write: bench/influx_bench.sh replays the same bodies into InfluxDB with
// curl, so both contenders write exactly the same requests.
//   node capture.js --port-file F --dir DIR
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
let n = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    n++;
    fs.writeFileSync(path.join(args.dir, String(n).padStart(6, '0') + '.lp'), Buffer.concat(chunks));
    res.writeHead(204);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(args['port-file'] + '.tmp', String(server.address().port));
  fs.renameSync(args['port-file'] + '.tmp', args['port-file']);
});
process.on('SIGTERM', () => process.exit(0));
