#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for tests/s3.rs: forwards each request to an S3 server, or,
while the control file says so, answers it with an S3 error instead.

  fault_proxy.py PORT UPSTREAM CONTROL_FILE

CONTROL_FILE holds one word, read on every request: `pass` (forward), `503` (answer 503
ServiceUnavailable), `500` (500 InternalError), `403` (403 AccessDenied). A missing file means
`pass`. Each answer is logged on stderr, one line per request.
"""
import http.client
import http.server
import sys
import urllib.parse

PORT = int(sys.argv[1])
UPSTREAM = urllib.parse.urlparse(sys.argv[2])
CONTROL = sys.argv[3]

ERRORS = {
    "503": (503, "ServiceUnavailable", "Please reduce your request rate. (injected)"),
    "500": (500, "InternalError", "We encountered an internal error. (injected)"),
    "403": (403, "AccessDenied", "Access Denied (injected)"),
}
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def mode():
    try:
        with open(CONTROL) as f:
            return f.read().strip() or "pass"
    except OSError:
        return "pass"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        m = mode()
        if m in ERRORS:
            status, code, message = ERRORS[m]
            payload = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                       f"<Message>{message}</Message></Error>").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
