"""Fleet benchmark: ``spfmanager plan`` of 10 to 10,000 domains, time per domain and peak memory.

Two fleets over the same 20 upstream services (``_spf.svcNN.soak.test``, each an include
tree of two more names with ip4/ip6 ranges, as in :mod:`benchmarks.bench_daemon_soak`):

* ``shared``: every domain uses one of 10 service sets (3-6 services each), so the
  intents repeat: what an operator whose brands send through the same few stacks has;
* ``distinct``: every domain draws its own 3-6 services and has its own ip4 /28, so no two
  intents are equal: the worst case for sharing work between domains.

Each domain is its own zone (one zone file per domain, already holding an SOA, NS, a
verification TXT and the domain's record as written, unflattened), with SQLite state, in
a temporary directory. Upstream DNS is an in-memory :class:`SnapshotResolver`. Each
(fleet, size) runs in a fresh interpreter, which loads the config and plans, as
``spfmanager plan`` does (``Workspace.load`` then ``Workspace.plan``); the plan's wall and
CPU time and the process's peak RSS (``VmHWM``) are measured there. ``--profile N`` runs
one plan under cProfile in this process instead, for hunting hotspots.

Run from the repository root::

    python -m benchmarks.bench_fleet                        # both fleets, 10..10,000 domains
    python -m benchmarks.bench_fleet --fleet shared --sizes 10,100,1000,10000
    python -m benchmarks.bench_fleet --json
    python -m benchmarks.bench_fleet --quick                # smoke run: 10 and 30 domains
    python -m benchmarks.bench_fleet --fleet distinct --profile 300   # cProfile one plan
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import sys
import tempfile
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_daemon_soak import (
    ORIGIN,
    Settings,
    domain_services,
    service_id,
    service_include,
    upstream_records,
)
from benchmarks.machine import ROOT, environment, measure_in_child, status_kib
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.publish.parallel import default_jobs
from spfmanager.publish.plan import Plan
from spfmanager.publish.workflow import Workspace

FLEETS = ("shared", "distinct")
SIZES = (10, 100, 1000, 10000)
QUICK_SIZES = (10, 30)
SERVICES = 20
MIXES = 10  # service sets of the shared fleet
SEED = 11
BASE = 100  # "per domain beyond the first BASE": (t(N) - t(BASE)) / (N - BASE)
OWN_NETWORK = 0x64400000  # 100.64.0.0/10 (RFC 6598): a /28 per distinct domain, 262,144 of them

# The targets.
SHARED_RATIO_MAX = 3.0  # t(10,000) / t(1,000), shared fleet
SHARED_MARGINAL_MS_MAX = 2.0  # ms per domain beyond the first 100, shared fleet at 10,000
DISTINCT_SECONDS_MAX = 120.0  # 10,000 distinct intents
PEAK_MIB_MAX = 300.0  # any run

# Functions whose direct callees --profile lists: where a plan's time goes, one level down.
BREAKDOWN = (
    ("publish/workflow.py", "plan"),
    ("flatten/flattener.py", "_flatten"),
    ("flatten/verify.py", "verify"),
    ("flatten/verify.py", "check"),
    ("publish/plan.py", "plan_domain"),
)


@dataclass(frozen=True)
class Domain:
    """One domain of a fleet: its services (1-based indexes) and its own range, if any."""

    name: str
    services: tuple[int, ...]
    ip4: str | None = None

    @property
    def written(self) -> str:
        """The domain's record as written, before flattening (what its zone holds today)."""
        terms = [f"include:{service_include(i)}" for i in self.services]
        if self.ip4 is not None:
            terms.append(f"ip4:{self.ip4}")
        return " ".join(["v=spf1", *terms, "-all"])


def fleet_domains(fleet: str, size: int, seed: int = SEED) -> list[Domain]:
    """The ``size`` domains of ``fleet``, deterministic for ``seed``."""
    if fleet not in FLEETS:
        raise ValueError(f"unknown fleet {fleet!r} (known: {', '.join(FLEETS)})")
    settings = Settings(
        domains=size, services=SERVICES, mixes=MIXES if fleet == "shared" else 0, seed=seed
    )
    domains = []
    for number, (name, services) in enumerate(domain_services(settings).items()):
        own = None
        if fleet == "distinct":
            address = OWN_NETWORK + 16 * number
            own = ".".join(str(address >> s & 0xFF) for s in (24, 16, 8, 0)) + "/28"
        domains.append(Domain(name, tuple(services), own))
    return domains


