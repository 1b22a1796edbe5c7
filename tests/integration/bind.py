"""A real BIND 9 authoritative server on 127.0.0.1 for tests, serving zonedata.

Usage::

    with BindServer({".": zonedata}) as server:
        resolver = server.resolver()
        resolver.query("example.com", RRType.TXT)

``zones`` maps a zone origin to suite-style zonedata (``"."`` serves any name). With
``tsig=True`` every zone accepts RFC 2136 updates signed with ``server.tsig_name`` /
``server.tsig_secret`` (hmac-sha256). ``load()`` replaces the zones, ``add_zone()`` adds
one; both return once the new data is served. BIND does not fail when its port is taken,
so readiness is a marker TXT record unique to this instance and generation. ``port``
fixes the port (for instance 53 inside a private network namespace, for receivers that
only read /etc/resolv.conf); by default a free one is picked at each start attempt.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from spfmanager.dns.resolver import LiveResolver
from tests.integration.servers import LoopbackServer, stop_process
from tests.integration.zonefile import DEFAULT_TTL, marker_name, render_zone

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
TSIG_ALGORITHM = "hmac-sha256"
START_ATTEMPTS = 3
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

Zonedata = Mapping[str, Any]


class BindError(RuntimeError):
    """named would not start or load its zones."""


def named_binary() -> str | None:
    """The path of ``named``, or None when BIND is not installed."""
    found = shutil.which("named") or "/usr/sbin/named"
    return found if os.access(found, os.X_OK) else None


def require_named() -> str:
    """The path of ``named``; skips the calling test when BIND is not installed."""
    binary = named_binary()
    if binary is None:
        pytest.skip("BIND 9 `named` is not installed (apt-get install bind9)")
    return binary


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (released, so it may be taken again)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
                return port
    raise BindError("no free port on 127.0.0.1")


@dataclass(frozen=True)
class _Zone:
    origin: str
    zonedata: Zonedata
    ttl: int


class BindServer(LoopbackServer):
    """A ``named -g`` process in a temporary directory; a context manager."""

    def __init__(
        self,
        zones: Mapping[str, Zonedata] | None = None,
        *,
        tsig: bool = False,
        ttl: int = DEFAULT_TTL,
        tsig_name: str = "spfmanager-test",
        port: int | None = None,
    ) -> None:
        self._zones = {_origin(o): _Zone(_origin(o), z, ttl) for o, z in (zones or {}).items()}
        self.tsig_name: str | None = tsig_name if tsig else None
        self.tsig_secret: str | None = (
            base64.b64encode(secrets.token_bytes(32)).decode() if tsig else None
        )
        self.tsig_algorithm = TSIG_ALGORITHM
        self.host = HOST
        self.port = 0
        self._fixed_port = port
        self._token = secrets.token_hex(6)
        self._generation = 0
        self._files: dict[str, tuple[str, str]] = {}  # origin: (zone file, its marker)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- public API -----------------------------------------------------------------

    @property
    def zone_names(self) -> list[str]:
        """The origins served, absolute (``"example.org."``, ``"."``)."""
        return sorted(self._zones)

    @property
    def directory(self) -> Path:
        if self._tmp is None:
            raise BindError("server not started")
        return Path(self._tmp.name)

    def resolver(self, **kwargs: Any) -> LiveResolver:
        """A LiveResolver querying this server only."""
        kwargs.setdefault("timeout", 1.0)
        kwargs.setdefault("lifetime", 3.0)
        return LiveResolver([self.host], port=self.port, **kwargs)

    def start(self) -> BindServer:
        binary = require_named()
        self._tmp = tempfile.TemporaryDirectory(prefix="spfmanager-bind-")
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = self._fixed_port or free_port()
            self._write()
            log_file = (self.directory / "named.log").open("ab")
            self._process = subprocess.Popen(
                [binary, "-g", "-n", "1", "-c", str(self.directory / "named.conf")],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            log_file.close()
            try:
                self._wait_ready()
                return self
            except BindError:
                self._terminate()
                if attempt == START_ATTEMPTS:
                    self.stop()
                    raise
                log.warning("named on port %d not ready (attempt %d); retrying", self.port, attempt)
        raise AssertionError("unreachable")

    def stop(self) -> None:
        self._terminate()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def load(self, zones: Mapping[str, Zonedata], *, ttl: int = DEFAULT_TTL) -> None:
        """Serve exactly ``zones`` (origin to zonedata); no-op when already served."""
        wanted = {_origin(o): _Zone(_origin(o), z, ttl) for o, z in zones.items()}
        if wanted != self._zones:
            self._zones = wanted
            self.reload()

    def add_zone(self, origin: str, zonedata: Zonedata, *, ttl: int = DEFAULT_TTL) -> None:
        """Serve one more zone (or replace the one of ``origin``)."""
        self._zones[_origin(origin)] = _Zone(_origin(origin), zonedata, ttl)
        self.reload(only=[origin])

    def reload(self, only: list[str] | None = None) -> None:
        """Rewrite the configuration and zone files and wait until named serves them.

        Rewritten zones get new file names, so named loads them afresh (losing any
        RFC 2136 updates); with ``only``, other zones keep their files and updates.
        """
        if self._process is None:
            raise BindError("server not started")
        self._write(None if only is None else {_origin(o) for o in only})
        self._process.send_signal(signal.SIGHUP)
        self._wait_ready()

    def log_text(self) -> str:
        """What named wrote so far (for failure messages)."""
        try:
            return (self.directory / "named.log").read_text(errors="replace")
        except (OSError, BindError):
            return ""

    # -- internals --------------------------------------------------------------------

    def _write(self, only: set[str] | None = None) -> None:
        """Write named.conf, and zone files for the zones in ``only`` (all when None)."""
        self._generation += 1
        directory = self.directory
        marker = f"{self._token}-{self._generation}"
        served = self._served()
        files = {}
        zone_blocks = []
        for index, zone in enumerate(served):
            if index and only is not None and zone.origin not in only:
                files[zone.origin] = self._files[zone.origin]
            else:
                files[zone.origin] = (f"zone-{self._generation}-{index}.db", marker)
                text = render_zone(
                    zone.origin, zone.zonedata, serial=self._generation, marker=marker, ttl=zone.ttl
                )
                (directory / files[zone.origin][0]).write_text(text, encoding="ascii")
            filename = files[zone.origin][0]
            update = f"allow-update {{ key {self.tsig_name}; }};" if self.tsig_name else ""
            zone_blocks.append(
                f'zone "{zone.origin}" {{ type primary; file "{filename}"; {update} }};'
            )
        key = ""
        if self.tsig_name:
            key = (
                f'key "{self.tsig_name}" {{ algorithm {self.tsig_algorithm}; '
                f'secret "{self.tsig_secret}"; }};'
            )
        conf = f"""
