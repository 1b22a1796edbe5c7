"""Macro mode against flattening: DNS answers per second, and lookups per SPF check.

1. Answers per second on loopback: rbldnsd answering ``%{ir}.%{v}.%{d}.<zone>`` TXT
   queries from the macro dataset of the 14-service example (examples/over-limit), side by
   side with the records backend's wildcard TXT records for the same clients served by
   PowerDNS (when installed) and by BIND 9, and BIND 9 serving the flattened TXT records of
   the same intent (root and chain names). Clients are dnspython ``dns.asyncquery.udp``
   calls, ``--concurrency`` in flight, for ``--seconds`` (bounded also by ``--queries``).
2. What a receiver pays per check, counted with the bundled evaluator: DNS-querying terms
   (RFC 7208 4.6.4) and DNS queries (the root TXT included) over random clients, in macro
   mode (the dataset read by :class:`spfmanager.macro.DatasetResolver`) and flattened.

Run from the repository root::

    python -m benchmarks.bench_macro             # table
    python -m benchmarks.bench_macro --json      # for machines
    python -m benchmarks.bench_macro --quick     # smoke run, numbers not meaningful
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.message
import dns.rdatatype
from rich.console import Console
from rich.table import Table

from spfmanager.compile import compile_file
from spfmanager.dns.base import Answer, Resolver, RRType
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.flatten.flattener import flatten
from spfmanager.macro import DatasetResolver, build_macro, query_name
from spfmanager.spf.evaluate import evaluate
from tests.integration import pdns as pdns_helper
from tests.integration.bind import BindServer
from tests.macro.intents import EXAMPLE
from tests.macro.libspf2_netns import publish_to_powerdns
from tests.macro.servers import RbldnsdServer

ZONE = "macro.spfm.test"
SEED = 14
SERVERS = (
    "rbldnsd (macro)",
    "PowerDNS (macro records)",
    "BIND (macro records)",
    "BIND (flattened)",
)


class Counting:
    def __init__(self, base: Resolver) -> None:
        self.base = base
        self.queries = 0

    def query(self, name: str, rrtype: RRType) -> Answer:
        self.queries += 1
        return self.base.query(name, rrtype)


def _clients(count: int, rng: random.Random) -> list[IPv4Address | IPv6Address]:
    out: list[IPv4Address | IPv6Address] = []
    for index in range(count):
        if index % 4 == 3:
            out.append(IPv6Address(rng.getrandbits(128)))
        else:
            out.append(IPv4Address(rng.getrandbits(32)))
    return out


def _inputs() -> dict[str, Any]:
    _config, intents = compile_file(EXAMPLE / "spfmanager.yaml")
    item = intents[0]  # bigcorp.example: 14 services
    resolver = SnapshotResolver.from_file(EXAMPLE / "dns-snapshot.yaml")
    built = build_macro([item], resolver, ZONE)
    records = build_macro([item], resolver, ZONE, backend="records")
    flat = flatten(item.record, item.domain, resolver=resolver, keep=item.keep)
    return {
        "intent": item, "resolver": resolver, "built": built, "records": records, "flat": flat
    }  # fmt: skip


def lookups_per_check(
    inputs: dict[str, Any], clients: Sequence[IPv4Address | IPv6Address]
) -> dict[str, Any]:
    item, resolver, built, flat = (inputs[k] for k in ("intent", "resolver", "built", "flat"))
    sender = f"postmaster@{item.domain}"
    rows = {}
    sides = {
        "macro": lambda base: DatasetResolver(
            OverlayResolver(base, {item.domain: [[built.roots[item.domain]]]}), built.dataset, ZONE
        ),
        "flattened": lambda base: OverlayResolver(base, {n: [s] for n, s in flat.records.items()}),
        "intent (unflattened)": lambda base: OverlayResolver(
            base, {item.domain: [[item.record.render()]]}
        ),
    }
    for side, make in sides.items():
        counter = Counting(SnapshotResolver({}) if side != "intent (unflattened)" else resolver)
        dns_view = make(counter)
        terms = 0
        most = 0
        for client in clients:
            got = evaluate(
                client,
                sender,
                item.domain,
                resolver=dns_view,
                max_lookups=1000,
                max_void_lookups=1000,
            )
            terms += got.lookups
            most = max(most, got.lookups)
        queries = counter.queries if side == "intent (unflattened)" else None
        rows[side] = {"mean_lookups": terms / len(clients), "max_lookups": most, "queries": queries}
    # DNS queries per check (root TXT + each lookup), counted without the evaluator's caches:
    for side in ("macro", "flattened"):
        rows[side]["queries_per_check"] = 1 + rows[side]["mean_lookups"]
    rows["intent (unflattened)"]["queries_per_check"] = None
    return rows


async def _blast(
    host: str, port: int, names: Sequence[str], seconds: float, limit: int, concurrency: int
) -> dict[str, Any]:
    done = 0
    failed = 0
    deadline = time.monotonic() + seconds

    async def worker(offset: int) -> None:
        nonlocal done, failed
        index = offset
        while time.monotonic() < deadline and done + failed < limit:
            query = dns.message.make_query(names[index % len(names)], dns.rdatatype.TXT)
            index += concurrency
            try:
                response = await dns.asyncquery.udp(query, host, port=port, timeout=2.0)
                if response.rcode() == 0 and response.answer:
                    done += 1
                else:
                    failed += 1
            except Exception:
                failed += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.monotonic() - started
    return {"answers": done, "failed": failed, "seconds": elapsed, "qps": done / elapsed}


def answers_per_second(
    inputs: dict[str, Any],
    clients: Sequence[IPv4Address | IPv6Address],
    seconds: float,
    limit: int,
    concurrency: int,
) -> dict[str, Any]:
    item, built, flat = inputs["intent"], inputs["built"], inputs["flat"]
    macro_names = [query_name(c, item.domain, ZONE) for c in clients]
    flat_names = list(flat.records)
    zonedata = {n: [{"TXT": "".join(s)}] for n, s in flat.records.items()}
    out: dict[str, Any] = {}
    records = inputs["records"].zone_records
    with RbldnsdServer(built.dataset, ZONE) as rbldnsd:
        out["rbldnsd (macro)"] = asyncio.run(
            _blast(rbldnsd.host, rbldnsd.port, macro_names, seconds, limit, concurrency)
        )
    if pdns_helper.available():
        with (
            tempfile.TemporaryDirectory(prefix="spfmanager-bench-pdns-") as tmp,
            pdns_helper.PowerDNSServer(Path(tmp)) as pdns,
        ):
            publish_to_powerdns(pdns, ZONE, records, ttl=300)
            out["PowerDNS (macro records)"] = asyncio.run(
                _blast("127.0.0.1", pdns.dns_port, macro_names, seconds, limit, concurrency)
            )
    served = {name: [{"TXT": text}] for name, text in records.items()}
    with BindServer({ZONE: served}) as bind:
        out["BIND (macro records)"] = asyncio.run(
            _blast(bind.host, bind.port, macro_names, seconds, limit, concurrency)
        )
    with BindServer({".": zonedata}) as bind:
        out["BIND (flattened)"] = asyncio.run(
            _blast(bind.host, bind.port, flat_names, seconds, limit, concurrency)
        )
    out["names"] = {
        "rbldnsd (macro)": len(set(macro_names)),
        "records served": len(records),
        "BIND (flattened)": len(flat_names),
    }
    return out


def run(
    *, quick: bool = False, seconds: float = 5.0, queries: int = 200_000, concurrency: int = 32
) -> dict[str, Any]:
    rng = random.Random(SEED)
    inputs = _inputs()
    clients = _clients(200 if quick else 2000, rng)
    report: dict[str, Any] = {
        "lookups": lookups_per_check(inputs, clients),
        "records": {
            "macro_root": inputs["built"].roots[inputs["intent"].domain],
            "macro_entries": inputs["built"].records[0].entries,
            "macro_records": len(inputs["records"].zone_records),
            "flattened_records": len(inputs["flat"].records),
        },
    }
    if quick:
        seconds, queries, concurrency = 0.5, 500, 8
    report["throughput"] = answers_per_second(inputs, clients, seconds, queries, concurrency)
    report["settings"] = {
        "seconds": seconds,
        "queries": queries,
        "concurrency": concurrency,
        "clients": len(clients),
    }
    return report


def render(report: dict[str, Any]) -> str:
    console = Console(record=True, width=110, file=io.StringIO())
    t = report["throughput"]
    table = Table(title="answers per second on loopback (dnspython asyncio clients)")
    for column in ("server", "answers", "failed", "seconds", "answers/s", "ratio"):
        table.add_column(column)
    base = t["BIND (flattened)"]["qps"] or 1.0
    for side in SERVERS:
        if side not in t:
            continue
        row = t[side]
        table.add_row(
            side,
            str(row["answers"]),
            str(row["failed"]),
            f"{row['seconds']:.2f}",
            f"{row['qps']:,.0f}",
            f"{row['qps'] / base:.2f}x",
        )
    console.print(table)
    lookups = report["lookups"]
    table = Table(title="per SPF check, bigcorp.example (14 services), random clients")
    for column in (
        "published as",
        "lookups (mean)",
        "lookups (max)",
        "DNS queries/check",
        "vs macro",
    ):
        table.add_column(column)
    macro = lookups["macro"]["queries_per_check"]
    for side, row in lookups.items():
        per = row["queries_per_check"]
        table.add_row(
            side,
            f"{row['mean_lookups']:.2f}",
            str(row["max_lookups"]),
            "-" if per is None else f"{per:.2f}",
            "-" if per is None else f"{per / macro:.2f}x",
        )
    console.print(table)
    records = report["records"]
    console.print(
        f"macro root: {records['macro_root']}; {records['macro_entries']} dataset entries "
        f"(rbldnsd) or {records['macro_records']:,} records (records backend); "
        f"flattened: {records['flattened_records']} records"
    )
    return console.export_text()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: numbers not meaningful")
    parser.add_argument("--seconds", type=float, default=5.0, help="per server")
    parser.add_argument("--queries", type=int, default=200_000, help="per server, at most")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = run(
        quick=args.quick, seconds=args.seconds, queries=args.queries, concurrency=args.concurrency
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        sys.stdout.write(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
