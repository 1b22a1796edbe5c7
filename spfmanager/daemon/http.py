"""The daemon's observability endpoint: ``GET /metrics`` and ``GET /healthz``.

A stdlib :class:`~http.server.ThreadingHTTPServer` in a daemon thread, so that a slow
scrape never delays a run and no web framework is needed for two read-only paths:

* ``/metrics``: the :class:`~spfmanager.daemon.metrics.Metrics` registry in the Prometheus
  text format (OpenMetrics when the scraper asks for it with ``Accept``);
* ``/healthz``: ``200 ok`` while ``health()`` returns ``(True, ...)``, else ``503`` and the
  reason. ``health`` runs in a worker thread with a deadline: a state store that hangs turns
  into a 503 within ``health_timeout`` seconds, never into a hung probe. Probes arriving
  while a check is still running wait for that same check instead of starting another, so
  a hung store costs one stuck thread, not one per probe.

Only an exception's type reaches the HTTP body (the endpoint is usually unauthenticated,
and a database error message can name hosts and users); the details go to the log.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlsplit

from prometheus_client.exposition import choose_encoder

from spfmanager.daemon.metrics import Metrics

__all__ = ["DEFAULT_HEALTH_TIMEOUT", "ObservabilityServer", "parse_address", "serve"]

log = logging.getLogger(__name__)

#: Seconds ``/healthz`` waits for ``health()`` before answering 503.
DEFAULT_HEALTH_TIMEOUT: Final = 2.0
# A client that opens a connection and sends nothing releases its thread after this long.
_REQUEST_TIMEOUT: Final = 10.0

Health = Callable[[], tuple[bool, str]]


def parse_address(address: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[V6]:PORT`` for IPv6) into host and port, or raise ValueError.

    The host is an IPv4 or bracketed IPv6 literal or a name; the port is 0-65535 (0: the
    system picks a free one). The message names the mistake, for ``--metrics-address``.
    """
    hint = "expected HOST:PORT, e.g. 127.0.0.1:9100, 0.0.0.0:9100 or [::1]:9100"
    text = address.strip()
    if not text:
        raise ValueError(f"metrics address is empty: {hint}")
    if "://" in text:
        raise ValueError(f"metrics address {address!r} is not a URL: {hint}")
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            raise ValueError(f"metrics address {address!r} has no closing ']': {hint}")
        host, rest = text[1:end], text[end + 1 :]
        if not _is_ipv6(host):
            raise ValueError(
                f"metrics address {address!r}: {host!r} in brackets is not an IPv6 address"
            )
        if not rest.startswith(":"):
            raise ValueError(f"metrics address {address!r} has no port after ']': {hint}")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"metrics address {address!r} has no port: {hint}")
        if ":" in host:
            if _is_ipv6(host):
                raise ValueError(
                    f"metrics address {address!r}: put an IPv6 address in brackets, "
                    f"as in [{host}]:{port_text}"
                )
            raise ValueError(f"metrics address {address!r}: {host!r} is not a host name")
        if not host:
            raise ValueError(
                f"metrics address {address!r} has no host: use 0.0.0.0:{port_text} for every "
                f"IPv4 interface, [::]:{port_text} for every interface, or 127.0.0.1:{port_text}"
            )
        if any(c.isspace() or c in "/?#@" for c in host):
            raise ValueError(f"metrics address {address!r}: {host!r} is not a host name")
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"metrics address {address!r}: port {port_text!r} is not a number")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"metrics address {address!r}: port {port} is above 65535")
    return host, port


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


class _HealthProbe:
    """Calls ``health`` in a worker thread; concurrent probes share the call in flight."""

    def __init__(self, health: Health, timeout: float) -> None:
        self._health = health
        self._timeout = timeout
        self._lock = threading.Lock()
        self._done: threading.Event | None = None
        self._started = 0.0
        self._result: tuple[bool, str] = (False, "health check did not run")

    def check(self) -> tuple[bool, str]:
        with self._lock:
            done = self._done
            if done is None:
                done = self._done = threading.Event()
                self._started = time.monotonic()
                threading.Thread(
                    target=self._run, args=(done,), name="spfmanager-healthz", daemon=True
                ).start()
            started = self._started
        if done.wait(self._timeout):
            with self._lock:
                return self._result
        waited = time.monotonic() - started
        return False, f"health check did not answer within {self._timeout:g} s ({waited:.1f} s)"

    def _run(self, done: threading.Event) -> None:
        try:
            healthy, reason = self._health()
            result = (bool(healthy), str(reason))
        except Exception as error:
            log.warning("health check raised %s", type(error).__name__)
            log.debug("health check failure", exc_info=True)
            result = (False, f"health check raised {type(error).__name__}")
        with self._lock:
            self._result = result
            self._done = None
        done.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, family: socket.AddressFamily, sockaddr: Any, metrics: Metrics, probe: _HealthProbe
    ) -> None:
        self.address_family = family
        self.metrics = metrics
        self.probe = probe
        super().__init__(sockaddr, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() resolves the host's FQDN (a reverse DNS query): skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = _REQUEST_TIMEOUT
    server_version = "spfmanager"
    sys_version = ""

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def _respond(self, *, body: bool) -> None:
        path = urlsplit(self.path).path
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(HTTPStatus.OK, encoder(self.server.metrics.registry), content_type, body)
        elif path == "/healthz":
            healthy, reason = self.server.probe.check()
            status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
            text = "ok" if healthy else (reason or "unhealthy")
            self._send(status, f"{text}\n".encode(), "text/plain; charset=utf-8", body)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", body)

    def _send(self, status: HTTPStatus, payload: bytes, content_type: str, body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        # Access lines go to the debug log, not to stderr (scrapes every 15 s are noise).
        log.debug("%s %s", self.address_string(), format % args)


class ObservabilityServer:
    """A running ``/metrics`` + ``/healthz`` server; :meth:`close` (or ``with``) stops it."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="spfmanager-metrics",
            daemon=True,
        )
        self._thread.start()

    @property
    def host(self) -> str:
        """The bound host (an address literal)."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The bound port (the one the system picked when asked for port 0)."""
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """The bound ``HOST:PORT``, IPv6 hosts in brackets."""
        host = self.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the server (a wildcard host is given as is)."""
        return f"http://{self.address}"

    def close(self) -> None:
        """Stop serving and release the port; waits for the serving thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> ObservabilityServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(
    address: str,
    metrics: Metrics,
    health: Callable[[], tuple[bool, str]],
    *,
    health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
) -> ObservabilityServer:
    """Serve ``/metrics`` and ``/healthz`` on ``address`` (``HOST:PORT``) in the background.

    ``health`` is called for each ``/healthz`` request (probes in flight share one call) and
    returns ``(healthy, reason)``; it gets ``health_timeout`` seconds. Raises
    :class:`ValueError` for a malformed address and :class:`OSError` when the address cannot
    be bound (in use, not local).
    """
    if not health_timeout > 0:
        raise ValueError(f"health_timeout must be > 0, not {health_timeout!r}")
    host, port = parse_address(address)
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE | socket.AI_NUMERICSERV
        )
    except socket.gaierror as error:
        raise ValueError(f"metrics address {address!r}: cannot resolve {host!r}: {error}") from None
    family, _, _, _, sockaddr = infos[0]
    server = _Server(family, sockaddr, metrics, _HealthProbe(health, health_timeout))
    result = ObservabilityServer(server)
    log.info("serving /metrics and /healthz on %s", result.address)
    return result
