"""Daemon soak: many domains sharing services, upstream IPs rotating, the daemon keeping up.

``--domains`` domains (1,000) share ``--services`` sending services (20), each domain using
3 to 6 of them. Every service is an include tree on a loopback DNS server (127.0.0.1, UDP,
answers with a ``--ttl`` of a few seconds)::

    _spf.svcNN.soak.test  v=spf1 include:_nb1.svcNN.soak.test include:_nb2.svcNN.soak.test -all
    _nb1.svcNN.soak.test  fixed ranges (ip4 and ip6)
    _nb2.svcNN.soak.test  v=spf1 ip4:10.N.G.0/26 -all      <- G rotates

The daemon — APScheduler :class:`~spfmanager.daemon.scheduler.Daemon` over a
:class:`~spfmanager.daemon.runner.Runner`, wired as ``spfmanager daemon`` wires them (the
CLI's live resolver shared between passes, a lease per domain, logs and metrics observers) —
runs in its own process, publishing to one zone file per domain with a SQLite state store
in a temporary directory. Every ``--change-every`` seconds for ``--minutes`` one service's
rotating range moves to a fresh /26 (services in turn).

Measured, from outside the daemon:

* **change -> publish**: for each (change, affected domain) the time from the DNS server
  serving the new range to the domain's zone file authorizing it and no longer the old one
  (the zone file is parsed and the SPF evaluator run against it, following its chain);
* **DNS queries per pass**, counted at the server, against what the same pass would cost
  if every domain resolved its own services (``unshared``: domains x the names of their
  services); and the most queries one name got in one pass;
* **passes**: how many, domains per pass, run duration (vs. the interval);
* **memory**: the daemon process's VmRSS (``/proc/PID/status``) at launch, when the soak
  starts (after the first full publish) and at the end; the end/start ratio.

Run from the repository root::

    python -m benchmarks.bench_daemon_soak               # the defaults: 1,000 x 20, 3 minutes
    python -m benchmarks.bench_daemon_soak --minutes 5 --change-every 3
    python -m benchmarks.bench_daemon_soak --json
    python -m benchmarks.bench_daemon_soak --quick       # smoke run: 8 domains, ~15 s

Nothing leaves 127.0.0.1; every wait is bounded, and the two child processes (DNS server,
daemon) end with the benchmark (the DNS server also when its parent dies).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import yaml
from dns.rdtypes.ANY.TXT import TXT

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import spfmanager
from benchmarks.machine import status_kib
from spfmanager.cli.runs import resolver_factory
from spfmanager.daemon.metrics import Metrics
from spfmanager.daemon.observers import standard_observers
from spfmanager.daemon.runner import DomainRun, Runner
from spfmanager.daemon.scheduler import Daemon
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.publish.workflow import Workspace
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.results import Result

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
ORIGIN = "soak.test"  # RFC 6761: never a real name
NAMES_PER_SERVICE = 3  # _spf, _nb1, _nb2: TXT queries one service costs when not shared
MIN_SERVICES, MAX_SERVICES = 3, 6  # per domain
ROTATIONS = 240  # distinct /26 positions per service: 10.N.8.0 .. 10.N.247.0
POLL = 0.2  # seconds between looks at the zone files and the daemon's reports
START_TIMEOUT = 120.0  # a child process must be up within this
STOP_TIMEOUT = 40.0  # the daemon finishes its running domain within this on stop
UDP_LIMIT = 512  # every answer must fit one classic UDP message (the server has no TCP)


@dataclass(frozen=True)
class Settings:
    domains: int = 1000
    services: int = 20
    minutes: float = 3.0
    change_every: float = 5.0  # seconds between upstream changes
    interval: float = 60.0  # schedule.interval of every domain
    ttl: int = 15  # TTL of the upstream answers: domains are re-checked when it expires
    min_interval: float = 10.0  # schedule.min_interval
    drain: float | None = None  # seconds to wait for the last changes (default: derived)
    mixes: int = 0  # domains draw their services from this many sets; 0: each its own draw
    quick: bool = False
    seed: int = 7

    def validate(self) -> None:
        if not 1 <= self.services <= 200:
            raise ValueError("--services must be 1..200 (one 10.N.0.0/16 each)")
        if self.domains < 1:
            raise ValueError("--domains must be at least 1")
        if self.change_every <= 0 or self.minutes <= 0 or self.interval <= 0 or self.ttl < 1:
            raise ValueError("--minutes, --change-every, --interval and --ttl must be positive")
        if self.mixes < 0:
            raise ValueError("--mixes must be 0 (every domain its own draw) or more")
        if self.min_interval > self.interval:
            raise ValueError("--min-interval must not exceed --interval")

    @property
    def warm_seconds(self) -> float:
        """How long the first publish of every domain may take."""
        return max(START_TIMEOUT, 2.0 * self.domains)

    @property
    def drain_seconds(self) -> float:
        """How long to wait after the last change for its domains to publish."""
        if self.drain is not None:
            return self.drain
        return self.interval + self.ttl + 60.0


QUICK = Settings(
    domains=8,
    services=4,
    minutes=0.25,
    change_every=2.0,
    interval=6.0,
    ttl=2,
    min_interval=2.0,
    drain=20.0,
    quick=True,
)


# -- the upstream: services, their records, rotations --------------------------------------


def service_id(index: int) -> str:
    return f"svc{index:02d}"


def service_include(index: int) -> str:
    return f"_spf.{service_id(index)}.{ORIGIN}"


def rotating_name(index: int) -> str:
    return f"_nb2.{service_id(index)}.{ORIGIN}"


def rotating_range(index: int, generation: int) -> str:
    """The /26 service ``index`` (1-based) sends from at ``generation``: one per /24, far
    from its fixed 10.N.0.0/22, so no two generations can merge in a flattened record."""
    return f"10.{index}.{8 + generation % ROTATIONS}.0/26"


def probe(index: int, generation: int) -> str:
    """An address inside the rotating range of ``generation``."""
    return f"10.{index}.{8 + generation % ROTATIONS}.1"


def upstream_records(services: int, generations: Mapping[int, int]) -> dict[str, list[str]]:
    """Every TXT record the DNS server serves, by name."""
    records: dict[str, list[str]] = {}
    for index in range(1, services + 1):
        sid = service_id(index)
        records[service_include(index)] = [
            f"v=spf1 include:_nb1.{sid}.{ORIGIN} include:_nb2.{sid}.{ORIGIN} -all"
        ]
        records[f"_nb1.{sid}.{ORIGIN}"] = [
            f"v=spf1 ip4:10.{index}.0.0/22 ip4:172.16.{index}.0/24 ip4:192.168.{index}.0/25 "
            f"ip6:2001:db8:{index:x}::/48 ip6:2001:db8:ff{index:02x}::/56 -all"
        ]
        records[rotating_name(index)] = [
            f"v=spf1 ip4:{rotating_range(index, generations.get(index, 0))} -all"
        ]
    return records


def domain_services(settings: Settings) -> dict[str, list[int]]:
    """Each domain's services (1-based indexes), 3 to 6 of them, deterministic for the seed;
    with ``mixes`` the domains share that many distinct sets (round robin)."""
    rng = random.Random(settings.seed)

    def draw() -> list[int]:
        count = min(settings.services, rng.randint(MIN_SERVICES, MAX_SERVICES))
        return sorted(rng.sample(range(1, settings.services + 1), count))

    mixes = [draw() for _ in range(settings.mixes)]
    width = len(str(settings.domains))
    return {
        f"c{number:0{width}d}.example": mixes[number % len(mixes)] if mixes else draw()
        for number in range(settings.domains)
    }


def write_config(directory: Path, settings: Settings, assigned: Mapping[str, list[int]]) -> Path:
    """``spfmanager.yaml``: one zone file per domain, SQLite state, a short schedule."""
    config: dict[str, Any] = {
        "defaults": {
            "policy": "-all",
            "ttl": 60,  # the published records' TTL: retired chain names go within the soak
            "provider": "local",
            "schedule": {
                "interval": settings.interval,
                "jitter": 0,
                "min_interval": settings.min_interval,
            },
        },
        "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
        "state": {"url": "sqlite:///state.db"},
        "services": {
            service_id(i): {"name": f"Soak service {i}", "include": [service_include(i)]}
            for i in range(1, settings.services + 1)
        },
        "domains": {
            domain: {"services": [service_id(i) for i in services]}
            for domain, services in assigned.items()
        },
    }
    path = directory / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# -- the loopback DNS server (its own process) ---------------------------------------------


def _txt_rrset(name: str, values: Sequence[str], ttl: int) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(dns.name.from_text(name), dns.rdataclass.IN, dns.rdatatype.TXT)
    for value in values:
        raw = value.encode("ascii")
        chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)]
        rrset.add(TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks), ttl)
    return rrset


def answer(
    query: dns.message.Message, records: Mapping[str, Sequence[str]], ttl: int
) -> dns.message.Message:
    """An authoritative answer for ``ORIGIN`` from ``records`` (TXT only)."""
    response = dns.message.make_response(query)
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    name = question.name.to_text().rstrip(".").lower()
    if name != ORIGIN and not name.endswith("." + ORIGIN):
        response.set_rcode(dns.rcode.REFUSED)
        return response
    response.flags |= dns.flags.AA
    values = records.get(name)
    if values and question.rdtype == dns.rdatatype.TXT:
        response.answer.append(_txt_rrset(name, values, ttl))
        return response
    soa = dns.rrset.from_text(
        ORIGIN + ".", ttl, "IN", "SOA", f"ns.{ORIGIN}. hostmaster.{ORIGIN}. 1 3600 600 86400 {ttl}"
    )
    response.authority.append(soa)
    if values is None and name != ORIGIN:
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response


def _dns_main(conn: Connection, records: dict[str, list[str]], ttl: int) -> None:
    """The DNS server process: UDP on 127.0.0.1, commands over ``conn``.

    Commands: ``("set", name, values)`` (acknowledged once served), ``("drain",)`` (the
    queries since the last drain, as (monotonic time, name)), ``("stop",)``. Ends on stop,
    when the parent closes the pipe, or when the parent dies.
    """
    parent = os.getppid()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.settimeout(0.05)
    lock = threading.Lock()
    asked: list[tuple[float, str]] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, client = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue
            name = query.question[0].name.to_text().rstrip(".").lower() if query.question else ""
            with lock:
                asked.append((time.monotonic(), name))
                response = answer(query, records, ttl)
            with suppress(OSError):
                sock.sendto(response.to_wire(max_size=65535), client)

    thread = threading.Thread(target=serve, name="soak-dns", daemon=True)
    thread.start()
    conn.send(sock.getsockname()[1])
    try:
        while os.getppid() == parent:
            if not conn.poll(1.0):
                continue
            command = conn.recv()
            if command[0] == "set":
                with lock:
                    records[command[1]] = list(command[2])
                conn.send(True)
            elif command[0] == "drain":
                with lock:
                    taken = asked[:]
                    asked.clear()
                conn.send(taken)
            else:
                break
    except (EOFError, OSError):
        pass
    finally:
        stop.set()
        thread.join(2.0)
        sock.close()


class DNSServer:
    """The DNS server process, seen from the benchmark."""

    def __init__(self, records: dict[str, list[str]], ttl: int) -> None:
        for name, values in records.items():
            size = len(dns.message.make_query(name, "TXT").to_wire()) + sum(
                len(v) + 40 for v in values
            )
            if size > UDP_LIMIT:
                raise ValueError(f"{name}: the answer would not fit {UDP_LIMIT} bytes")
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_dns_main, args=(child, records, ttl), name="soak-dns", daemon=True
        )
        self._process.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT):
            self.close()
            raise RuntimeError("the DNS server did not start")
        self.port: int = self._conn.recv()
        self.queries: list[tuple[float, str]] = []

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def set(self, name: str, values: Sequence[str]) -> None:
        self._conn.send(("set", name, list(values)))
        if not self._conn.poll(10.0) or self._conn.recv() is not True:
            raise RuntimeError(f"the DNS server did not take the change of {name}")

    def drain(self) -> None:
        """Collect the queries received since the last drain into :attr:`queries`."""
        self._conn.send(("drain",))
        if not self._conn.poll(10.0):
            raise RuntimeError("the DNS server does not answer")
        self.queries.extend(self._conn.recv())

    def close(self) -> None:
        with suppress(OSError, BrokenPipeError):
            self._conn.send(("stop",))
        self._process.join(5.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5.0)
        self._conn.close()


# -- the daemon (its own process) -----------------------------------------------------------


def rss_kib(pid: int | str = "self") -> int | None:
    """VmRSS of process ``pid`` in KiB (None when it is gone or /proc is not there)."""
    return status_kib("VmRSS", pid)


def cpu_seconds(pid: int | str = "self") -> float | None:
    """User plus system CPU time of process ``pid`` (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    # fields[0] is the state (field 3 of proc(5)): utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Reporter:
    """Sends the daemon's reports to the benchmark; safe from any thread."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, report: dict[str, Any]) -> None:
        with self._lock, suppress(OSError, BrokenPipeError):
            self._conn.send(report)


class TimedRunner(Runner):
    """The daemon's Runner, reporting each pass: when, how long, outcomes, memory."""

    def __init__(self, *args: Any, report: Callable[[dict[str, Any]], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.report = report

    def run(
        self, domains: Collection[str] | None = None, *, stop: threading.Event | None = None
    ) -> list[DomainRun]:
        started = time.monotonic()
        runs = super().run(domains, stop=stop)
        finished = time.monotonic()
        failures = [f"{r.domain}: {r.outcome.value}: {r.reason}" for r in runs if r.cause]
        self.report(
            {
                "event": "pass",
                "started": started,
                "finished": finished,
                "domains": sorted(r.domain for r in runs),
                "outcomes": dict(Counter(r.outcome.value for r in runs)),
                "failures": failures[:5],
                "min_ttl": min((r.min_ttl for r in runs if r.min_ttl is not None), default=None),
                "rss_kib": rss_kib(),
            }
        )
        return runs


def _daemon_main(
    config_path: str, port: int, conn: Connection, stop: EventType, lifetime: float
) -> None:
    """The daemon process: what ``spfmanager daemon -c CONFIG --nameserver 127.0.0.1
    --port PORT`` builds, with a Runner that reports its passes. Ends when ``stop`` is set,
    when the parent dies, or after ``lifetime`` seconds whatever happens."""
    parent = os.getppid()
    deadline = time.monotonic() + lifetime
    logging.basicConfig(level=logging.WARNING, format="daemon: %(levelname)s %(message)s")
    reporter = _Reporter(conn)
    reporter.send({"event": "launched", "rss_kib": rss_kib()})
    config = Path(config_path)
    workspace = Workspace.load(config, SnapshotResolver({}))
    schedules = {intent.domain: intent.schedule for intent in workspace.intents}
    # As spfmanager.cli.daemon: a domain stays this instance's for just under its interval.
    lease = max(1.0, min(s.interval for s in schedules.values()) * 0.9)
    runner = TimedRunner(
        config,
        resolver_factory(None, [HOST], port),
        instance=f"soak:{os.getpid()}",
        lease=lease,
        observers=standard_observers(
            workspace.config.notifications, config.parent, metrics=Metrics()
        ),
        report=reporter.send,
    )
    daemon = Daemon(runner, schedules)
    daemon.start()
    reporter.send({"event": "started", "rss_kib": rss_kib()})
    try:
        while not stop.wait(0.5):
            if os.getppid() != parent or time.monotonic() > deadline or not daemon.running:
                break
    finally:
        finished = daemon.stop(STOP_TIMEOUT - 10.0)
        reporter.send({"event": "stopped", "finished": finished, "rss_kib": rss_kib()})


class DaemonProcess:
    """The daemon process, seen from the benchmark: its reports arrive on :meth:`reports`."""

    def __init__(self, config: Path, port: int, lifetime: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe(duplex=False)
        self._stop = context.Event()
        self._process: SpawnProcess = context.Process(
            target=_daemon_main,
            args=(str(config), port, child, self._stop, lifetime),
            name="soak-daemon",
        )
        self._process.start()
        child.close()
        self.stop_seconds: float | None = None

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def alive(self) -> bool:
        return self._process.is_alive()

    def reports(self, timeout: float = 0.0) -> Iterator[dict[str, Any]]:
        """The reports waiting (after up to ``timeout`` for the first)."""
        wait = timeout
        while self._conn.poll(wait):
            try:
                yield self._conn.recv()
            except EOFError:
                return
            wait = 0.0

    def stop(self) -> list[dict[str, Any]]:
        """Stop the daemon (it finishes the running domain); the reports sent meanwhile.
        :attr:`stop_seconds`: how long it took the process to end."""
        self._stop.set()
        asked = time.monotonic()
        reports: list[dict[str, Any]] = []
        deadline = time.monotonic() + STOP_TIMEOUT
        while self._process.is_alive() and time.monotonic() < deadline:
            reports += self.reports(POLL)
        reports += self.reports()
        if self._process.is_alive():
            log.warning("the daemon did not stop within %.0f s: terminating it", STOP_TIMEOUT)
            self._process.terminate()
            self._process.join(5.0)
        if self._process.is_alive():
            self._process.kill()
        self._process.join(5.0)
        self.stop_seconds = time.monotonic() - asked
        self._conn.close()
        return reports


# -- watching the zone files ----------------------------------------------------------------


def zone_records(path: Path, origin: str) -> dict[str, list[list[str]]]:
    """The TXT records of a zone file (name -> values, each a list of strings)."""
    zone = dns.zone.from_file(str(path), origin=origin, relativize=False, check_origin=False)
    records: dict[str, list[list[str]]] = {}
    for name, rdataset in zone.iterate_rdatasets(dns.rdatatype.TXT):
        owner = name.to_text().rstrip(".").lower()
        for rdata in rdataset:
            strings = [s.decode("latin-1") for s in rdata.strings]
            records.setdefault(owner, []).append(strings)
    return records


def authorizes(records: Mapping[str, list[list[str]]], domain: str, ip: str) -> bool:
    """Whether a receiver evaluating ``domain`` against ``records`` alone passes ``ip``
    (a published chain is followed; anything outside the zone file is NXDOMAIN)."""
    zonedata = {name: [{"TXT": strings} for strings in values] for name, values in records.items()}
    outcome = evaluate(ip, f"postmaster@{domain}", domain, resolver=SnapshotResolver(zonedata))
    return outcome.result is Result.PASS


@dataclass
class Change:
    """One upstream change: a service's rotating range moved."""

    number: int
    service: int
    generation: int
    at: float  # time.monotonic() when the DNS server served it
    new_probe: str
    old_probe: str | None
    affected: int
    published: dict[str, float] = field(default_factory=dict)  # domain -> seconds
    superseded: set[str] = field(default_factory=set)


@dataclass
class _Watch:
    change: Change
    domain: str


class Watcher:
    """Looks at zone files that changed since last seen, for the changes they wait for."""

    def __init__(self, zones: Path) -> None:
        self.zones = zones
        self.pending: dict[str, list[_Watch]] = {}
        self._seen: dict[str, tuple[int, int] | None] = {}
        self.evaluations = 0

    def path(self, domain: str) -> Path:
        return self.zones / f"{domain}.zone"

    def signature(self, domain: str) -> tuple[int, int] | None:
        try:
            status = self.path(domain).stat()
        except FileNotFoundError:
            return None
        return status.st_ino, status.st_mtime_ns

    def expect(self, change: Change, domains: Collection[str]) -> None:
        """Wait for ``change`` in ``domains``. Call *before* the upstream changes: the
        files' current state is the baseline, so any later write is looked at."""
        for domain in domains:
            watches = self.pending.setdefault(domain, [])
            for watch in [w for w in watches if w.change.service == change.service]:
                watch.change.superseded.add(domain)
                watches.remove(watch)
            watches.append(_Watch(change, domain))
            if domain not in self._seen:
                self._seen[domain] = self.signature(domain)

    def check(self, now: float) -> None:
        """Every pending domain whose zone file was written since last seen."""
        for domain in list(self.pending):
            signature = self.signature(domain)
            if signature is None or signature == self._seen.get(domain):
                continue
            self._seen[domain] = signature
            try:
                records = zone_records(self.path(domain), domain)
            except (OSError, dns.exception.DNSException):
                self._seen[domain] = None  # caught mid-write or unreadable: look again
                continue
            still: list[_Watch] = []
            for watch in self.pending[domain]:
                change = watch.change
                self.evaluations += 1
                done = authorizes(records, domain, change.new_probe) and (
                    change.old_probe is None or not authorizes(records, domain, change.old_probe)
                )
                if done:
                    change.published[domain] = now - change.at
                else:
                    still.append(watch)
            if still:
                self.pending[domain] = still
            else:
                del self.pending[domain]

    def waiting(self) -> int:
        return sum(len(w) for w in self.pending.values())


# -- the soak ---------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """median, p95 and max (None when there are no values)."""
    if not values:
        return {"median": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(p95, 3),
        "max": round(ordered[-1], 3),
    }


@dataclass
class _Pass:
    started: float
    finished: float
    domains: list[str]
    outcomes: dict[str, int]
    failures: list[str]
    rss_kib: int | None
    min_ttl: int | None
    soak: bool  # started after the soak began (not the first publish)

    @property
    def seconds(self) -> float:
        return self.finished - self.started


class Soak:
    """One run of the benchmark; :meth:`run` returns the report."""

    def __init__(self, settings: Settings, directory: Path) -> None:
        settings.validate()
        self.settings = settings
        self.directory = directory
        self.assigned = domain_services(settings)
        self.users: dict[int, list[str]] = {}
        for domain, services in self.assigned.items():
            for index in services:
                self.users.setdefault(index, []).append(domain)
        self.generations: dict[int, int] = {i: 0 for i in range(1, settings.services + 1)}
        self.passes: list[_Pass] = []
        self.changes: list[Change] = []
        self.problems: list[str] = []
        self.rss: dict[str, int | None] = {}
        self.rss_samples: list[int] = []
        self.soak_started: float | None = None
        self.cpu: dict[str, float | None] = {}
        self.stop_seconds: float | None = None
        # The daemon process ends by itself after this, whatever happens here.
        self.lifetime = (
            START_TIMEOUT
            + settings.warm_seconds
            + settings.minutes * 60.0
            + settings.drain_seconds
            + STOP_TIMEOUT
        )

    def _take(self, reports: Iterator[dict[str, Any]]) -> None:
        for report in reports:
            event = report.get("event")
            if event in ("launched", "started", "stopped"):
                self.rss[f"{event}"] = report.get("rss_kib")
                if event == "stopped" and not report.get("finished"):
                    self.problems.append("the daemon's running pass did not finish on stop")
                continue
            if event != "pass":
                continue
            started = float(report["started"])
            self.passes.append(
                _Pass(
                    started=started,
                    finished=float(report["finished"]),
                    domains=list(report["domains"]),
                    outcomes=dict(report["outcomes"]),
                    failures=list(report["failures"]),
                    rss_kib=report.get("rss_kib"),
                    min_ttl=report.get("min_ttl"),
                    soak=self.soak_started is not None and started >= self.soak_started,
                )
            )
            for failure in report["failures"]:
                if len(self.problems) < 20:
                    self.problems.append(f"pass failure: {failure}")

    def _sample_rss(self, pid: int) -> None:
        value = rss_kib(pid)
        if value is not None:
            self.rss_samples.append(value)

    def rotate(self, server: DNSServer, watcher: Watcher, index: int) -> Change:
        """Move service ``index``'s rotating range to its next /26."""
        old = self.generations[index]
        new = old + 1
        users = self.users.get(index, [])
        change = Change(
            number=len(self.changes) + 1,
            service=index,
            generation=new,
            at=0.0,
            new_probe=probe(index, new),
            old_probe=probe(index, old),
            affected=len(users),
        )
        watcher.expect(change, users)
        server.set(rotating_name(index), [f"v=spf1 ip4:{rotating_range(index, new)} -all"])
        change.at = time.monotonic()
        self.generations[index] = new
        self.changes.append(change)
        return change

    def run(self) -> dict[str, Any]:
        settings = self.settings
        config = write_config(self.directory, settings, self.assigned)
        watcher = Watcher(self.directory / "zones")
        records = upstream_records(settings.services, self.generations)
        began = time.monotonic()
        server = DNSServer(records, settings.ttl)
        try:
            daemon = DaemonProcess(config, server.port, self.lifetime)
            try:
                report = self._drive(server, daemon, watcher, began)
            finally:
                self._take(iter(daemon.stop()))
                self.stop_seconds = daemon.stop_seconds
        finally:
            with suppress(RuntimeError, OSError):
                server.drain()
            server.close()
        return self._report(report, server, watcher, time.monotonic() - began)

    def _drive(
        self, server: DNSServer, daemon: DaemonProcess, watcher: Watcher, began: float
    ) -> dict[str, Any]:
        settings = self.settings
        # The first publish: every domain, with every service at generation 0.
        first = Change(0, 0, 0, time.monotonic(), "", None, len(self.assigned))
        for domain, services in self.assigned.items():
            for index in services:
                watch = Change(0, index, 0, first.at, probe(index, 0), None, 1)
                watcher.expect(watch, [domain])
        warm_deadline = time.monotonic() + settings.warm_seconds
        while watcher.waiting() and time.monotonic() < warm_deadline:
            self._take(daemon.reports(POLL))
            if not daemon.alive():
                raise RuntimeError("the daemon process ended during the first publish")
            watcher.check(time.monotonic())
        warm = {
            "seconds": round(time.monotonic() - first.at, 2),
            "domains_published": settings.domains - len(watcher.pending),
            "passes": len(self.passes),
        }
        if watcher.pending:
            self.problems.append(
                f"{len(watcher.pending)} domain(s) not published by the first passes"
            )
            watcher.pending.clear()
        server.drain()
        self._take(daemon.reports())
        self.soak_started = time.monotonic()
        self.rss["soak_start"] = rss_kib(daemon.pid)
        cpu_start = self._cpu(daemon, server)
        # The soak: one service rotates every change_every seconds, in turn.
        end = self.soak_started + settings.minutes * 60.0
        next_change = self.soak_started
        next_drain = self.soak_started + 1.0
        index = 0
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_change:
                self.rotate(server, watcher, index % settings.services + 1)
                index += 1
                next_change += settings.change_every
            self._take(daemon.reports(POLL))
            watcher.check(time.monotonic())
            if time.monotonic() >= next_drain:
                server.drain()
                self._sample_rss(daemon.pid)
                next_drain += 1.0
            if not daemon.alive():
                self.problems.append("the daemon process ended during the soak")
                break
        # Drain: the last changes get their chance to publish.
        deadline = time.monotonic() + settings.drain_seconds
        while watcher.waiting() and time.monotonic() < deadline and daemon.alive():
            self._take(daemon.reports(POLL))
            watcher.check(time.monotonic())
        self._take(daemon.reports())
        self.rss["end"] = rss_kib(daemon.pid)
        cpu_end = self._cpu(daemon, server)
        wall = time.monotonic() - self.soak_started
        for key, value in cpu_end.items():
            before = cpu_start.get(key)
            used = None if value is None or before is None else value - before
            self.cpu[key] = None if used is None else round(used, 1)
            self.cpu[f"{key}_share_of_one_core"] = None if used is None else round(used / wall, 3)
        server.drain()
        return warm

    @staticmethod
    def _cpu(daemon: DaemonProcess, server: DNSServer) -> dict[str, float | None]:
        return {
            "daemon": cpu_seconds(daemon.pid),
            "dns_server": cpu_seconds(server.pid),
            "benchmark": time.process_time(),
        }

    def _report(
        self, warm: dict[str, Any], server: DNSServer, watcher: Watcher, elapsed: float
    ) -> dict[str, Any]:
        settings = self.settings
        latencies = [s for c in self.changes for s in c.published.values()]
        per_change = [
            max(c.published.values())
            for c in self.changes
            if c.published and len(c.published) + len(c.superseded) == c.affected
        ]
        affected = sum(c.affected for c in self.changes)
        superseded = sum(len(c.superseded) for c in self.changes)
        missed = affected - len(latencies) - superseded
        if missed:
            self.problems.append(f"{missed} (change, domain) pair(s) never published")
        soak_passes = [p for p in self.passes if p.soak]
        times = [t for t, _ in server.queries]
        names = [n for _, n in server.queries]
        per_pass: list[int] = []
        unshared: list[int] = []
        busiest = 0
        inside = 0
        for item in self.passes:
            low, high = bisect_left(times, item.started), bisect_right(times, item.finished)
            inside += high - low
            if not item.soak:
                continue
            per_pass.append(high - low)
            unshared.append(
                sum(len(self.assigned.get(d, ())) for d in item.domains) * NAMES_PER_SERVICE
            )
            counts = Counter(names[low:high])
            busiest = max(busiest, max(counts.values(), default=0))
        outcomes: Counter[str] = Counter()
        for item in soak_passes:
            outcomes.update(item.outcomes)
        durations = [p.seconds for p in soak_passes]
        full = [n for n, p in zip(per_pass, soak_passes, strict=True) if len(p.domains) > 0]
        start, end = self.rss.get("soak_start"), self.rss.get("end")
        ratio = round(end / start, 3) if start and end else None
        total_unshared = sum(unshared)
        report: dict[str, Any] = {
            "benchmark": "daemon-soak",
            "quick": settings.quick,
            "settings": {k: v for k, v in asdict(settings).items() if k != "quick"},
            "environment": {
                "python": platform.python_version(),
                "spfmanager": spfmanager.__version__,
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "elapsed_seconds": round(elapsed, 1),
            "domains": settings.domains,
            "services": settings.services,
            "services_per_domain": round(
                statistics.mean(len(s) for s in self.assigned.values()), 2
            ),
            "distinct_service_sets": len({tuple(s) for s in self.assigned.values()}),
            "first_publish": warm,
            "changes": {
                "made": len(self.changes),
                "affected_pairs": affected,
                "published": len(latencies),
                "superseded": superseded,
                "missed": missed,
                "latency_seconds": summary(latencies),
                "all_affected_published_seconds": summary(per_change),
            },
            "passes": {
                "count": len(soak_passes),
                "domains_per_pass": summary([len(p.domains) for p in soak_passes]),
                "duration_seconds": summary(durations),
                "longer_than_interval": sum(1 for d in durations if d > settings.interval),
                "outcomes": dict(sorted(outcomes.items())),
                "first_publish_pass_seconds": summary(
                    [p.seconds for p in self.passes if not p.soak]
                ),
            },
            "dns": {
                "queries_total": len(times),
                "queries_in_passes": inside,
                "queries_outside_passes": len(times) - inside,
                "queries_per_pass": summary([float(n) for n in full]),
                "unshared_per_pass": summary([float(n) for n in unshared]),
                "shared_ratio": round(sum(per_pass) / total_unshared, 5)
                if total_unshared
                else None,
                "most_queries_of_one_name_in_one_pass": busiest,
                "upstream_names": settings.services * NAMES_PER_SERVICE,
            },
            "memory": {
                "rss_launch_kib": self.rss.get("launched"),
                "rss_soak_start_kib": start,
                "rss_end_kib": end,
                "rss_peak_kib": max(self.rss_samples, default=None),
                "ratio_end_to_start": ratio,
            },
            "cpu_seconds_during_soak": self.cpu,
            "stop_seconds": None if self.stop_seconds is None else round(self.stop_seconds, 2),
            "rss_per_pass_kib": [p.rss_kib for p in self.passes],
            "watcher_evaluations": watcher.evaluations,
            "problems": self.problems,
        }
        report["ok"] = is_ok(report)
        return report


def is_ok(report: Mapping[str, Any]) -> bool:
    """Every change published everywhere, no failure, memory known and not grown past 1.5x."""
    changes, memory = report["changes"], report["memory"]
    ratio = memory["ratio_end_to_start"]
    return (
        changes["made"] > 0
        and changes["missed"] == 0
        and report["first_publish"]["domains_published"] == report["domains"]
        and not report["problems"]
        and ratio is not None
        and math.isfinite(ratio)
        and ratio < 1.5
    )


def run(settings: Settings) -> dict[str, Any]:
    """Run the soak in a temporary directory; the report as a JSON-able dict."""
    with tempfile.TemporaryDirectory(prefix="spfmanager-soak-") as directory:
        return Soak(settings, Path(directory)).run()


# -- output -----------------------------------------------------------------------------------


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}{unit}" if value < 10 else f"{value:,.1f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def _triple(values: Mapping[str, Any], unit: str = "") -> str:
    return " / ".join(_fmt(values[k], unit) for k in ("median", "p95", "max"))


def render(report: Mapping[str, Any]) -> str:
    """The report as a plain-text table."""
    s, c, p, d, m = (
        report["settings"],
        report["changes"],
        report["passes"],
        report["dns"],
        report["memory"],
    )
    ratio = d["shared_ratio"]
    rows = [
        (
            "setup",
            f"{report['domains']:,} domains x {report['services']} services "
            f"({report['services_per_domain']} per domain, "
            f"{report['distinct_service_sets']:,} distinct sets), interval {s['interval']:g} s, "
            f"upstream TTL {s['ttl']} s, a change every {s['change_every']:g} s "
            f"for {s['minutes']:g} min",
        ),
        (
            "first publish",
            f"{report['first_publish']['domains_published']:,} domains in "
            f"{report['first_publish']['seconds']:g} s",
        ),
        (
            "changes",
            f"{c['made']} made, {c['affected_pairs']:,} (change, domain) pairs: "
            f"{c['published']:,} published, {c['superseded']} superseded, {c['missed']} missed",
        ),
        ("change -> publish, per domain", _triple(c["latency_seconds"], " s")),
        ("change -> all affected published", _triple(c["all_affected_published_seconds"], " s")),
        ("passes", f"{p['count']} (domains per pass {_triple(p['domains_per_pass'])})"),
        ("pass duration", _triple(p["duration_seconds"], " s")),
        ("passes longer than the interval", _fmt(p["longer_than_interval"])),
        ("outcomes", ", ".join(f"{k} {v:,}" for k, v in p["outcomes"].items()) or "-"),
        ("DNS queries per pass", _triple(d["queries_per_pass"])),
        ("unshared (domains x their service names)", _triple(d["unshared_per_pass"])),
        ("shared / unshared", f"{ratio:.5f} (1/{1 / ratio:,.0f})" if ratio else "-"),
        ("most queries of one name in one pass", _fmt(d["most_queries_of_one_name_in_one_pass"])),
        ("queries outside passes", _fmt(d["queries_outside_passes"])),
        (
            "RSS launch / soak start / end / peak",
            " / ".join(
                _fmt(None if m[k] is None else round(m[k] / 1024, 1), " MiB")
                for k in ("rss_launch_kib", "rss_soak_start_kib", "rss_end_kib", "rss_peak_kib")
            ),
        ),
        ("RSS end / start", _fmt(m["ratio_end_to_start"])),
        (
            "CPU during the soak (share of a core)",
            ", ".join(
                f"{k} {_fmt(report['cpu_seconds_during_soak'].get(k + '_share_of_one_core'))}"
                for k in ("daemon", "dns_server", "benchmark")
            ),
        ),
        ("daemon stop (SIGTERM-like) took", _fmt(report["stop_seconds"], " s")),
        ("ok", "yes" if report["ok"] else "NO"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = ["spfmanager daemon soak (median / p95 / max)", ""]
    lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
    for problem in report["problems"]:
        lines.append(f"problem: {problem}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_daemon_soak",
        description=(__doc__ or "").splitlines()[0],
    )
    default = Settings()
    parser.add_argument("--domains", type=int, default=default.domains)
    parser.add_argument("--services", type=int, default=default.services)
    parser.add_argument("--minutes", type=float, default=default.minutes, help="soak length")
    parser.add_argument("--change-every", type=float, default=default.change_every, help="seconds")
    parser.add_argument("--interval", type=float, default=default.interval, help="seconds")
    parser.add_argument("--ttl", type=int, default=default.ttl, help="upstream TTL, seconds")
    parser.add_argument("--min-interval", type=float, default=default.min_interval)
    parser.add_argument(
        "--drain", type=float, default=None, help="seconds to wait for the last changes"
    )
    parser.add_argument(
        "--mixes", type=int, default=0, help="distinct service sets shared by the domains"
    )
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 domains, ~15 s")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.quick:
        settings = QUICK
    else:
        settings = Settings(
            domains=args.domains,
            services=args.services,
            minutes=args.minutes,
            change_every=args.change_every,
            interval=args.interval,
            ttl=args.ttl,
            min_interval=args.min_interval,
            drain=args.drain,
            mixes=args.mixes,
            seed=args.seed,
        )
    try:
        settings.validate()
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    report = run(settings)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