def zonedata() -> dict[str, list[dict[str, str]]]:
    """The upstream services as snapshot zonedata."""
    records = upstream_records(SERVICES, {})
    return {name: [{"TXT": value} for value in values] for name, values in records.items()}


def write_fleet(directory: Path, domains: Sequence[Domain]) -> Path:
    """``spfmanager.yaml`` (one zone per domain, SQLite state) and the zone files."""
    config: dict[str, Any] = {
        "defaults": {"policy": "-all", "ttl": 300, "provider": "local"},
        "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
        "state": {"url": "sqlite:///state.db"},
        "services": {
            service_id(i): {"name": f"Fleet service {i}", "include": [service_include(i)]}
            for i in range(1, SERVICES + 1)
        },
        "domains": {
            d.name: {"services": [service_id(i) for i in d.services]}
            | ({"ip4": [d.ip4]} if d.ip4 is not None else {})
            for d in domains
        },
    }
    zones = directory / "zones"
    zones.mkdir()
    for d in domains:
        (zones / f"{d.name}.zone").write_text(_zone_file(d), encoding="ascii")
    path = directory / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _zone_file(domain: Domain) -> str:
    name = domain.name
    return (
        f"$ORIGIN {name}.\n$TTL 3600\n"
        f"@ 3600 IN SOA ns1.{ORIGIN}. hostmaster.{name}. ( 1 3600 900 1209600 300 )\n"
        f"@ 3600 IN NS ns1.{ORIGIN}.\n"
        f'@ 3600 IN TXT "site-verification={zlib.crc32(name.encode()):010d}"\n'
        f'@ 3600 IN TXT "{domain.written}"\n'
    )


def peak_rss_kib() -> int | None:
    """This process's peak resident set size (``VmHWM``), in KiB."""
    return status_kib("VmHWM")


def _prepare(directory: Path, fleet: str, size: int, seed: int) -> tuple[Workspace, float]:
    config = write_fleet(directory, fleet_domains(fleet, size, seed))
    started = time.perf_counter()
    workspace = Workspace.load(config, SnapshotResolver(zonedata()))
    return workspace, time.perf_counter() - started


def measure(fleet: str, size: int, seed: int = SEED) -> dict[str, Any]:
    """Load and plan one fleet in this process; its row of the report."""
    with tempfile.TemporaryDirectory(prefix="spfmanager-fleet-") as directory:
        rss_before = peak_rss_kib()
        workspace, load_seconds = _prepare(Path(directory), fleet, size, seed)
        loaded = peak_rss_kib()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, cpu = time.perf_counter(), time.process_time()
        plan = workspace.plan()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = peak_rss_kib()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the build's workers, if any
        workers_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        resolver = workspace.resolver
        assert isinstance(resolver, SnapshotResolver)
        return {
            "fleet": fleet,
            "domains": size,
            "distinct_intents": len({i.record.render() for i in workspace.intents}),
            "load_seconds": round(load_seconds, 3),
            "plan_seconds": round(wall, 3),
            "plan_cpu_seconds": round(cpu, 3),
            "jobs": default_jobs(size),
            "workers_cpu_seconds": round(workers_cpu, 3),
            "workers_peak_rss_mib": round(after.ru_maxrss / 1024, 1) if workers_cpu else None,
            "ms_per_domain": round(1000 * wall / size, 3),
            "planned": len(plan.domains),
            "errors": len(plan.errors),
            "first_errors": plan.errors[:3],
            "changes": len(plan.changes),
            "dns_queries": resolver.queries,
            "rss_before_load_mib": None if rss_before is None else round(rss_before / 1024, 1),
            "peak_rss_after_load_mib": None if loaded is None else round(loaded / 1024, 1),
            "peak_rss_mib": None if peak is None else round(peak / 1024, 1),
        }


def _measure_in_child(fleet: str, size: int, seed: int, timeout: float | None) -> dict[str, Any]:
    """:func:`measure` in a fresh interpreter, so that its peak RSS is its own."""
    return measure_in_child(
        "benchmarks.bench_fleet",
        *("--one", f"{fleet}:{size}", "--seed", str(seed)),
        what=f"{fleet} x {size}",
        timeout=timeout,
    )


