"""rbldnsd serving a macro dataset on 127.0.0.1, and BIND forwarding the macro zone to it.

``RbldnsdServer(dataset, zone)`` runs ``rbldnsd -n -f -b 127.0.0.1/PORT -w DIR -c 1`` on
``zone:combined:macro.data`` plus a one-record zone unique to the instance
(``<token>.ready.invalid``), whose TXT answer is the readiness check (rbldnsd exits when
its port is taken; then another port is tried). ``replace(text)`` rewrites the data file
atomically (:func:`spfmanager.macro.write_dataset`): the running rbldnsd reloads it within
its 1-second check interval.

``MacroBindServer(rbldnsd, zone)`` is the integration ``BindServer`` serving ``"."``
zonedata, with the macro zone delegated in its root zone and declared ``type forward;
forward only`` to rbldnsd, recursion allowed for 127.0.0.1 only: receivers asking it for
``%{ir}.%{v}.%{d}.<zone>`` get rbldnsd's answer, as through a resolver in production.
Every name is either in the authoritative root zone or forwarded to loopback: nothing
leaves 127.0.0.1.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import pytest

from spfmanager.macro import write_dataset
from tests.integration.bind import BindServer, free_port
from tests.integration.servers import LoopbackServer, stop_process

HOST = "127.0.0.1"
READY_TIMEOUT = 10.0
START_ATTEMPTS = 3


def rbldnsd_binary() -> str | None:
    return shutil.which("rbldnsd") or (
        "/usr/sbin/rbldnsd" if Path("/usr/sbin/rbldnsd").exists() else None
    )


def require_rbldnsd() -> str:
    binary = rbldnsd_binary()
    if binary is None:
        pytest.skip("rbldnsd is not installed (apt-get install rbldnsd; scripts/install-test-deps)")
    return binary


class RbldnsdServer(LoopbackServer):
    """An ``rbldnsd -n`` process serving one combined dataset; a context manager."""

    def __init__(self, dataset: str, zone: str, *, port: int | None = None) -> None:
        self.dataset = dataset
        self.zone = zone.rstrip(".")
        self.host = HOST
        self.port = 0
        self._fixed_port = port
        self._token = secrets.token_hex(6)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def directory(self) -> Path:
        assert self._tmp is not None, "not started"
        return Path(self._tmp.name)

    @property
    def data_file(self) -> Path:
        return self.directory / "macro.data"

    @property
    def ready_name(self) -> str:
        return f"{self._token}.ready.invalid"

    def start(self) -> RbldnsdServer:
        binary = rbldnsd_binary()
        if binary is None:
            raise RuntimeError("rbldnsd is not installed")
        self._tmp = tempfile.TemporaryDirectory(prefix="spfmanager-rbldnsd-")
        # Started as root, rbldnsd drops to its own user (rbldns) before reading the data.
        self.directory.chmod(0o755)
        write_dataset(self.data_file, self.dataset)
        (self.directory / "ready.data").write_text(f"@ TXT {self._token}\n", encoding="ascii")
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = self._fixed_port or free_port()
            log = (self.directory / "rbldnsd.log").open("ab")
            self._process = subprocess.Popen(
                [
                    binary, "-n", "-f", "-q", "-b", f"{HOST}/{self.port}", "-w",
                    str(self.directory), "-c", "1", "-t", "300",
                    f"{self.zone}:combined:macro.data",
                    f"{self.ready_name}:generic:ready.data",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            log.close()
            if self._wait_ready():
                return self
            self._terminate()
            if attempt == START_ATTEMPTS:
                self.stop()
                raise RuntimeError(f"rbldnsd did not start:\n{self.log_text()[-2000:]}")
        raise AssertionError("unreachable")

    def replace(self, dataset: str) -> None:
        """Atomically replace the data file (rbldnsd reloads it within ~1 s)."""
        self.dataset = dataset
        write_dataset(self.data_file, dataset)

    def txt(self, name: str, timeout: float = 0.5) -> tuple[int, list[bytes]]:
        """(rcode, TXT answers) of one query straight to rbldnsd."""
        response = dns.query.udp(
            dns.message.make_query(name, dns.rdatatype.TXT), self.host, port=self.port,
            timeout=timeout,
        )  # fmt: skip
        texts = [
            b"".join(r.strings) for rrset in response.answer for r in rrset
            if rrset.rdtype == dns.rdatatype.TXT
        ]  # fmt: skip
        return response.rcode(), texts

    def log_text(self) -> str:
        try:
            return (self.directory / "rbldnsd.log").read_text(errors="replace")
        except (OSError, AssertionError):
            return ""

    def stop(self) -> None:
        self._terminate()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                if self.txt(self.ready_name, 0.25)[1] == [self._token.encode()]:
                    return True
            except (dns.exception.DNSException, OSError):
                pass
            time.sleep(0.02)
        return False

    def _terminate(self) -> None:
        process, self._process = self._process, None
        stop_process(process)


class MacroBindServer(BindServer):
    """BIND serving ``"."`` zonedata and forwarding the macro zone to rbldnsd."""

    def __init__(self, rbldnsd_port: int, zone: str, **kwargs: Any) -> None:
        kwargs.setdefault("ttl", 1)
        super().__init__({".": {}}, **kwargs)
        self.rbldnsd_port = rbldnsd_port
        self.macro_zone = zone.rstrip(".")

    def _write(self, only: set[str] | None = None) -> None:
        super()._write(only)
        zone = self.macro_zone
        root_file = self.directory / self._files["."][0]
        with root_file.open("a", encoding="ascii") as handle:
            # The delegation a forward zone beneath an authoritative zone needs; its glue
            # is loopback too.
            handle.write(f"{zone}. 1 IN NS ns.{zone}.\nns.{zone}. 1 IN A {HOST}\n")
        conf = self.directory / "named.conf"
        text = conf.read_text(encoding="ascii").replace(
            "recursion no;",
            f"recursion yes; allow-recursion {{ {HOST}; }}; max-cache-ttl 1; max-ncache-ttl 1;",
        )
        text += (
            f'zone "{zone}" {{ type forward; forward only; '
            f"forwarders {{ {HOST} port {self.rbldnsd_port}; }}; }};\n"
        )
        conf.write_text(text, encoding="ascii")
