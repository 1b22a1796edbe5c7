"""Evaluations per second: ``spfmanager.evaluate`` against pyspf, same records, same DNS data.

Both sides answer from memory: spfmanager from a SnapshotResolver, pyspf through its
``spf.DNSLookup`` hook (see pyspf_zone.py). Each pyspf check is a fresh ``spf.query`` (its
cache lives in the query object); spfmanager keeps its per-process compiled-record cache,
as a long-running receiver or flattener would.

Run from the repository root::

    python -m benchmarks.bench_evaluate            # rich table
    python -m benchmarks.bench_evaluate --json     # for machines
    python -m benchmarks.bench_evaluate --quick    # smoke run, numbers not meaningful
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import spf
import yaml
from rich.console import Console
from rich.table import Table

import spfmanager
from spfmanager.spf.terms import IP4, IP6

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.pyspf_zone import PyspfZone, serve

SNAPSHOT = Path(__file__).resolve().parents[1] / "tests" / "data" / "provider-snapshot.yaml"
FLAT_DOMAIN = "flat.bench.test"
SMALL_DOMAIN = "small.bench.test"
HELO = "mail.client.test"
MAX_TXT_STRING = 255  # RFC 1035 3.3.14: one character-string of a TXT record
FLAT_TERMS = 60  # a large but publishable flattened record (about 1,500 bytes)
FLAT = "a flattened"  # the first FLAT_TERMS ip4/ip6 terms of the provider snapshot
INCLUDES = "b includes"  # mondialrelay.fr: nested includes of real providers
SMALL = "c small"  # ip4 + mx


@dataclass(frozen=True)
class Case:
    """One row: a sender domain and a client address."""

    record: str  # which record (a, b or c)
    position: str  # where the client matches: early, late, never
    domain: str
    ip: str


@dataclass(frozen=True)
class Measurement:
    record: str
    position: str
    domain: str
    ip: str
    result: str
    spfmanager_ops: float
    pyspf_ops: float

    @property
    def ratio(self) -> float:
        return self.spfmanager_ops / self.pyspf_ops if self.pyspf_ops else float("inf")

    @property
    def data(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 2)}


def load_zone() -> dict[str, list[Any]]:
    """The provider snapshot plus the benchmark's own flattened and small records."""
    zone: dict[str, list[Any]] = yaml.safe_load(SNAPSHOT.read_text(encoding="utf-8"))
    zone[FLAT_DOMAIN] = [{"TXT": split_txt(flattened_record(zone))}]
    zone[SMALL_DOMAIN] = [
        {"TXT": "v=spf1 ip4:198.51.100.0/24 mx -all"},
        {"MX": [10, "mx.small.bench.test"]},
    ]
    zone["mx.small.bench.test"] = [{"A": "198.51.100.250"}, {"AAAA": "2001:db8::25"}]
    return zone


def flattened_record(zone: dict[str, list[Any]]) -> str:
    """The snapshot's first FLAT_TERMS distinct ip4/ip6 terms, in snapshot order."""
    terms: dict[str, None] = {}
    for entries in zone.values():
        for entry in entries:
            text = entry.get("TXT") if isinstance(entry, dict) else None
            if not isinstance(text, str) or not text.lower().startswith("v=spf1"):
                continue
            for mechanism in spfmanager.parse_record(text).mechanisms:
                if isinstance(mechanism, IP4 | IP6):
                    terms[mechanism.render().lstrip("+")] = None
    return " ".join(["v=spf1", *list(terms)[:FLAT_TERMS], "-all"])


def split_txt(text: str) -> list[str]:
    """Cut a long record into 255-byte strings, as it would be published."""
    return [text[i : i + MAX_TXT_STRING] for i in range(0, len(text), MAX_TXT_STRING)]


def flat_terms(zone: dict[str, list[Any]]) -> int:
    return len(spfmanager.parse_record("".join(zone[FLAT_DOMAIN][0]["TXT"])).mechanisms) - 1


