"""Evaluations per second: ``spfmanager.evaluate`` against pyspf, same records, same DNS data.

Both sides answer from memory: spfmanager from a SnapshotResolver, pyspf through its
``spf.DNSLookup`` hook (see pyspf_zone.py). Each pyspf check is a fresh ``spf.query`` (its
cache lives in the query object); spfmanager keeps its per-process compiled-record cache,
as a long-running receiver or flattener would.

The chained workload ("d chain") is a published chain: a 60-term root in 255-byte strings
with an include (~all) and a redirect= (-all), checked for random IPv4 and IPv6 clients by
pyspf, by spfmanager's term-by-term path and by its chain table (``spf/chain.py``).

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
import random
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
from spfmanager.spf.chain import SlowPath, chain_table, evaluate_chain, forget_chains
from spfmanager.spf.evaluate import SPFResult
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
CHAIN = "d chain"  # FLAT's terms + include + redirect=, as published
CHAIN_DOMAIN = "chain.bench.test"
CHAIN_INCLUDE = "_inc.chain.bench.test"
CHAIN_REDIRECT = "_red.chain.bench.test"
CHAIN_IP4_TERMS = 12  # ip4 terms in each of the include and redirect targets
CHAIN_IP6_TERMS = 5  # and ip6 terms
CHAIN_CLIENTS = 200  # random clients, half IPv4, half IPv6; half of each inside a term
CHAIN_SEED = 7208


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
    zone.update(chain_records(zone))
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


def snapshot_terms(zone: dict[str, list[Any]]) -> list[str]:
    """Every distinct ip4/ip6 term of the provider snapshot, in snapshot order."""
    terms: dict[str, None] = {}
    for name, entries in zone.items():
        if name.endswith(".bench.test"):
            continue
        for entry in entries:
            text = entry.get("TXT") if isinstance(entry, dict) else None
            if not isinstance(text, str) or not text.lower().startswith("v=spf1"):
                continue
            for mechanism in spfmanager.parse_record(text).mechanisms:
                if isinstance(mechanism, IP4 | IP6):
                    terms[mechanism.render().lstrip("+")] = None
    return list(terms)


def chain_records(zone: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The published chain: FLAT's terms, then an include and a redirect= whose targets
    hold the snapshot's next terms; the root split in 255-byte strings beside another TXT."""
    rest = snapshot_terms(zone)[FLAT_TERMS:]
    ip4 = [t for t in rest if t.startswith("ip4:")]
    ip6 = [t for t in rest if t.startswith("ip6:")]
    four, six = CHAIN_IP4_TERMS, CHAIN_IP6_TERMS
    include = ["v=spf1", *ip4[:four], *ip6[:six], "~all"]
    redirect = ["v=spf1", *ip4[four : 2 * four], *ip6[six : 2 * six], "-all"]
    root = flattened_record(zone).removesuffix(" -all")
    root += f" include:{CHAIN_INCLUDE} redirect={CHAIN_REDIRECT}"
    return {
        CHAIN_DOMAIN: [{"TXT": split_txt(root)}, {"TXT": "google-site-verification=bench"}],
        CHAIN_INCLUDE: [{"TXT": " ".join(include)}],
        CHAIN_REDIRECT: [{"TXT": " ".join(redirect)}],
    }


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


@dataclass(frozen=True)
class ChainMeasurement:
    """One row of the chained workload: microseconds per evaluation on each path."""

    clients: str  # ipv4, ipv6, all
    count: int
    results: dict[str, int]
    pyspf_us: float
    slow_us: float  # spfmanager, term by term
    chain_us: float  # spfmanager, chain table (evaluate_chain)
    evaluate_us: float  # spfmanager.evaluate as wired (the table once wired, else slow)

    @property
    def data(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "slow_ratio": round(self.pyspf_us / self.slow_us, 2),
            "chain_ratio": round(self.pyspf_us / self.chain_us, 2),
            "evaluate_ratio": round(self.pyspf_us / self.evaluate_us, 2),
        }


