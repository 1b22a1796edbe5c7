"""The real receiver SPF libraries, driven in batch against a real DNS server on 127.0.0.1.

Usage::

    with ReceiverLab() as lab:
        outcomes = lab.run("mailspf", zonedata, [Query("192.0.2.1", "a@example.com", "h")])
        outcomes[0].result       # Result.PASS (the RFC 7208 name)
        outcomes[0].raw          # "pass" (the library's own name)

    run_batch("libspf2", zonedata, queries)   # -> ["pass", ...]; a lab of its own

``zonedata`` is the project's snapshot form (:mod:`spfmanager.dns.snapshot`), served by
BIND (:class:`tests.integration.bind.BindServer`, so with its limits: ``TIMEOUT`` cannot be
served and identical records of one name collapse into one RRset). Each implementation
answers a whole batch in one process:

========  ======================================  =========================================
impl      library                                 how it is driven
========  ======================================  =========================================
pyspf     PyPI ``pyspf`` (module ``spf``)         ``drivers/pyspf_driver.py``, dnspython's
                                                  default resolver set to 127.0.0.1:PORT
mailspf   Mail::SPF (Debian libmail-spf-perl)     ``drivers/mailspf_driver.pl``,
                                                  Net::DNS::Resolver on 127.0.0.1:PORT
libspf2   libspf2 ``spfquery`` (Debian spfquery)  ``drivers/libspf2_netns.py`` under
                                                  ``unshare --mount --net``: its own BIND
                                                  on 127.0.0.1:53, resolv.conf bind-mounted
mailauth  npm ``mailauth`` 4.13                   ``node/spf-driver.mjs``, a node Resolver
                                                  on 127.0.0.1:PORT passed as ``resolver``
========  ======================================  =========================================

Legacy result names are mapped to RFC 7208 ones (:data:`LEGACY_NAMES`). A library that
raises instead of returning a result (Mail::SPF does, through Net::DNS, for a label over 63
octets) gives ``Outcome.result`` None and the name :data:`EXCEPTION`: that is a finding,
not a result to guess. Any other name, or a driver that fails, times out or answers the
wrong number of queries, raises :class:`ReceiverError`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from spfmanager.dns.resolver import LiveResolver
from spfmanager.spf.results import Result
from tests.integration.bind import BindServer, named_binary

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
REPO = HERE.parent.parent
DRIVERS = HERE / "drivers"
NODE_DIR = HERE / "node"

IMPLEMENTATIONS = ("pyspf", "mailspf", "libspf2", "mailauth")
MIN_NODE_MAJOR = 20  # mailauth 4.13's engines: node >= 20.18.1

# Seconds a driver process may take: a start-up allowance plus a bound per query (each
# query's DNS answers come from loopback; nothing here should ever wait on a timeout).
START_TIMEOUT = 30.0
PER_QUERY_TIMEOUT = 3.0
NETNS_START_TIMEOUT = 60.0  # the libspf2 namespace starts a BIND of its own

# Each library's names for results, to RFC 7208 2.6's. Keys are lower-case.
LEGACY_NAMES: dict[str, dict[str, Result]] = {
    # pyspf in its default (strict) mode already reports RFC 7208 names; its RFC 4408
    # compatibility names are "error" and "unknown".
    "pyspf": {"error": Result.TEMPERROR, "unknown": Result.PERMERROR},
    # Mail::SPF::Result::Error is the base class of the two errors, never returned itself.
    "mailspf": {"error": Result.TEMPERROR},
    # SPF_RESULT_INVALID: libspf2's result for a record it could not compile (RFC 7208
    # 4.6: a syntax error is a permerror). Exim and the milters report it as "invalid".
    "libspf2": {"(invalid)": Result.PERMERROR},
    "mailauth": {},
}

EXCEPTION = "exception"  # the name of an outcome where the library raised (see above)

Zonedata = Mapping[str, Any]


class ReceiverError(RuntimeError):
    """A driver failed: it crashed, timed out, or its output did not parse."""


@dataclass(frozen=True)
class Query:
    """One SPF check: client address, MAIL FROM (empty: check the HELO name) and HELO."""

    ip: str
    mailfrom: str
    helo: str

    @property
    def data(self) -> dict[str, str]:
        return {"ip": self.ip, "mailfrom": self.mailfrom, "helo": self.helo}


@dataclass(frozen=True)
class Outcome:
    """One implementation's answer to one query."""

    result: Result | None  # the RFC 7208 result; None when the library raised
    raw: str  # the library's own name for it (or "exception")
    detail: str = ""  # its explanation, comment or error text

    @property
    def name(self) -> str:
        """The RFC 7208 result name, or ``"exception"``."""
        return EXCEPTION if self.result is None else self.result.value


