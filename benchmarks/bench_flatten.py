"""Flattening benchmark: spfmanager against sender-policy-flattener, on the same offline DNS.

For each input (``benchmarks/flatten_inputs.py``) both tools build published records; we
report their size, the DNS lookups a receiver spends on them, build time and DNS queries
per build, and whether they are *equivalent* to the input: every range edge of every
ip4/ip6 in the data is evaluated with spfmanager's RFC 7208 evaluator against the input
and against each tool's records. A scaling run flattens 10, 100, 1000 domains sharing
service mixes through one :class:`~spfmanager.flatten.Flattener`.

Run: ``python -m benchmarks.bench_flatten [--quick] [--json]``. sender-policy-flattener
(``pip install -e '.[bench]'``) never touches the network here: its dnspython resolver is
replaced by a shim answering from the same snapshot.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.TXT import TXT as TXTRdata
from rich.console import Console
from rich.table import Table

from benchmarks import flatten_inputs
from benchmarks.flatten_inputs import Input
from spfmanager.cli.common import console
from spfmanager.dns.base import MXRecord, Resolver, RRType, TXTRecord
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import DNSTemporaryError, SPFManagerError
from spfmanager.flatten import Flattener, flatten
from spfmanager.flatten.analyze import Analyzer
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.parser import parse_record
from spfmanager.spf.results import Result

try:
    from sender_policy_flattener.crawler import spf2ips  # type: ignore[import-untyped]
except ImportError:  # a benchmark-only dependency: the extra "bench"
    spf2ips = None

log = logging.getLogger(__name__)

UNLIMITED = 1_000_000  # the intent is judged without receiver limits, as verify() does
MAX_STRING = 255  # RFC 1035 3.3: one TXT character-string
MAX_EXAMPLES = 3
SCALES = (10, 100, 1000)
QUICK_SCALES = (10, 100)
IPAddress = IPv4Address | IPv6Address


class Tool(StrEnum):
    SPFMANAGER = "spfmanager"
    SPFLAT = "sender-policy-flattener"


class Status(StrEnum):
    OK = "ok"
    NOT_AVAILABLE = "n/a"


@dataclass(frozen=True)
class Build:
    """What one tool published for one input, and what that cost."""

    status: Status
    records: Mapping[str, Sequence[str]] = field(default_factory=dict)  # name -> strings
    seconds: float = 0.0  # median build time
    dns_queries: int = 0  # per build
    reason: str = ""  # why n/a
    messages: tuple[str, ...] = ()  # what the tool printed


@dataclass(frozen=True)
class Equivalence:
    """The tool's records against the input at every probe point."""

    points: int
    mismatches: int
    transitions: Mapping[str, int]  # "intent->published" -> count
    examples: tuple[str, ...]

    @property
    def equivalent(self) -> bool:
        return self.mismatches == 0


# -- sender-policy-flattener, served from the snapshot -------------------------------------


class SpflatResolver:
    """Stands in for the ``dns.resolver.Resolver`` sender-policy-flattener calls ``.query`` on.

    Answers come from a spfmanager resolver, converted to dnspython rdata; NXDOMAIN and
    NODATA raise as dnspython does. Every call is counted: the tool has no cache.
    """

    def __init__(self, base: Resolver) -> None:
        self.base = base
        self.queries = 0

    def query(self, qname: dns.name.Name | str, rdtype: str) -> list[dns.rdata.Rdata]:
        self.queries += 1
        name = qname.to_text() if isinstance(qname, dns.name.Name) else str(qname)
        try:
            answer = self.base.query(name, RRType(rdtype.upper()))
        except DNSTemporaryError as exc:
            raise dns.exception.Timeout from exc
        if answer.nxdomain:
            raise dns.resolver.NXDOMAIN
        if answer.is_void:
            raise dns.resolver.NoAnswer
        return [_rdata(record) for record in answer.records]


