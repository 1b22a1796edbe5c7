"""Start-up time: ``spfmanager --help`` and ``import spfmanager`` against pyspf and the floor.

Every row is a fresh interpreter (``sys.executable``), timed from spawn to exit with its
output thrown away; the rows run round-robin (one run of each, N times) so that a busy
moment of a shared machine spreads over all of them, and each row reports its median.
Ratios are against pyspf's command line (``spfquery.py --help``: ``python -m spf -h``
would also run pyspf's doctests) and against ``python -c pass``, the floor no command can
go under. "typer app" is a two-command typer app (``--help``, and ``one --help`` for a
command's help): what typer and rich cost by themselves, the floor of any typer CLI.

Run from the repository root::

    python -m benchmarks.bench_startup                    # rich table, 20 runs a row
    python -m benchmarks.bench_startup --runs 50          # steadier medians
    python -m benchmarks.bench_startup --json             # for machines
    python -m benchmarks.bench_startup --quick            # smoke run, numbers not meaningful
    python -m benchmarks.bench_startup --compare-tree DIR # also rows for the spfmanager in DIR

``--compare-tree`` takes a directory holding another ``spfmanager/`` (and ``providers/``)
source tree, e.g. a copy of an older checkout, and times it side by side (put first on
``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from spfmanager.cli.common import console

ROOT = Path(__file__).resolve().parents[1]
FLOOR = "python -c pass"
PYSPF_CLI = "spfquery.py --help (pyspf)"
TYPER_APP = """
import typer
app = typer.Typer(add_completion=False)
@app.command()
def one(x: int = 1) -> None: ...
@app.command()
def two(x: int = 1) -> None: ...
app()
"""


@dataclass(frozen=True)
class Row:
    label: str
    argv: tuple[str, ...]
    pythonpath: str | None = None  # first on PYTHONPATH (--compare-tree)


@dataclass(frozen=True)
class Measurement:
    label: str
    median_ms: float
    min_ms: float
    runs: int
    vs_pyspf_cli: float | None  # median / pyspf CLI's median (lower is faster)
    vs_floor: float  # median / python -c pass


def pyspf_cli() -> str | None:
    """pyspf's ``spfquery.py`` script, installed next to this interpreter."""
    scripts = Path(sysconfig.get_path("scripts")) / "spfquery.py"
    if scripts.is_file():
        return str(scripts)
    return shutil.which("spfquery.py")


def rows(compare_tree: Path | None) -> list[Row]:
    python = sys.executable
    found: list[Row] = [Row(FLOOR, (python, "-c", "pass"))]
    spfquery = pyspf_cli()
    if spfquery is not None:
        found.append(Row(PYSPF_CLI, (python, spfquery, "--help")))
    found += [
        Row("python -c 'import spf'", (python, "-c", "import spf")),
        Row("typer app --help", (python, "-c", TYPER_APP, "--help")),
        Row("typer app one --help", (python, "-c", TYPER_APP, "one", "--help")),
    ]
    trees: list[tuple[str, str | None]] = [("", None)]
    if compare_tree is not None:
        trees.append((f" ({compare_tree.name})", str(compare_tree.resolve())))
    for suffix, path in trees:
        found += [
            Row(f"spfmanager --help{suffix}", (python, "-m", "spfmanager", "--help"), path),
            Row(
                f"spfmanager check --help{suffix}",
                (python, "-m", "spfmanager", "check", "--help"),
                path,
            ),
            Row(f"import spfmanager{suffix}", (python, "-c", "import spfmanager"), path),
        ]
    return found


def run_once(row: Row) -> float:
    env = dict(os.environ)
    cwd = ROOT
    if row.pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [row.pythonpath, env.get("PYTHONPATH")]))
        cwd = Path(row.pythonpath)  # not the repository root: its spfmanager/ would win
    start = time.perf_counter()
    subprocess.run(
        row.argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return (time.perf_counter() - start) * 1000


def measure(all_rows: list[Row], runs: int) -> list[Measurement]:
    for row in all_rows:  # warm-up: bytecode caches written, files in the page cache
        run_once(row)
    times: dict[str, list[float]] = {row.label: [] for row in all_rows}
    for _ in range(runs):
        for row in all_rows:
            times[row.label].append(run_once(row))
    medians = {label: statistics.median(t) for label, t in times.items()}
    floor = medians[FLOOR]
    pyspf = medians.get(PYSPF_CLI)
    return [
        Measurement(
            label=label,
            median_ms=round(medians[label], 1),
            min_ms=round(min(t), 1),
            runs=len(t),
            vs_pyspf_cli=None if pyspf is None else round(medians[label] / pyspf, 2),
            vs_floor=round(medians[label] / floor, 2),
        )
        for label, t in times.items()
    ]


def environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    versions: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    for package in ("spfmanager", "pyspf", "typer", "rich"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return versions


def render(results: list[Measurement], runs: int) -> Table:
    table = Table(title=f"Start-up time (median of {runs} runs, fresh interpreter each)")
    table.add_column("command")
    for column in ("median ms", "min ms", "vs pyspf CLI", "vs floor"):
        table.add_column(column, justify="right")
    for m in results:
        ratio = "-" if m.vs_pyspf_cli is None else f"{m.vs_pyspf_cli:.2f}x"
        table.add_row(m.label, f"{m.median_ms:.1f}", f"{m.min_ms:.1f}", ratio, f"{m.vs_floor:.2f}x")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (3 runs a row)")
    parser.add_argument("--runs", type=int, default=20, help="runs per row (default 20)")
    parser.add_argument(
        "--compare-tree",
        type=Path,
        metavar="DIR",
        help="also time the spfmanager source tree in DIR (e.g. a copy of an older checkout)",
    )
    args = parser.parse_args(argv)
    if args.compare_tree is not None and not (args.compare_tree / "spfmanager").is_dir():
        parser.error(f"{args.compare_tree} holds no spfmanager/ directory")
    runs = 3 if args.quick else max(1, args.runs)
    results = measure(rows(args.compare_tree), runs)
    if args.json:
        document = {
            "quick": args.quick,
            "runs": runs,
            "environment": environment(),
            "results": [asdict(m) for m in results],
        }
        print(json.dumps(document, indent=2))
    else:
        console().print(render(results, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
