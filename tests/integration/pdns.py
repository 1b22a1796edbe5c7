"""A real PowerDNS Authoritative server on 127.0.0.1 (gsqlite3 backend, HTTP API enabled).

Usage::

    with PowerDNSServer(tmp_path) as pdns:
        pdns.create_zone("example.com")
        ...  # pdns.api_url, pdns.api_key, pdns.dns_port
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.servers import LoopbackServer, stop_process

SCHEMAS = (
    Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"),
    Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"),
)
STARTUP_SECONDS = 15.0


def schema_path() -> Path | None:
    return next((p for p in SCHEMAS if p.is_file()), None)


def available() -> bool:
    """True when pdns_server and the sqlite3 backend schema are installed."""
    return shutil.which("pdns_server") is not None and schema_path() is not None


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (DNS listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port on 127.0.0.1")


class PowerDNSServer(LoopbackServer):
    """Starts ``pdns_server`` in ``directory``; stop() (or leaving the ``with``) ends it."""

    def __init__(self, directory: Path, api_key: str | None = None) -> None:
        self.directory = directory
        self.api_key = api_key or secrets.token_hex(16)
        self.dns_port = 0
        self.web_port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        schema = schema_path()
        if schema is None or shutil.which("pdns_server") is None:
            raise RuntimeError("PowerDNS (pdns-server, pdns-backend-sqlite3) is not installed")
        self.directory.mkdir(parents=True, exist_ok=True)
        database = self.directory / "pdns.sqlite3"
        database.unlink(missing_ok=True)
        with sqlite3.connect(database) as connection:
            connection.executescript(schema.read_text())
        for _ in range(3):  # a port taken between free_port() and bind(): try again
            self.dns_port, self.web_port = free_port(), free_port()
            self._write_config(database)
            if self._launch():
                return
        raise RuntimeError(f"pdns_server did not start:\n{self._log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the HTTP API (``path`` below ``/api/v1``) with the server's key."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api_url}/api/v1{path}",
            data=data,
            method=method,
            headers={"X-API-Key": self.api_key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def create_zone(self, zone: str) -> None:
        """A Native zone with an SOA and one NS record."""
        name = zone.rstrip(".") + "."
        self.api(
            "POST",
            "/servers/localhost/zones",
            {"name": name, "kind": "Native", "nameservers": [f"ns1.{name}"]},
        )

    def _write_config(self, database: Path) -> None:
        sockets = self.directory / "sockets"
        sockets.mkdir(exist_ok=True)
        settings = {
            "launch": "gsqlite3",
            "gsqlite3-database": str(database),
            "api": "yes",
            "api-key": self.api_key,
            "webserver": "yes",
            "webserver-address": "127.0.0.1",
            "webserver-port": str(self.web_port),
            "webserver-allow-from": "127.0.0.0/8",
            "security-poll-suffix": "",
            "local-address": "127.0.0.1",
            "local-port": str(self.dns_port),
            "socket-dir": str(sockets),
            "guardian": "no",
            "daemon": "no",
            "disable-syslog": "yes",
            "cache-ttl": "0",
            "query-cache-ttl": "0",
            "negquery-cache-ttl": "0",
            "zone-cache-refresh-interval": "0",
        }
        text = "".join(f"{key}={value}\n" for key, value in settings.items())
        (self.directory / "pdns.conf").write_text(text)

    def _launch(self) -> bool:
        log = (self.directory / "pdns.log").open("wb")
        self._process = subprocess.Popen(
            [
                "pdns_server",
                f"--config-dir={self.directory}",
                f"--socket-dir={self.directory / 'sockets'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                return False
            try:
                self.api("GET", "/servers/localhost")
                return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        return False

    def _log_tail(self) -> str:
        path = self.directory / "pdns.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-20:]) if path.exists() else ""
        )