def _rdata(record: object) -> dns.rdata.Rdata:
    internet = dns.rdataclass.IN
    if isinstance(record, TXTRecord):
        # The snapshot keeps some long records as one string; DNS would serve them split.
        strings = [p for s in record.strings for p in split_strings(s.decode("ascii"))]
        return TXTRdata(internet, dns.rdatatype.TXT, [p.encode("ascii") for p in strings])
    if isinstance(record, IPv4Address):
        return dns.rdata.from_text(internet, dns.rdatatype.A, str(record))
    if isinstance(record, IPv6Address):
        return dns.rdata.from_text(internet, dns.rdatatype.AAAA, str(record))
    if isinstance(record, MXRecord):
        text = f"{record.preference} {record.exchange.rstrip('.')}."
        return dns.rdata.from_text(internet, dns.rdatatype.MX, text)
    raise TypeError(f"no dnspython form for {record!r}")


def spflat_names(domain: str, count: int) -> list[str]:
    """Where its records go: the domain, then ``spf1.domain``, ``spf2.domain``... (chained)."""
    return [domain] + [f"spf{i}.{domain}" for i in range(1, count)]


def build_spflat(item: Input, base: Resolver, repeats: int) -> Build:
    """Its programmatic entry point ``crawler.spf2ips``, crawling the input as published."""
    if spf2ips is None:
        return Build(Status.NOT_AVAILABLE, reason="not installed (pip install -e '.[bench]')")
    served = OverlayResolver(base, {item.domain: [split_strings(item.record)]})
    times: list[float] = []
    for _ in range(repeats):
        shim = SpflatResolver(served)
        printed = io.StringIO()
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(printed):  # it print()s DNS errors
                texts: list[str] = spf2ips({item.domain: "txt"}, item.domain, shim)
        except Exception as exc:  # any crash of the other tool is a result, not our error
            return Build(Status.NOT_AVAILABLE, reason=f"crashed: {exc!r}")
        times.append(time.perf_counter() - started)
    names = spflat_names(item.domain, len(texts))
    records = {name: [text] for name, text in zip(names, texts, strict=True)}  # as emitted
    messages = tuple(line for line in printed.getvalue().splitlines() if line)
    return Build(Status.OK, records, statistics.median(times), shim.queries, messages=messages)


def split_strings(text: str) -> list[str]:
    """Character-strings of at most 255 bytes, cut at spaces (as careful DNS UIs do).

    Joined without separator they give ``text`` back (RFC 7208 3.3).
    """
    strings: list[str] = []
    current = ""
    for token in text.split(" "):
        piece = token if not current and not strings else " " + token
        if current and len(current) + len(piece) > MAX_STRING:
            strings.append(current)
            current = ""
        while len(piece) > MAX_STRING:  # one token longer than a string: cut it
            strings.append(piece[:MAX_STRING])
            piece = piece[MAX_STRING:]
        current += piece
    return [*strings, current]


# -- spfmanager ------------------------------------------------------------------------------


def build_spfmanager(item: Input, base: Resolver, repeats: int) -> Build:
    """A fresh ``flatten()`` per build: no answers or analyses carried over."""
    times: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        try:
            result = flatten(item.record, item.domain, resolver=base)
        except SPFManagerError as exc:
            return Build(Status.NOT_AVAILABLE, reason=str(exc))
        times.append(time.perf_counter() - started)
    return Build(Status.OK, result.records, statistics.median(times), result.dns_queries)


BUILDERS: dict[Tool, Callable[[Input, Resolver, int], Build]] = {
    Tool.SPFMANAGER: build_spfmanager,
    Tool.SPFLAT: build_spflat,
}


# -- measuring the output --------------------------------------------------------------------


def published(build: Build, base: Resolver) -> OverlayResolver:
    """DNS as receivers would see it with the build's records published (split if needed)."""
    return OverlayResolver(base, {n: [_publishable(s)] for n, s in build.records.items()})