@dataclass(frozen=True)
class Batch:
    """Queries to answer against one zonedata."""

    zonedata: Zonedata
    queries: tuple[Query, ...]


# -- availability ---------------------------------------------------------------------------


@functools.cache
def unavailable(impl: str) -> str | None:
    """Why ``impl`` cannot run here (what to install), or None when it can (checked once)."""
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"unknown implementation {impl!r} (known: {', '.join(IMPLEMENTATIONS)})")
    if named_binary() is None:
        return "BIND 9 `named` is not installed (apt-get install bind9)"
    if impl == "pyspf":
        if importlib.util.find_spec("spf") is None:
            return "pyspf is not installed (pip install pyspf)"
        return None
    if impl == "mailspf":
        if shutil.which("perl") is None:
            return "perl is not installed"
        check = subprocess.run(
            ["perl", "-MMail::SPF", "-MNet::DNS", "-MJSON::PP", "-e", "1"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if check.returncode:
            return "Mail::SPF is not installed (apt-get install libmail-spf-perl libnet-dns-perl)"
        return None
    if impl == "libspf2":
        for tool, package in (("spfquery.libspf2", "spfquery"), ("unshare", "util-linux")):
            if shutil.which(tool) is None:
                return f"`{tool}` is not installed (apt-get install {package})"
        if shutil.which("ip") is None:
            return "`ip` is not installed (apt-get install iproute2)"
        if os.geteuid() != 0:
            return "libspf2 runs in a private network namespace: needs root (unshare --net)"
        return None
    # mailauth
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs npm)"
    version = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    if _major(version) < MIN_NODE_MAJOR:
        return f"node {version or '?'} is too old: mailauth 4.13 needs Node >= 20.18.1"
    if not (NODE_DIR / "node_modules" / "mailauth").is_dir():
        return f"mailauth is not installed (cd {NODE_DIR} && npm ci)"
    return None


def _major(version: str) -> int:
    head = version.lstrip("v").split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def require(impl: str) -> None:
    """Skip the calling test, naming what to install, when ``impl`` cannot run here."""
    reason = unavailable(impl)
    if reason is not None:
        pytest.skip(f"{impl}: {reason}")


# -- running --------------------------------------------------------------------------------


class ReceiverLab:
    """A BIND server on 127.0.0.1 and the means to run each implementation against it.

    A context manager. :meth:`run_many` serves each batch's zonedata in turn; libspf2
    (port 53 only) runs all its batches in one private network namespace with a BIND of
    its own. :meth:`resolver` gives spfmanager's LiveResolver on the shared server, so that
    spfmanager can be evaluated over exactly the data the libraries saw.
    """

    def __init__(self) -> None:
        self._bind: BindServer | None = None

    def __enter__(self) -> ReceiverLab:
        self._bind = BindServer({".": {}}).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bind is not None:
            self._bind.stop()
            self._bind = None

    @property
    def bind(self) -> BindServer:
        if self._bind is None:
            raise ReceiverError("the lab is not started (use it as a context manager)")
        return self._bind

    def resolver(self) -> LiveResolver:
        """spfmanager's resolver on the shared server, without a cache."""
        return self.bind.resolver(cache=False)

    def serve(self, zonedata: Zonedata) -> None:
        """Serve ``zonedata`` on the shared server (a no-op when it already does)."""
        self.bind.load({".": zonedata})

    def run(self, impl: str, zonedata: Zonedata, queries: Sequence[Query]) -> list[Outcome]:
        """Each query's outcome from ``impl``, with ``zonedata`` served."""
        return self.run_many(impl, [Batch(zonedata, tuple(queries))])[0]

    def run_many(self, impl: str, batches: Sequence[Batch]) -> list[list[Outcome]]:
        """Each batch's outcomes from ``impl``: one driver process per batch (libspf2: one
        namespace for all of them)."""
        reason = unavailable(impl)
        if reason is not None:
            raise ReceiverError(f"{impl}: {reason}")
        if impl == "libspf2":
            raw = _run_libspf2(batches)
        else:
            raw = []
            for batch in batches:
                self.serve(batch.zonedata)
                raw.append(self._run_driver(impl, batch.queries))
        return [[_outcome(impl, item) for item in outcomes] for outcomes in raw]

    def _run_driver(self, impl: str, queries: Sequence[Query]) -> list[dict[str, str]]:
        port = str(self.bind.port)
        command = {
            "pyspf": [sys.executable, "-m", "tests.conformance.drivers.pyspf_driver", port],
            "mailspf": ["perl", str(DRIVERS / "mailspf_driver.pl"), port],
            "mailauth": ["node", str(NODE_DIR / "spf-driver.mjs"), port],
        }[impl]
        stdin = "".join(json.dumps(q.data) + "\n" for q in queries)
        timeout = START_TIMEOUT + PER_QUERY_TIMEOUT * len(queries)
        stdout = _communicate(impl, command, stdin, timeout)
        outcomes = [json.loads(line) for line in stdout.splitlines() if line.strip()]
        if len(outcomes) != len(queries):
            raise ReceiverError(f"{impl}: {len(outcomes)} answers for {len(queries)} queries")
        return outcomes


def netns_command(module: str) -> list[str]:
    """``python -m module`` in a private mount and network namespace (libspf2's lab: it
    reads only /etc/resolv.conf and port 53)."""
    return ["unshare", "--mount", "--net", "--", sys.executable, "-m", module]


def _run_libspf2(batches: Sequence[Batch]) -> list[list[dict[str, str]]]:
    job = {
        "batches": [
            {"zonedata": b.zonedata, "queries": [q.data for q in b.queries]} for b in batches
        ]
    }
    command = netns_command("tests.conformance.drivers.libspf2_netns")
    count = sum(len(b.queries) for b in batches)
    timeout = NETNS_START_TIMEOUT + 5.0 * len(batches) + PER_QUERY_TIMEOUT * count
    stdout = _communicate("libspf2", command, json.dumps(job), timeout)
    answer: dict[str, list[list[dict[str, str]]]] = json.loads(stdout)
    results = answer["batches"]
    if [len(r) for r in results] != [len(b.queries) for b in batches]:
        raise ReceiverError("libspf2: the namespace runner answered the wrong number of queries")
    return results


def _communicate(impl: str, command: list[str], stdin: str, timeout: float) -> str:
    try:
        completed = subprocess.run(
            command,
            input=stdin.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            cwd=REPO,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ReceiverError(f"{impl}: driver timed out after {timeout:.0f}s: {command}") from None
    if completed.returncode:
        err = completed.stderr.decode("utf-8", errors="replace")[-4000:]
        raise ReceiverError(f"{impl}: driver exited {completed.returncode}: {command}\n{err}")
    return completed.stdout.decode("utf-8", errors="replace")


def _outcome(impl: str, item: Mapping[str, str]) -> Outcome:
    raw = str(item["result"])
    key = raw.strip().lower()
    if key == EXCEPTION:
        return Outcome(None, raw, str(item.get("detail", "")))
    try:
        result = LEGACY_NAMES[impl].get(key) or Result(key)
    except ValueError:
        raise ReceiverError(
            f"{impl}: no RFC 7208 result for {raw!r}: {item.get('detail', '')}"
        ) from None
    return Outcome(result, raw, str(item.get("detail", "")))


def run_batch(impl: str, zonedata: Zonedata, queries: Sequence[Query]) -> list[str]:
    """The RFC 7208 result name of each query from ``impl`` (or ``"exception"``), from a
    lab of its own, started and stopped here; prefer one :class:`ReceiverLab` for many."""
    with ReceiverLab() as lab:
        return [o.name for o in lab.run(impl, zonedata, queries)]