def cases(zone: dict[str, list[Any]]) -> list[Case]:
    flat = spfmanager.parse_record("".join(zone[FLAT_DOMAIN][0]["TXT"]))
    networks = [m.network for m in flat.mechanisms if isinstance(m, IP4 | IP6)]
    first_v4 = next(n for n in networks if n.version == 4)
    last_v4 = [n for n in networks if n.version == 4][-1]
    last_v6 = [n for n in networks if n.version == 6][-1]
    return [
        Case(FLAT, "early", FLAT_DOMAIN, str(first_v4[1])),
        Case(FLAT, "late", FLAT_DOMAIN, str(last_v4[-2])),
        Case(FLAT, "late ipv6", FLAT_DOMAIN, str(last_v6[1])),
        Case(FLAT, "never", FLAT_DOMAIN, "192.0.2.1"),
        Case(INCLUDES, "early", "mondialrelay.fr", "40.92.0.1"),
        Case(INCLUDES, "late", "mondialrelay.fr", "185.7.39.7"),
        Case(INCLUDES, "never", "mondialrelay.fr", "192.0.2.1"),
        Case(SMALL, "early", SMALL_DOMAIN, "198.51.100.7"),
        Case(SMALL, "late", SMALL_DOMAIN, "198.51.100.250"),
        Case(SMALL, "never", SMALL_DOMAIN, "192.0.2.1"),
    ]


def ops_per_second(check: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``check``, timed in batches until ``seconds`` have passed."""
    check()  # warm-up: caches, first-call imports
    calls, batch, elapsed = 0, 1, 0.0
    start = time.perf_counter()
    while elapsed < seconds:
        for _ in range(batch):
            check()
        calls += batch
        batch = min(batch * 2, 4096)
        elapsed = time.perf_counter() - start
    return calls / elapsed


def measure(zone: dict[str, list[Any]], case: Case, seconds: float) -> Measurement:
    resolver = spfmanager.SnapshotResolver(zone)
    sender = f"bench@{case.domain}"
    address: IPv4Address | IPv6Address = spfmanager.evaluate(
        case.ip, sender, HELO, resolver=resolver
    ).ip
    ours = spfmanager.evaluate(address, sender, HELO, resolver=resolver).result.value

    def check_ours() -> object:
        return spfmanager.evaluate(address, sender, HELO, resolver=resolver)

    def check_pyspf() -> object:
        return spf.query(i=case.ip, s=sender, h=HELO).check()

    with serve(PyspfZone(zone)):
        theirs = str(spf.query(i=case.ip, s=sender, h=HELO).check()[0])
        if theirs != ours:
            raise SystemExit(f"{case.domain} {case.ip}: spfmanager {ours} but pyspf {theirs}")
        pyspf_ops = ops_per_second(check_pyspf, seconds)
    our_ops = ops_per_second(check_ours, seconds)
    return Measurement(case.record, case.position, case.domain, case.ip, ours, our_ops, pyspf_ops)


def render_table(results: list[Measurement], seconds: float) -> Table:
    table = Table(
        title=f"SPF evaluations per second ({seconds:g} s per cell)",
        caption="ratio = spfmanager / pyspf",
    )
    for column in ("record", "match", "ip", "result"):
        table.add_column(column, no_wrap=True)
    for column in ("spfmanager/s", "pyspf/s", "ratio"):
        table.add_column(column, justify="right", no_wrap=True)
    for m in results:
        style = "green" if m.ratio >= 20 else "yellow" if m.ratio >= 5 else "red"
        table.add_row(
            m.record,
            m.position,
            m.ip,
            m.result,
            f"{m.spfmanager_ops:,.0f}",
            f"{m.pyspf_ops:,.0f}",
            f"[{style}]{m.ratio:.1f}x[/{style}]",
        )
    return table


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "spfmanager": spfmanager.__version__,
        "pyspf": spf.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (0.02 s a cell)")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per cell (default 1)")
    args = parser.parse_args(argv)
    seconds = 0.02 if args.quick else args.seconds
    zone = load_zone()
    results = [measure(zone, case, seconds) for case in cases(zone)]
    if args.json:
        document = {
            "seconds_per_cell": seconds,
            "quick": args.quick,
            "environment": environment(),
            "flattened_terms": flat_terms(zone),
            "results": [m.data for m in results],
        }
        print(json.dumps(document, indent=2))
    else:
        console = Console(width=max(Console().width, 100))  # wider than 80 when piped
        console.print(render_table(results, seconds))
        env = environment()
        console.print(
            f"Python {env['python']} on {env['machine']} ({env['cpus']} CPUs), "
            f"pyspf {env['pyspf']}; {FLAT!r} has {flat_terms(zone)} ip4/ip6 terms."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