def _publishable(strings: Sequence[str]) -> list[str]:
    if all(len(s) <= MAX_STRING for s in strings):
        return list(strings)
    return split_strings("".join(strings))


def published_lookups(build: Build, domain: str, base: Resolver) -> int:
    """Worst-case lookups a receiver counts for the published set (same metric for both)."""
    live = published(build, base)
    root = "".join(build.records[domain])
    return Analyzer(live).worst_case_lookups(parse_record(root), domain)


def check_equivalence(
    build: Build, item: Input, base: Resolver, points: Sequence[IPAddress], intent: list[Result]
) -> Equivalence:
    """Evaluate the published records, with receiver limits, at every point."""
    live = published(build, base)
    sender = f"postmaster@{item.domain}"
    transitions: Counter[str] = Counter()
    examples: list[str] = []
    for point, expected in zip(points, intent, strict=True):
        got = evaluate(point, sender, item.domain, resolver=live)
        if got.result is not expected:
            transitions[f"{expected.value}->{got.result.value}"] += 1
            if len(examples) < MAX_EXAMPLES:
                examples.append(f"{point}: {expected.value} -> {got.result.value} ({got.reason})")
    return Equivalence(len(points), sum(transitions.values()), dict(transitions), tuple(examples))


def intent_results(item: Input, base: Resolver, points: Sequence[IPAddress]) -> list[Result]:
    served = OverlayResolver(base, {item.domain: [[item.record]]})
    sender = f"postmaster@{item.domain}"
    return [
        evaluate(
            p,
            sender,
            item.domain,
            resolver=served,
            max_lookups=UNLIMITED,
            max_void_lookups=UNLIMITED,
        ).result
        for p in points
    ]


def tool_report(
    build: Build, item: Input, base: Resolver, equivalence: Equivalence | None
) -> dict[str, Any]:
    if build.status is not Status.OK:
        return {"status": build.status.value, "reason": build.reason}
    strings = [s for ss in build.records.values() for s in ss]
    texts = {name: "".join(ss) for name, ss in build.records.items()}
    report: dict[str, Any] = {
        "status": build.status.value,
        "records": len(build.records),
        "bytes": sum(len(t) for t in texts.values()),
        "longest_record": max(len(t) for t in texts.values()),
        "strings_over_255": sum(len(s) > MAX_STRING for s in strings),
        "lookups": published_lookups(build, item.domain, base),
        "build_ms": round(build.seconds * 1000, 3),
        "dns_queries": build.dns_queries,
        "published": texts,
        "messages": list(build.messages),
    }
    if equivalence is not None:
        report |= {
            "equivalent": equivalence.equivalent,
            "points": equivalence.points,
            "mismatches": equivalence.mismatches,
            "transitions": dict(equivalence.transitions),
            "examples": list(equivalence.examples),
        }
    return report


def _ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs else None


