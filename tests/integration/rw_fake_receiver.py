#!/usr/bin/env python3
"""A scriptable remote-write receiver for tests (not a test itself).

  rw_fake_receiver.py PORT_FILE DIR [v2_status]

Listens on 127.0.0.1 on a free port (written to PORT_FILE), takes POST /api/v1/write, logs
each request's headers as one JSON line in DIR/requests.jsonl and keeps each accepted body as
DIR/NNNNNNNN-vV.snappy (V from the Content-Type's proto parameter) for an independent decoder.
A 1.0 request is answered 204; a 2.0 request with v2_status (default 204; 415 makes it a
1.0-only receiver). It never decodes: counting is the decoder's job.
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, DIR = sys.argv[1], sys.argv[2]
V2_STATUS = int(sys.argv[3]) if len(sys.argv) > 3 else 204
lock = threading.Lock()
count = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ct = self.headers.get("Content-Type", "")
        v = 2 if "io.prometheus.write.v2.Request" in ct else 1
        status = V2_STATUS if v == 2 else 204
        with lock:
            n = count[0]
            count[0] += 1
            with open(os.path.join(DIR, "requests.jsonl"), "a") as f:
                f.write(json.dumps({"n": n, "version": v, "status": status,
                                    "headers": dict(self.headers.items())}) + "\n")
            if status // 100 == 2:
                with open(os.path.join(DIR, "%08d-v%d.snappy" % (n, v)), "wb") as f:
                    f.write(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
