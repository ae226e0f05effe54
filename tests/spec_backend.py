#!/usr/bin/env python3
"""A NoxRunner backend that is not ours: only the endpoints of NoxRunner's
backend specification, in memory, for the C client's tests
(tests/check_http_client.c). Standard library only.

    spec_backend.py [--token T] [--tls-cert F --tls-key F]

Listens on 127.0.0.1 on a free port and prints
"spec_backend: listening on http(s)://127.0.0.1:PORT". Exits when its
stdin closes, so a test that dies takes it along.

Session ids steer the replies the tests need:
  status-NNN   every call on it answers status NNN, {"error": "canned NNN"}
  plain-NNN    the same with a text/plain body "canned NNN"
  sleep-MS     every call on it waits MS milliseconds first
  ctl-N        an Exec on it answers N bytes 0x01 as stdout (each
               written "\u0001" by JSON); otherwise as specified
  nul-out      an Exec on it answers stdout "a<NUL>b tail" (json.dumps
               writes "\u0000") and stderr the text "\u0000 as text"
  moved        every call on it answers 301 to https://127.0.0.1:1 + path
  drop-once    the first call of each endpoint on it gets no reply at all
               (the connection closes); later ones are answered
Every other id behaves as the specification says. Each connection
accepted prints "spec_backend: connection", each request
"spec_backend: VERB PATH" (before any steering). /healthz needs no
token; everything else does when --token is given (401 otherwise).
"""

import argparse
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

PREFIX = "/v1/sandboxes/"


class State:
    def __init__(self, token):
        self.token = token
        self.lock = threading.Lock()
        self.sandboxes = {}  # id -> {"files": {dest: bytes}}
        self.dropped = set()  # (id, endpoint) already dropped once


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real backends
    server_version = "spec-backend/1"

    def log_message(self, fmt, *args):  # quiet: tests read our stdout
        pass

    def setup(self):
        super().setup()
        # One line per connection: a test counts them to see keep-alive.
        print("spec_backend: connection", flush=True)

    # ---- replies ----

    def reply(self, status, body=b"", ctype=None):
        self.send_response(status)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def reply_json(self, status, obj):
        self.reply(status, json.dumps(obj).encode(), "application/json")

    def error(self, status, msg):
        self.reply_json(status, {"error": msg})

    # ---- requests ----

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def authorized(self):
        st = self.server.state
        if st.token is None:
            return True
        return self.headers.get("Authorization") == "Bearer " + st.token

    def route(self):
        """(session id, endpoint) of a sandbox path, else (None, path)."""
        path = urlsplit(self.path).path
        if not path.startswith(PREFIX):
            return None, path
        rest = path[len(PREFIX):]
        sid, _, tail = rest.partition("/")
        return unquote(sid), tail

    def steered(self, sid, endpoint):
        """Apply the session id's special behaviour; True when answered."""
        if sid.startswith("sleep-"):
            time.sleep(int(sid[6:]) / 1000.0)
        if sid.startswith("status-"):
            code = int(sid[7:])
            self.error(code, "canned %d" % code)
            return True
        if sid.startswith("plain-"):
            code = int(sid[6:])
            self.reply(code, b"canned %d" % code, "text/plain")
            return True
        if sid == "moved":
            self.send_response(301)
            self.send_header("Location", "https://127.0.0.1:1" + self.path)
            body = b"<html><body><h1>301 Moved Permanently</h1></body></html>"
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return True
        if sid == "drop-once":
            st = self.server.state
            with st.lock:
                first = (sid, endpoint) not in st.dropped
                st.dropped.add((sid, endpoint))
            if first:
                self.close_connection = True
                return True
        return False

    def handle_any(self, verb):
        # One line per request: a test counts how often a call arrived.
        print("spec_backend: %s %s" % (verb, self.path), flush=True)
        sid, tail = self.route()
        body = self.body()
        if sid is None:
            if verb == "GET" and tail == "/healthz":
                return self.reply(200, b"OK", "text/plain")
            return self.reply(404, b"404 page not found", "text/plain")
        if not self.authorized():
            return self.error(401, "missing or wrong bearer token")
        if self.steered(sid, (verb, tail)):
            return None
        handler = {
            ("PUT", ""): self.create,
            ("POST", "touch"): self.touch,
            ("POST", "exec"): self.exec_,
            ("POST", "files/upload"): self.upload,
            ("GET", "files/download"): self.download,
            ("DELETE", ""): self.delete,
        }.get((verb, tail))
        if handler is None:
            return self.reply(404, b"404 page not found", "text/plain")
        return handler(sid, body)

    def do_GET(self):
        self.handle_any("GET")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # ---- the specification's endpoints ----

    def sandbox(self, sid):
        with self.server.state.lock:
            return self.server.state.sandboxes.get(sid)

    def create(self, sid, body):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return self.error(400, "malformed JSON")
        ttl = req.get("ttlSeconds", 900)
        with self.server.state.lock:
            self.server.state.sandboxes.setdefault(sid, {"files": {}})
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                time.gmtime(time.time() + ttl))
        return self.reply_json(200, {"podName": "sbx-" + sid,
                                     "expiresAt": expires})

    def touch(self, sid, body):
        if self.sandbox(sid) is None:
            return self.error(404, "sandbox not found")
        return self.reply(200)

    def exec_(self, sid, body):
        if self.sandbox(sid) is None:
            return self.error(404, "sandbox not found")
        try:
            req = json.loads(body)
        except ValueError:
            return self.error(400, "malformed JSON")
        cmd = req.get("cmd")
        if not isinstance(cmd, list) or not cmd:
            return self.error(400, "cmd must be a non-empty array")
        if sid.startswith("ctl-"):
            return self.reply_json(200, {"exitCode": 0,
                                         "stdout": "\x01" * int(sid[4:]),
                                         "stderr": "", "durationMs": 1})
        if sid == "nul-out":
            return self.reply_json(200, {"exitCode": 0,
                                         "stdout": "a\x00b tail",
                                         "stderr": "\\u0000 as text",
                                         "durationMs": 1})
        # Canned: echo what arrived, so the test sees the encoding.
        env = req.get("env") or {}
        out = "ran: %s\n" % " ".join(cmd)
        err = "workdir=%s env=%s timeout=%s\n" % (
            req.get("workdir", ""),
            ",".join("%s=%s" % kv for kv in sorted(env.items())),
            req.get("timeoutSeconds", ""))
        return self.reply_json(200, {"exitCode": 3, "stdout": out,
                                     "stderr": err, "durationMs": 12})

    def upload(self, sid, body):
        sb = self.sandbox(sid)
        if sb is None:
            return self.error(404, "sandbox not found")
        if self.headers.get("Content-Type") != "application/x-tar":
            return self.error(400, "want application/x-tar")
        dest = parse_qs(urlsplit(self.path).query).get("dest", ["/workspace"])
        with self.server.state.lock:
            sb["files"][dest[0]] = body
        return self.reply(200)

    def download(self, sid, body):
        sb = self.sandbox(sid)
        if sb is None:
            return self.error(404, "sandbox not found")
        src = parse_qs(urlsplit(self.path).query).get("src", ["/workspace"])
        with self.server.state.lock:
            data = sb["files"].get(src[0], b"")
        return self.reply(200, data, "application/x-tar")

    def delete(self, sid, body):
        with self.server.state.lock:
            self.server.state.sandboxes.pop(sid, None)
        return self.reply(204)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--token")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(args.token)
    scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("spec_backend: listening on %s://127.0.0.1:%d"
          % (scheme, srv.server_address[1]), flush=True)
    # Until the test closes our stdin (or dies).
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
