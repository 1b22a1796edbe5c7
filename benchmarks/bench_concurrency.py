"""Concurrent DNS resolution: the 14-service example through a loopback DNS server with latency.

``bigcorp.example`` of ``examples/over-limit/spfmanager.yaml`` (14 services: 22 TXT names,
two include levels) is flattened by ``Flattener(LiveResolver(...), workers=W)`` against
:mod:`benchmarks.latency_dns`, a server on 127.0.0.1 serving that example's
``dns-snapshot.yaml`` and answering every query ``--rtt`` milliseconds after it arrived,
concurrent queries overlapping. Two modes: ``workers=1`` (sequential: one query in flight,
one RTT per name) and ``workers=16`` (concurrent: the include tree prefetched level by
level). For each: wall time, queries at the server, the most in flight at once, and the
bound ``(depth + 2) x RTT`` where depth is the include/redirect levels below the root (+1
for the addresses of MX exchanges), computed from the snapshot. Both modes must publish
the same records as an offline flatten of the snapshot, else the benchmark fails.

Run from the repository root::

    python -m benchmarks.bench_concurrency             # rich table, 50 ms RTT, 3 runs a mode
    python -m benchmarks.bench_concurrency --rtt 20 --repeat 5
    python -m benchmarks.bench_concurrency --json
    python -m benchmarks.bench_concurrency --quick     # smoke run: 5 ms RTT, one run a mode
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.latency_dns import LatencyDNSServer, ServerStats
from benchmarks.machine import environment
from spfmanager.cli.common import console
from spfmanager.compile import Intent, compile_file
from spfmanager.dns.base import Answer, Resolver, RRType
from spfmanager.dns.resolver import LiveResolver
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.flatten import Flattener, FlattenResult
from spfmanager.flatten.analyze import spf_record, static_target
from spfmanager.publish.build import flatten_intent
from spfmanager.spf.terms import MX, A, Exists, Include, Record, Redirect

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "over-limit"
DOMAIN = "bigcorp.example"
DEFAULT_RTT_MS = 50.0
QUICK_RTT_MS = 5.0
SEQUENTIAL, CONCURRENT = 1, 16  # workers; 16 is the Flattener's default
MODES = (("sequential", SEQUENTIAL), ("concurrent", CONCURRENT))
SLACK_RTTS = 2  # the bound: (depth + SLACK_RTTS) x RTT


class RecordsDiffer(AssertionError):
    """Two modes published different records: the benchmark's numbers mean nothing."""


# -- the workload ------------------------------------------------------------------------------


def load_intent() -> Intent:
    """``bigcorp.example``'s intent, compiled from the example's config."""
    _, intents = compile_file(EXAMPLE / "spfmanager.yaml")
    return next(i for i in intents if i.domain == DOMAIN)


def tree_depth(record: Record, domain: str, zonedata: Resolver) -> int:
    """Rounds of DNS queries below ``record``: each include/redirect level is one (the
    target's TXT), an ``a``/``exists`` adds none beyond its own level, an ``mx`` one more
    for its exchanges' addresses. Names with macros other than ``%{d}`` are skipped."""
    depth = 0
    level = [(record, domain)]
    seen: set[str] = set()
    rounds = 0
    while level:
        rounds += 1
        below: list[tuple[Record, str]] = []
        for current, name in level:
            for term in current.terms:
                if not isinstance(term, Include | Redirect | A | MX | Exists):
                    continue
                target = static_target(term.domain, name)
                if target is None:
                    continue
                depth = max(depth, rounds)
                if isinstance(term, MX) and zonedata.query(target, RRType.MX).records:
                    depth = max(depth, rounds + 1)
                if isinstance(term, Include | Redirect) and target not in seen:
                    seen.add(target)
                    child = spf_record(target, zonedata.query(target, RRType.TXT))
                    if isinstance(child, Record):
                        below.append((child, target))
        level = below
    return depth