def ratios(tools: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    """spfmanager ÷ sender-policy-flattener for each measured quantity (None when n/a)."""
    ours, theirs = tools[Tool.SPFMANAGER.value], tools[Tool.SPFLAT.value]
    keys = ("bytes", "records", "lookups", "build_ms", "dns_queries")
    if ours["status"] != Status.OK.value or theirs["status"] != Status.OK.value:
        return dict.fromkeys(keys)
    return {k: _ratio(ours[k], theirs[k]) for k in keys}


def compare(
    item: Input, base: Resolver, points: Sequence[IPAddress], repeats: int
) -> dict[str, Any]:
    """Both tools on one input, side by side."""
    intent = intent_results(item, base, points)
    tools: dict[str, dict[str, Any]] = {}
    for tool, builder in BUILDERS.items():
        build = builder(item, base, repeats)
        eq = (
            check_equivalence(build, item, base, points, intent)
            if build.status is Status.OK
            else None
        )
        tools[tool.value] = tool_report(build, item, base, eq)
    intent_lookups = Analyzer(base).worst_case_lookups(parse_record(item.record), item.domain)
    return {
        "input": item.name,
        "domain": item.domain,
        "kind": item.kind.value,
        "note": item.note,
        "record": item.record,
        "intent_lookups": intent_lookups,
        "tools": tools,
        "ratios": ratios(tools),
    }


# -- scaling ---------------------------------------------------------------------------------


def scale_spfmanager(count: int) -> tuple[float, int]:
    """Seconds and DNS queries for ``count`` domains through one Flattener."""
    base = flatten_inputs.resolver()
    flattener = Flattener(base)
    started = time.perf_counter()
    for domain, record in flatten_inputs.scaling_domains(count):
        flattener.flatten(record, domain)
    return time.perf_counter() - started, base.queries


def scale_spflat(count: int) -> tuple[float, int]:
    """The same domains, one ``spf2ips`` call each as its ``flatten()`` loop does."""
    domains = flatten_inputs.scaling_domains(count)
    base = OverlayResolver(flatten_inputs.resolver(), {d: [split_strings(r)] for d, r in domains})
    shim = SpflatResolver(base)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        for domain, _ in domains:
            spf2ips({domain: "txt"}, domain, shim)
    return time.perf_counter() - started, shim.queries


def _scale_row(count: int, runs: list[tuple[float, int]]) -> dict[str, Any]:
    """The fastest of ``runs`` (the least disturbed by other load on the machine)."""
    seconds, queries = min(runs)
    return {
        "domains": count,
        "status": Status.OK.value,
        "total_ms": round(seconds * 1000, 2),
        "per_domain_ms": round(seconds * 1000 / count, 3),
        "dns_queries": queries,
    }


def scaling(counts: Sequence[int], repeats: int = 1) -> dict[str, Any]:
    """Both tools at each domain count; spfmanager's t(last)/t(first) ratios."""
    ours = [_scale_row(n, [scale_spfmanager(n) for _ in range(repeats)]) for n in counts]
    theirs = [
        _scale_row(n, [scale_spflat(n) for _ in range(repeats)])
        if spf2ips is not None
        else {"domains": n, "status": Status.NOT_AVAILABLE.value, "reason": "not installed"}
        for n in counts
    ]
    return {
        "counts": list(counts),
        "repeats": repeats,
        "rows": {Tool.SPFMANAGER.value: ours, Tool.SPFLAT.value: theirs},
        "total_ratio_last_first": _ratio(ours[-1]["total_ms"], ours[0]["total_ms"]),
        "per_domain_ratio_last_first": _ratio(ours[-1]["per_domain_ms"], ours[0]["per_domain_ms"]),
    }


# -- the run ---------------------------------------------------------------------------------


def run(*, quick: bool = False) -> dict[str, Any]:
    """The whole benchmark as JSON-ready data."""
    data = flatten_inputs.zonedata()
    base = flatten_inputs.resolver()
    points = flatten_inputs.probe_points(data, tuple(i.record for i in flatten_inputs.INPUTS))
    repeats = 1 if quick else 5
    for item in flatten_inputs.INPUTS:  # warm-up: imports, parser caches
        for builder in BUILDERS.values():
            builder(item, base, 1)
    return {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "quick": quick,
        "repeats": repeats,
        "probe_points": len(points),
        "inputs": [compare(item, base, points, repeats) for item in flatten_inputs.INPUTS],
        "scaling": scaling(QUICK_SCALES if quick else SCALES, repeats=1 if quick else 3),
    }


def all_equivalent(report: Mapping[str, Any], tool: Tool = Tool.SPFMANAGER) -> bool:
    return all(
        row["tools"][tool.value]["status"] == Status.OK.value
        and row["tools"][tool.value]["equivalent"]
        for row in report["inputs"]
    )


# -- rendering (the CLI edge) ------------------------------------------------------------------


SHORT = {Tool.SPFMANAGER.value: "spfmanager", Tool.SPFLAT.value: "spflat"}


def _cell(tool: Mapping[str, Any], key: str) -> str:
    return str(tool[key]) if tool["status"] == Status.OK.value else "n/a"


def _verdict(tool: Mapping[str, Any]) -> str:
    if tool["status"] != Status.OK.value:
        return f"[yellow]n/a[/] {tool['reason']}"
    if tool["equivalent"]:
        return "[green]yes[/]"
    return f"[red]NO[/] {tool['mismatches']}"


def render(report: Mapping[str, Any], console: Console) -> None:
    """Rich tables: inputs, side-by-side results, ratios, mismatches, scaling."""
    inputs = Table(title="Inputs (spflat = sender-policy-flattener)")
    for column in ("input", "domain", "lookups as written", "what"):
        inputs.add_column(column)
    points = report["probe_points"]
    outputs = Table(title=f"Flattening: output, cost, equivalence at {points} probe points")
    for column in ("input", "tool", "records", "bytes", ">255", "lookups", "build ms", "queries"):
        outputs.add_column(column, justify="left" if column in ("input", "tool") else "right")
    outputs.add_column("equal")
    outputs.caption = ">255: character-strings over 255 bytes, to split before publishing"
    mismatches = Table(title="Mismatches: input's result -> published result", show_lines=True)
    for column in ("input", "tool", "count by transition", "first example"):
        mismatches.add_column(column)
    ratio_table = Table(title="Ratios spfmanager ÷ spflat")
    for column in ("input", "bytes", "records", "lookups", "build time", "queries"):
        ratio_table.add_column(column, justify="left" if column == "input" else "right")
    for row in report["inputs"]:
        inputs.add_row(row["input"], row["domain"], str(row["intent_lookups"]), row["note"])
        label = row["input"]
        for name, tool in row["tools"].items():
            keys = ("records", "bytes", "strings_over_255", "lookups", "build_ms", "dns_queries")
            outputs.add_row(label, SHORT[name], *(_cell(tool, k) for k in keys), _verdict(tool))
            label = ""
            if tool["status"] == Status.OK.value and not tool["equivalent"]:
                moves = "\n".join(f"{k}: {v}" for k, v in tool["transitions"].items())
                mismatches.add_row(row["input"], SHORT[name], moves, tool["examples"][0])
        cells = ("–" if v is None else f"{v:g}" for v in row["ratios"].values())
        ratio_table.add_row(row["input"], *cells)
    for table in (inputs, outputs, ratio_table):
        console.print(table)
    if mismatches.row_count:
        console.print(mismatches)
    render_scaling(report["scaling"], console)


def render_scaling(scale: Mapping[str, Any], console: Console) -> None:
    table = Table(title="Scaling: many domains, shared services (one Flattener)")
    for column in ("tool", "domains", "total ms", "ms per domain", "DNS queries"):
        table.add_column(column, justify="left" if column == "tool" else "right")
    for name, rows in scale["rows"].items():
        for row in rows:
            if row["status"] != Status.OK.value:
                table.add_row(SHORT[name], str(row["domains"]), "n/a", "n/a", "n/a")
                continue
            cells = (row["domains"], row["total_ms"], row["per_domain_ms"], row["dns_queries"])
            table.add_row(SHORT[name], *(str(c) for c in cells))
    console.print(table)
    first, last = scale["counts"][0], scale["counts"][-1]
    console.print(
        f"spfmanager t({last})/t({first}) = {scale['total_ratio_last_first']}, "
        f"per-domain ratio = {scale['per_domain_ratio_last_first']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when every spfmanager output is equivalent to its input, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_flatten", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repeat, scaling up to 100")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        report = run(quick=args.quick)
    except SPFManagerError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        render(report, console())
    return 0 if all_equivalent(report) else 1


if __name__ == "__main__":
    sys.exit(main())