def _scaling(rows: list[dict[str, Any]]) -> None:
    """Add, per row, the ms per domain beyond the first ``BASE`` and t(N) / t(N/10)."""
    by_size = {r["domains"]: r for r in rows}
    base = by_size.get(BASE)
    for row in rows:
        n = row["domains"]
        row["ms_per_domain_beyond_100"] = (
            round(1000 * (row["plan_seconds"] - base["plan_seconds"]) / (n - BASE), 3)
            if base is not None and n > BASE
            else None
        )
        tenth = by_size.get(n // 10) if n % 10 == 0 else None
        row["ratio_to_tenth"] = (
            round(row["plan_seconds"] / tenth["plan_seconds"], 2)
            if tenth is not None and tenth["plan_seconds"] > 0
            else None
        )


def _target(
    fleet: str, name: str, limit: float, value: float | None, **extra: Any
) -> dict[str, Any]:
    return {
        "fleet": fleet,
        "target": name,
        "limit": limit,
        "value": value,
        "ok": None if value is None else value <= limit,
        **extra,
    }


def targets(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each of the issue's targets against the rows measured (``ok`` None: not measured)."""
    found: list[dict[str, Any]] = []
    by = {(r["fleet"], r["domains"]): r for r in rows}
    fleets = [f for f in FLEETS if any(r["fleet"] == f for r in rows)]
    for fleet in fleets:
        big = by.get((fleet, 10000))
        if fleet == "shared":
            found.append(
                _target(
                    fleet,
                    "t(10,000) / t(1,000)",
                    SHARED_RATIO_MAX,
                    None if big is None else big["ratio_to_tenth"],
                )
            )
            found.append(
                _target(
                    fleet,
                    "ms per domain beyond the first 100, at 10,000",
                    SHARED_MARGINAL_MS_MAX,
                    None if big is None else big["ms_per_domain_beyond_100"],
                )
            )
        else:
            projected = None
            largest = max((r for r in rows if r["fleet"] == fleet), key=lambda r: r["domains"])
            if big is None and largest["ms_per_domain_beyond_100"] is not None:
                base = by[(fleet, BASE)]["plan_seconds"]
                projected = round(
                    base + largest["ms_per_domain_beyond_100"] * (10000 - BASE) / 1000, 1
                )
            found.append(
                _target(
                    fleet,
                    "plan seconds at 10,000",
                    DISTINCT_SECONDS_MAX,
                    None if big is None else big["plan_seconds"],
                    projected=projected,
                    projected_from=None if projected is None else largest["domains"],
                )
            )
    peaks = [r["peak_rss_mib"] for r in rows if r["peak_rss_mib"] is not None]
    found.append(_target("any", "peak RSS MiB", PEAK_MIB_MAX, max(peaks) if peaks else None))
    return found


def run(
    sizes: Sequence[int] = SIZES,
    fleets: Sequence[str] = FLEETS,
    *,
    seed: int = SEED,
    quick: bool = False,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Every (fleet, size), each in its own interpreter; the report as a JSON-able dict."""
    sizes = QUICK_SIZES if quick else tuple(sizes)
    rows: list[dict[str, Any]] = []
    for fleet in fleets:
        fleet_rows = [_measure_in_child(fleet, size, seed, timeout) for size in sizes]
        _scaling(fleet_rows)
        rows.extend(fleet_rows)
    return {
        "benchmark": "fleet",
        "quick": quick,
        "environment": environment(),
        "settings": {"services": SERVICES, "shared_mixes": MIXES, "seed": seed},
        "rows": rows,
        "targets": targets(rows),
    }


def profile(
    fleet: str, size: int, *, seed: int = SEED, top: int = 30, dump: str | None = None
) -> str:
    """cProfile one plan (not the load) in this process; the top functions by cumulative
    and by own time."""
    with tempfile.TemporaryDirectory(prefix="spfmanager-fleet-") as directory:
        workspace, _ = _prepare(Path(directory), fleet, size, seed)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        plan: Plan = profiler.runcall(workspace.plan)
        elapsed = time.perf_counter() - started
    if dump is not None:
        profiler.dump_stats(dump)
    head = (
        f"{fleet} x {size:,}: plan {elapsed:.2f} s under cProfile, "
        f"{len(plan.domains):,} domains, {len(plan.errors)} errors"
    )
    return "\n".join([head, top_functions(pstats.Stats(profiler), top)])


def top_functions(stats: pstats.Stats, top: int = 30) -> str:
    """The ``top`` functions by cumulative and by own time, paths relative to the
    repository (``spfmanager/spf/evaluate.py:554``, not pstats' bare ``evaluate.py``)."""
    rows = stats.stats  # type: ignore[attr-defined]  # (file, line, name) -> counts, times
    lines: list[str] = []
    for title, column in (("cumulative", 3), ("tottime", 2)):
        lines += [
            "",
            f"-- top {top} by {title} --",
            f"{'ncalls':>16} {'tottime':>8} {'cumtime':>8}",
        ]
        ranked = sorted(rows.items(), key=lambda item: item[1][column], reverse=True)
        for (filename, line, name), (primitive, calls, own, cumulative, _) in ranked[:top]:
            ncalls = str(calls) if calls == primitive else f"{calls}/{primitive}"
            lines.append(
                f"{ncalls:>16} {own:8.3f} {cumulative:8.3f}  {_where(filename, line, name)}"
            )
    for suffix, name in BREAKDOWN:
        found = [key for key in rows if key[0].endswith(suffix) and key[2] == name]
        for parent in found:
            callees = [
                (timing[3], timing[2], key)
                for key, (*_, callers) in rows.items()
                if (timing := callers.get(parent)) is not None
            ]
            callees.sort(reverse=True)
            lines += ["", f"-- under {_where(*parent)}: callees by cumulative --"]
            for cumulative, own, key in callees[:12]:
                lines.append(f"{'':>16} {own:8.3f} {cumulative:8.3f}  {_where(*key)}")
    return "\n".join(lines)


def _where(filename: str, line: int, name: str) -> str:
    if filename == "~":  # a builtin
        return name
    path = Path(filename)
    for anchor in (ROOT, Path(sys.prefix)):
        if path.is_relative_to(anchor):
            path = path.relative_to(anchor)
            break
    return f"{path}:{line}({name})"


# -- output -----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(report: Mapping[str, Any]) -> str:
    """The report as plain-text tables."""
    columns = [
        ("fleet", "fleet"),
        ("domains", "domains"),
        ("distinct", "distinct_intents"),
        ("plan s", "plan_seconds"),
        ("CPU s", "plan_cpu_seconds"),
        ("jobs", "jobs"),
        ("workers CPU s", "workers_cpu_seconds"),
        ("ms/domain", "ms_per_domain"),
        ("ms/domain >100", "ms_per_domain_beyond_100"),
        ("x t(N/10)", "ratio_to_tenth"),
        ("peak MiB", "peak_rss_mib"),
        ("worker peak MiB", "workers_peak_rss_mib"),
        ("load s", "load_seconds"),
        ("errors", "errors"),
    ]
    table = [[h for h, _ in columns]]
    table += [[_cell(row[k]) for _, k in columns] for row in report["rows"]]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    lines = ["spfmanager plan, fleets of domains (wall seconds of Workspace.plan)", ""]
    for number, cells in enumerate(table):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += ["", "targets:"]
    for t in report["targets"]:
        verdict = {True: "pass", False: "FAIL", None: "not measured"}[t["ok"]]
        extra = ""
        if t.get("projected") is not None:
            extra = f" (projected from {t['projected_from']:,} domains: {t['projected']:g} s)"
        lines.append(
            f"  {t['fleet']}: {t['target']} <= {t['limit']:g}: {_cell(t['value'])} {verdict}{extra}"
        )
    for row in report["rows"]:
        for error in row["first_errors"]:
            lines.append(f"error ({row['fleet']} x {row['domains']}): {error}")
    return "\n".join(lines)


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in text.split(",") if s.strip())
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes are positive integers, comma-separated")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_fleet", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--sizes", type=_sizes, default=SIZES, help="e.g. 10,100,1000")
    parser.add_argument("--fleet", choices=(*FLEETS, "both"), default="both")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 and 30 domains")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--profile", type=int, metavar="N", help="cProfile the plan of N domains, in-process"
    )
    parser.add_argument(
        "--profile-out", metavar="FILE", help="also write the pstats data (FILE.FLEET for both)"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # FLEET:SIZE, the child's job
    args = parser.parse_args(argv)
    fleets = FLEETS if args.fleet == "both" else (args.fleet,)
    if args.one:
        fleet, _, size = args.one.partition(":")
        print(json.dumps(measure(fleet, int(size), args.seed)))
        return 0
    if args.profile:
        for fleet in fleets:
            dump = args.profile_out
            if dump is not None and len(fleets) > 1:
                dump = f"{dump}.{fleet}"  # one file per fleet
            print(profile(fleet, args.profile, seed=args.seed, dump=dump))
        return 0
    report = run(args.sizes, fleets, seed=args.seed, quick=args.quick)
    print(json.dumps(report, indent=2) if args.json else render(report))
    failed = any(r["errors"] for r in report["rows"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
