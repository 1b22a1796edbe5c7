"""A real HTTP server on 127.0.0.1 that receives webhook POSTs, for the daemon's tests.

Usage::

    with WebhookSink() as sink:
        ...  # configure a webhook channel with url=sink.url
        sink.wait_for(lambda e: e["kind"] == "error", timeout=5)
        sink.kinds("example.com")             # ["applied", "error", ...] in arrival order

Every POST is answered ``200 ok``; its body must be a JSON object (else it is kept as a
``{"invalid": text}`` entry, which :meth:`WebhookSink.events` returns like any other, so a
test asserting on kinds sees it). The server thread is joined with a timeout on exit.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.servers import LoopbackServer

HOST = "127.0.0.1"
MAX_BODY = 1 << 20  # a notification is a few kB; refuse to buffer more than this
STOP_TIMEOUT = 5.0

Event = dict[str, Any]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sink: WebhookSink) -> None:
        super().__init__((HOST, 0), _Handler)
        self.sink = sink


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length", "0")), MAX_BODY)
        body = self.rfile.read(length).decode("utf-8", "replace")
        try:
            event: Event = json.loads(body)
            if not isinstance(event, dict):
                event = {"invalid": body}
        except json.JSONDecodeError:
            event = {"invalid": body}
        event["_path"] = self.path
        event["_content_type"] = self.headers.get("Content-Type", "")
        self.server.sink._received(event)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class WebhookSink(LoopbackServer):
    """Collects the JSON bodies POSTed to :attr:`url`; a context manager."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._changed = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("webhook sink not started")
        return f"http://{HOST}:{self._server.server_address[1]}/hook"

    def start(self) -> WebhookSink:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-sink",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)

    def events(self, domain: str | None = None, kind: str | None = None) -> list[Event]:
        """The bodies received so far (of ``domain`` and ``kind`` when given), oldest first."""
        with self._changed:
            return [
                e
                for e in self._events
                if (domain is None or e.get("domain") == domain)
                and (kind is None or e.get("kind") == kind)
            ]

    def kinds(self, domain: str | None = None) -> list[str]:
        return [str(e.get("kind")) for e in self.events(domain)]

    def clear(self) -> None:
        with self._changed:
            self._events.clear()

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float) -> Event | None:
        """The first body received that satisfies ``predicate``, waiting up to ``timeout``
        seconds for it; None if none came."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((e for e in self._events if predicate(e)), None)
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found
                self._changed.wait(remaining)

    def _received(self, event: Event) -> None:
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()
