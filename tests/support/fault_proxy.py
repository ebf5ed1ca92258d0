"""An HTTP proxy in front of the Chamilo stand-in that misbehaves for chosen *users*.

The stand-in's own fault plan (``ChamiloStandin.inject``) picks calls by operation and count;
a user whose data makes every call fail needs a fault chosen by the request's content. The
proxy forwards everything to the stand-in (WSDL included) except POSTs whose operation and
body match a rule, which it answers itself without forwarding (nothing is done in Chamilo):

* ``http500``: HTTP 500 with an empty body (a PHP fatal error);
* ``fault``: HTTP 500 with a SOAP fault, ``faultcode`` Server (not the key fault).

``rule(operation, key)`` matches a body holding ``>key<`` (an element whose text is the key).
``hits`` counts the requests each rule answered. 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULT = (b'<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope '
         b'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
         b"<SOAP-ENV:Fault><faultcode>Server</faultcode><faultstring>Injected fault for one "
         b"user</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>")
_OPERATION = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)")


@dataclass
class Rule:
    operation: str
    key: str
    mode: str
    hits: int = 0


class FaultProxy:
    def __init__(self, upstream_url: str) -> None:
        self.upstream = urlsplit(upstream_url)
        self.rules: list[Rule] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{self.upstream.path}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rule(self, operation: str, key: str, mode: str) -> Rule:
        if mode not in ("http500", "fault"):
            raise ValueError(f"unknown proxy fault mode {mode!r}")
        rule = Rule(operation, key, mode)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def _match(self, body: bytes) -> Rule | None:
        found = _OPERATION.search(body)
        operation = found.group(1).decode() if found else "?"
        with self._lock:
            for rule in self.rules:
                if rule.operation == operation and f">{rule.key}<".encode() in body:
                    rule.hits += 1
                    return rule
        return None

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rule = proxy._match(body)
                if rule is None:
                    self._forward(body)
                elif rule.mode == "http500":
                    self._answer(500, b"", "text/html")
                else:
                    self._answer(500, FAULT, "text/xml; charset=UTF-8")

            def _forward(self, body: bytes) -> None:
                up = proxy.upstream
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("host", "accept-encoding", "connection")}
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    answer = conn.getresponse()
                    self._answer(answer.status, answer.read(),
                                 answer.getheader("Content-Type", "text/xml"))
                finally:
                    conn.close()

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