options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    session-keyfile "{directory}/session.key";
    managed-keys-directory "{directory}";
    listen-on port {self.port} {{ {HOST}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ any; }};
    allow-transfer {{ {HOST}; }};
    notify no;
    dnssec-validation no;
    check-names primary ignore;
    check-integrity no;
    check-sibling no;
}};
controls {{ }};
{key}
{chr(10).join(zone_blocks)}
"""
        (directory / "named.conf").write_text(conf, encoding="ascii")
        self._files = files

    def _served(self) -> list[_Zone]:
        """The zones in the configuration: the caller's and this instance's own."""
        own = _Zone(f"{self._token}.spfmanager.invalid.", {}, DEFAULT_TTL)
        return [own, *self._zones.values()]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        pending = {
            marker_name(origin): marker.encode() for origin, (_, marker) in self._files.items()
        }
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise BindError(f"named exited:\n{self.log_text()[-3000:]}")
            pending = {n: m for n, m in pending.items() if not self._serves(n, m)}
            if not pending:
                return
            time.sleep(0.02)
        raise BindError(
            f"named on port {self.port} did not serve {pending} in time:\n{self.log_text()[-3000:]}"
        )

    def _serves(self, name: str, expected: bytes) -> bool:
        query = dns.message.make_query(name, dns.rdatatype.TXT)
        try:
            response = dns.query.udp(query, self.host, port=self.port, timeout=0.25)
        except (dns.exception.DNSException, OSError):
            return False
        if response.rcode() != dns.rcode.NOERROR:
            return False
        return any(
            b"".join(rdata.strings) == expected
            for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.TXT
            for rdata in rrset
        )

    def _terminate(self) -> None:
        process, self._process = self._process, None
        stop_process(process, STOP_TIMEOUT)


BindFactory = Callable[..., BindServer]
"""The type of the ``bind_server_factory`` fixture: ``factory(zones, tsig=..., ttl=...)``."""


def _origin(origin: str) -> str:
    return origin.rstrip(".") + "."
