"""A loopback HTTP server that answers every request from a test's function.

For the answers real servers (PowerDNS, moto, the Cloudflare contract server) never give: a
200 whose body is a proxy's HTML page, JSON of another shape, an error body that reflects
the request's credentials::

    def answer(request: Request) -> Reply:
        return Reply(500, json.dumps({"error": request.headers["X-API-Key"]}).encode())

    with CannedHTTPServer(answer) as server:
        ...  # server.base_url, server.requests
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string
    headers: Message
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


Responder = Callable[[Request], Reply]


class CannedHTTPServer:
    """Serves ``responder(request)`` on 127.0.0.1; ``requests`` lists what was asked."""

    def __init__(self, responder: Responder | Reply) -> None:
        self.responder: Responder = (
            responder if callable(responder) else (lambda _request: responder)
        )
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> CannedHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        canned = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, self.path, self.headers, self.rfile.read(length))
                with canned._lock:
                    canned.requests.append(request)
                reply = canned.responder(request)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        return Handler