def chain_clients(zone: dict[str, list[Any]], count: int) -> list[IPv4Address | IPv6Address]:
    """``count`` random clients (fixed seed): half IPv4, half IPv6, and in each family half
    inside a random term of the chain, half anywhere in the family."""
    rng = random.Random(CHAIN_SEED)
    networks = [
        m.network
        for name in (CHAIN_DOMAIN, CHAIN_INCLUDE, CHAIN_REDIRECT)
        for m in spfmanager.parse_record(chain_text(zone, name)).mechanisms
        if isinstance(m, IP4 | IP6)
    ]
    clients: list[IPv4Address | IPv6Address] = []
    for n in range(count):
        version = 4 if n % 2 == 0 else 6
        if n % 4 < 2:
            network = rng.choice([net for net in networks if net.version == version])
            first = int(network.network_address)
            address = first + rng.randrange(network.num_addresses)
        else:
            address = rng.randrange(2**32 if version == 4 else 2**128)
        clients.append(IPv4Address(address) if version == 4 else IPv6Address(address))
    rng.shuffle(clients)
    return clients


def chain_text(zone: dict[str, list[Any]], name: str) -> str:
    text = zone[name][0]["TXT"]
    return "".join(text) if isinstance(text, list) else str(text)


def ip_terms(text: str) -> int:
    return sum(isinstance(m, IP4 | IP6) for m in spfmanager.parse_record(text).mechanisms)


def same_result(fast: SPFResult, slow: SPFResult) -> bool:
    """Field by field, the explanation and the trace text included."""
    fields_equal = fast == slow and fast.explanation == slow.explanation
    return fields_equal and [str(s) for s in fast.trace] == [str(s) for s in slow.trace]


def per_evaluation_us(check: Callable[[], object], count: int, seconds: float) -> float:
    """Microseconds per evaluation of ``check``, which evaluates ``count`` clients."""
    return 1e6 / (ops_per_second(check, seconds) * count)


def measure_chain(zone: dict[str, list[Any]], seconds: float, count: int) -> dict[str, Any]:
    """The chained workload: pyspf, the term-by-term path and the chain table side by side."""
    resolver = spfmanager.SnapshotResolver(zone)
    slow_resolver = SlowPath(resolver)
    sender = f"bench@{CHAIN_DOMAIN}"
    forget_chains()
    start = time.perf_counter()
    table = chain_table(CHAIN_DOMAIN, resolver=resolver)
    build_ms = (time.perf_counter() - start) * 1e3
    if table is None:
        raise SystemExit(f"{CHAIN_DOMAIN}: the chain table path declined the chain")
    everyone = chain_clients(zone, count)
    groups = {
        "ipv4": [a for a in everyone if a.version == 4],
        "ipv6": [a for a in everyone if a.version == 6],
        "all": everyone,
    }
    with serve(PyspfZone(zone)):
        for address in everyone:
            slow = spfmanager.evaluate(address, sender, HELO, resolver=slow_resolver)
            fast = evaluate_chain(address, sender, HELO, resolver=resolver)
            theirs = str(spf.query(i=str(address), s=sender, h=HELO).check()[0])
            if fast is None or not same_result(fast, slow) or theirs != slow.result.value:
                raise SystemExit(f"{address}: chain {fast} slow {slow} pyspf {theirs}")
    rows: list[ChainMeasurement] = []
    for label, clients in groups.items():
        texts = [str(a) for a in clients]
        mix: dict[str, int] = {}
        for address in clients:
            value = spfmanager.evaluate(address, sender, HELO, resolver=slow_resolver).result
            mix[value.value] = mix.get(value.value, 0) + 1

        def run_pyspf(texts: list[str] = texts) -> object:
            return [spf.query(i=ip, s=sender, h=HELO).check() for ip in texts]

        def run_slow(clients: list[IPv4Address | IPv6Address] = clients) -> object:
            return [spfmanager.evaluate(a, sender, HELO, resolver=slow_resolver) for a in clients]

        def run_chain(clients: list[IPv4Address | IPv6Address] = clients) -> object:
            return [evaluate_chain(a, sender, HELO, resolver=resolver) for a in clients]

        def run_evaluate(clients: list[IPv4Address | IPv6Address] = clients) -> object:
            return [spfmanager.evaluate(a, sender, HELO, resolver=resolver) for a in clients]

        with serve(PyspfZone(zone)):
            pyspf_us = per_evaluation_us(run_pyspf, len(clients), seconds)
        rows.append(
            ChainMeasurement(
                label,
                len(clients),
                dict(sorted(mix.items())),
                pyspf_us,
                per_evaluation_us(run_slow, len(clients), seconds),
                per_evaluation_us(run_chain, len(clients), seconds),
                per_evaluation_us(run_evaluate, len(clients), seconds),
            )
        )
    return {
        "domain": CHAIN_DOMAIN,
        "root_terms": flat_terms(zone),
        "root_strings": len(zone[CHAIN_DOMAIN][0]["TXT"]),
        "include_terms": ip_terms(chain_text(zone, CHAIN_INCLUDE)),
        "redirect_terms": ip_terms(chain_text(zone, CHAIN_REDIRECT)),
        "table": {
            "build_ms": round(build_ms, 2),
            "evaluations": table.evaluations,
            "segments_ipv4": len(table.ipv4),
            "segments_ipv6": len(table.ipv6),
        },
        "rows": rows,
    }