class TimedResolver:
    """Passes queries through, noting when the last answer came back (thread safe)."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.last_answer = 0.0  # time.perf_counter() of the latest answer
        self._lock = threading.Lock()

    def query(self, name: str, rrtype: RRType) -> Answer:
        try:
            return self.resolver.query(name, rrtype)
        finally:
            now = time.perf_counter()
            with self._lock:
                self.last_answer = max(self.last_answer, now)


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds, the whole flatten
    dns: float  # seconds from its start to the last DNS answer


def flatten_once(intent: Intent, resolver: Resolver, workers: int) -> tuple[FlattenResult, Timing]:
    """One flatten by a fresh Flattener, and how long it took."""
    timed = TimedResolver(resolver)
    flattener = Flattener(timed, workers=workers)
    started = time.perf_counter()
    result = flatten_intent(flattener, intent)
    ended = time.perf_counter()
    return result, Timing(ended - started, max(0.0, timed.last_answer - started))


def _check_same(expected: Mapping[str, list[str]], got: Mapping[str, list[str]], what: str) -> None:
    if dict(got) != dict(expected):
        names = sorted(n for n in {*expected, *got} if expected.get(n) != got.get(n))
        raise RecordsDiffer(f"{what} published other records than the offline flatten at {names}")


# -- the run -----------------------------------------------------------------------------------


def run(
    *,
    rtt_ms: float | None = None,
    quick: bool = False,
    repeat: int | None = None,
    modes: Sequence[tuple[str, int]] = MODES,
) -> dict[str, Any]:
    """Measure every mode against one server; the report as a JSON-able dict.

    ``rtt_ms`` defaults to 50 (5 with ``quick``), ``repeat`` (runs per mode, the median
    reported) to 3 (1 with ``quick``). Raises :class:`RecordsDiffer` when a run publishes
    records other than the offline flatten's.
    """
    rtt_ms = (QUICK_RTT_MS if quick else DEFAULT_RTT_MS) if rtt_ms is None else rtt_ms
    repeat = (1 if quick else 3) if repeat is None else repeat
    if rtt_ms < 0 or repeat < 1:
        raise ValueError("--rtt must be at least 0 and --repeat at least 1")
    rtt = rtt_ms / 1000.0
    intent = load_intent()
    snapshot = EXAMPLE / "dns-snapshot.yaml"
    zonedata = SnapshotResolver.from_file(snapshot)
    depth = tree_depth(intent.record, intent.domain, zonedata)
    bound = (depth + SLACK_RTTS) * rtt
    # Offline, twice: the records every mode must publish, and the CPU part of a flatten
    # (the second run, with the process's parse caches warm as they are for the modes).
    offline = [flatten_once(intent, SnapshotResolver.from_file(snapshot), 1) for _ in range(2)]
    expected = offline[0][0].records
    rows: list[dict[str, Any]] = []
    with LatencyDNSServer(snapshot, rtt) as server:
        for mode, workers in modes:
            timings: list[Timing] = []
            stats: list[ServerStats] = []
            for _ in range(repeat):
                server.reset()
                resolver = LiveResolver(nameservers=[server.host], port=server.port, cache=False)
                result, timing = flatten_once(intent, resolver, workers)
                stats.append(server.stats())
                timings.append(timing)
                _check_same(expected, result.records, f"{mode} (workers={workers})")
            walls = [t.wall for t in timings]
            wall = statistics.median(walls)
            dns = statistics.median(t.dns for t in timings)
            rows.append(
                {
                    "mode": mode,
                    "workers": workers,
                    "wall_seconds": round(wall, 4),
                    "wall_seconds_runs": [round(w, 4) for w in walls],
                    "dns_seconds": round(dns, 4),  # to the last DNS answer
                    "after_dns_seconds": round(wall - dns, 4),
                    "queries": max(s.queries for s in stats),
                    "queries_runs": [s.queries for s in stats],
                    "tcp_queries": max(s.tcp for s in stats),
                    "max_in_flight": max(s.max_in_flight for s in stats),
                    "flattener_queries": result.dns_queries,
                    "depth": depth,
                    "bound_seconds": round(bound, 4),
                    "within_bound": wall <= bound,
                    "rtts": round(wall / rtt, 2) if rtt else None,
                    "names": stats[-1].names,
                }
            )
    by_mode = {row["mode"]: row for row in rows}
    sequential, concurrent = by_mode.get("sequential"), by_mode.get("concurrent")
    ratio = None
    if sequential and concurrent and concurrent["wall_seconds"]:
        ratio = round(sequential["wall_seconds"] / concurrent["wall_seconds"], 2)
    return {
        "benchmark": "concurrency",
        "quick": quick,
        "environment": environment(),
        "domain": intent.domain,
        "services": len({s.service for sources in intent.sources for s in sources if s.service}),
        "rtt_ms": rtt_ms,
        "repeat": repeat,
        "depth": depth,
        "bound_seconds": round(bound, 4),
        "offline_seconds": round(offline[1][1].wall, 4),
        "records": expected,
        "records_identical": True,  # else RecordsDiffer was raised
        "modes": rows,
        "sequential_over_concurrent": ratio,
    }


# -- output ------------------------------------------------------------------------------------


def render(report: Mapping[str, Any], console: Console) -> None:
    """The report as a rich table."""
    rtt = report["rtt_ms"]
    table = Table(
        title=(
            f"{report['domain']} ({report['services']} services, depth {report['depth']}) "
            f"through a loopback DNS server, RTT {rtt:g} ms; median of {report['repeat']}"
        )
    )
    columns = ("mode", "workers", "wall s", "RTTs", "DNS done s", "queries", "max in flight")
    for column in (*columns, "bound s"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    table.add_column("wall ≤ bound")
    for row in report["modes"]:
        table.add_row(
            row["mode"],
            str(row["workers"]),
            f"{row['wall_seconds']:.3f}",
            "-" if row["rtts"] is None else f"{row['rtts']:.1f}",
            f"{row['dns_seconds']:.3f}",
            f"{row['queries']}" + (f" ({row['tcp_queries']} TCP)" if row["tcp_queries"] else ""),
            str(row["max_in_flight"]),
            f"{row['bound_seconds']:.3f}",
            "[green]yes[/]" if row["within_bound"] else "[red]no[/]",
        )
    console.print(table)
    ratio = report["sequential_over_concurrent"]
    if ratio is not None:
        console.print(f"sequential / concurrent wall time: [bold]{ratio:.2f}x[/]")
    console.print(
        f"bound: (depth + {SLACK_RTTS}) x RTT; DNS done: from the start to the last DNS answer; "
        f"offline flatten (snapshot resolver, no network): {report['offline_seconds']:.3f} s; "
        f"records identical in every mode: yes ({len(report['records'])} records)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when the concurrent mode kept within its bound, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_concurrency",
        description=(__doc__ or "").splitlines()[0],
    )
    parser.add_argument("--rtt", type=float, default=None, help="milliseconds (default 50)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per mode (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 ms RTT, one run")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        report = run(rtt_ms=args.rtt, quick=args.quick, repeat=args.repeat)
    except ValueError as exc:
        parser.error(str(exc))
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        render(report, console())
    return 0 if all(r["within_bound"] for r in report["modes"] if r["workers"] > 1) else 1


if __name__ == "__main__":
    sys.exit(main())