def render_chain_table(chain: dict[str, Any], seconds: float) -> Table:
    table = Table(
        title=f"{CHAIN}: microseconds per evaluation ({seconds:g} s per cell)",
        caption="ratio = pyspf time / spfmanager time; evaluate() is the path it takes as wired",
    )
    for column in ("clients", "results"):
        table.add_column(column, no_wrap=True)
    for column in ("pyspf", "slow", "chain", "evaluate()", "slow ratio", "chain ratio"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in chain["rows"]:
        ratio = row.pyspf_us / row.chain_us
        style = "green" if ratio >= 50 else "yellow" if ratio >= 20 else "red"
        table.add_row(
            f"{row.clients} ({row.count})",
            ", ".join(f"{k} {v}" for k, v in row.results.items()),
            f"{row.pyspf_us:,.1f}",
            f"{row.slow_us:,.2f}",
            f"{row.chain_us:,.2f}",
            f"{row.evaluate_us:,.2f}",
            f"{row.pyspf_us / row.slow_us:.1f}x",
            f"[{style}]{ratio:.1f}x[/{style}]",
        )
    return table


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
    parser.add_argument(
        "--clients",
        type=int,
        default=CHAIN_CLIENTS,
        help=f"random clients of the chained workload (default {CHAIN_CLIENTS})",
    )
    args = parser.parse_args(argv)
    seconds = 0.02 if args.quick else args.seconds
    zone = load_zone()
    results = [measure(zone, case, seconds) for case in cases(zone)]
    chain = measure_chain(zone, seconds, max(args.clients, 4))
    if args.json:
        document = {
            "seconds_per_cell": seconds,
            "quick": args.quick,
            "environment": environment(),
            "flattened_terms": flat_terms(zone),
            "results": [m.data for m in results],
            "chain": {**chain, "rows": [row.data for row in chain["rows"]]},
        }
        print(json.dumps(document, indent=2))
    else:
        console = Console(width=max(Console().width, 110))  # wider than 80 when piped
        console.print(render_table(results, seconds))
        console.print(render_chain_table(chain, seconds))
        env = environment()
        built = chain["table"]
        console.print(
            f"Python {env['python']} on {env['machine']} ({env['cpus']} CPUs), "
            f"pyspf {env['pyspf']}; {FLAT!r} has {flat_terms(zone)} ip4/ip6 terms; "
            f"{CHAIN!r}: root of {chain['root_terms']} ip terms in {chain['root_strings']} "
            f"strings, include and redirect= of {chain['include_terms']} and "
            f"{chain['redirect_terms']} ip terms; table built in {built['build_ms']:.1f} ms "
            f"({built['evaluations']} term-by-term evaluations, {built['segments_ipv4']} + "
            f"{built['segments_ipv6']} segments)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
