"""Reading DMARC aggregate reports: ``read_reports`` against parsedmarc and a naive reader.

A directory of 10,000 reports (``--reports``) is generated in a temporary directory: a mix
of plain ``.xml`` (50%), ``.xml.gz`` (30%) and ``.zip`` (20%), from five reporter styles
(Google without ``version``, Microsoft's namespaces, Yahoo's padded values, RFC 9990's
namespace, upper-cased results), 1-6 records each (about 1-4 KB of XML). Each reader then
reads the whole directory in a fresh interpreter, which reports its wall and CPU time and
its peak RSS (``VmHWM``) above the interpreter's RSS before reading:

* ``spfmanager``: ``read_reports([directory])`` (defusedxml pull parser, bounded
  decompression, typed rows);
* ``parsedmarc``: ``parsedmarc.parse_aggregate_report_file(file, offline=True)`` per file,
  when parsedmarc can be imported (``--parsedmarc-python`` names an interpreter that has
  it: parsedmarc pulls in ~20 packages and upgrades some, so it is best kept in a venv of
  its own); offline, so no DNS;
* ``etree``: the naive reader many scripts use: the whole file read, ``gzip.decompress`` /
  ``ZipFile.read`` without bounds, ``xml.etree.ElementTree.fromstring`` (no protection
  against entities or bombs), rows as dicts. The floor of what parsing costs in Python.

Before the table, the readers' report and row counts must agree.

Run from the repository root::

    python -m benchmarks.bench_discover                    # 10,000 reports
    python -m benchmarks.bench_discover --parsedmarc-python /tmp/parsedmarc-venv/bin/python
    python -m benchmarks.bench_discover --reports 2000 --json
    python -m benchmarks.bench_discover --quick            # smoke run: 200 reports
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import environment, measure_in_child, status_kib

REPORTS = 10_000
QUICK_REPORTS = 200
SEED = 13
READERS = ("spfmanager", "parsedmarc", "etree")
STYLES = ("google", "microsoft", "yahoo", "rfc9990", "upper")


# -- the corpus ---------------------------------------------------------------------------


def _record(rng: random.Random, style: str) -> str:
    pad = "\t " if style == "yahoo" else ""
    case = str.title if style == "upper" else str
    if rng.random() < 0.2:
        ip = f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
    else:
        octets = (rng.choice((192, 198, 203)), rng.randrange(256), rng.randrange(256))
        ip = ".".join(map(str, (*octets, rng.randrange(1, 255))))
    dkim, spf = rng.choice(("pass", "fail")), rng.choice(("pass", "fail"))
    envelope = (
        "" if style == "google" else f"<envelope_from>bounce.example.com{pad}</envelope_from>"
    )
    scope = "" if style == "rfc9990" else "<scope>mfrom</scope>"
    return (
        "<record><row>"
        f"<source_ip>{ip}{pad}</source_ip><count>{rng.randrange(1, 500)}{pad}</count>"
        f"<policy_evaluated><disposition>{case('none')}</disposition><dkim>{case(dkim)}</dkim>"
        f"<spf>{case(spf)}</spf></policy_evaluated></row>"
        f"<identifiers>{envelope}<header_from>example.com{pad}</header_from></identifiers>"
        "<auth_results>"
        f"<dkim><domain>example.com</domain><selector>s{rng.randrange(9)}</selector>"
        f"<result>{case(dkim)}</result></dkim>"
        f"<spf><domain>bounce.example.com</domain>{scope}<result>{case(spf)}</result></spf>"
        "</auth_results></record>\n"
    )


def report_xml(number: int, rng: random.Random) -> tuple[str, bytes, int]:
    """Report ``number``: its style, XML and record count."""
    style = STYLES[number % len(STYLES)]
    begin = 1_700_000_000 + 86_400 * (number % 365)
    opening = {
        "google": "<feedback>",
        "microsoft": '<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><version>1.0</version>',
        "yahoo": "<feedback><version>1.0</version>",
        "rfc9990": '<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0"><version>1.0</version>',
        "upper": "<feedback>",
    }[style]
    records = rng.randrange(1, 7)
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"{opening}<report_metadata><org_name>{style}.example</org_name>"
        f"<email>dmarc@{style}.example</email><report_id>{number}-{rng.getrandbits(48):x}"
        f"</report_id><date_range><begin>{begin}</begin><end>{begin + 86_399}</end>"
        "</date_range></report_metadata><policy_published><domain>example.com</domain>"
        "<adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct>"
        "</policy_published>\n"
        + "".join(_record(rng, style) for _ in range(records))
        + "</feedback>\n"
    )
    return style, xml.encode(), records


def generate(directory: Path, count: int, seed: int = SEED) -> dict[str, int]:
    """``count`` reports in ``directory`` (100 per subdirectory); the totals written."""
    rng = random.Random(seed)
    totals = {"reports": 0, "rows": 0, "bytes": 0, "xml": 0, "gz": 0, "zip": 0}
    for number in range(count):
        style, xml, records = report_xml(number, rng)
        folder = directory / f"{number // 100:03d}"
        folder.mkdir(exist_ok=True)
        name = f"{style}.example!example.com!{number}"
        draw = rng.random()
        if draw < 0.5:
            path, kind = folder / f"{name}.xml", "xml"
            path.write_bytes(xml)
        elif draw < 0.8:
            path, kind = folder / f"{name}.xml.gz", "gz"
            path.write_bytes(gzip.compress(xml, mtime=0))
        else:
            path, kind = folder / f"{name}.zip", "zip"
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(f"{name}.xml", xml)
            path.write_bytes(buffer.getvalue())
        totals["reports"] += 1
        totals["rows"] += records
        totals["bytes"] += path.stat().st_size
        totals[kind] += 1
    return totals


# -- the readers (each in its own interpreter) --------------------------------------------


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def _read_spfmanager(directory: Path) -> tuple[int, int, int]:
    from spfmanager.discover.model import Report  # noqa: PLC0415  # timed in the child
    from spfmanager.discover.sources import read_reports  # noqa: PLC0415

    reports = rows = skipped = 0
    for result in read_reports([directory]):
        if isinstance(result, Report):
            reports += 1
            rows += len(result.rows)
        else:
            skipped += 1
    return reports, rows, skipped


def _read_parsedmarc(directory: Path) -> tuple[int, int, int]:
    import logging  # noqa: PLC0415

    import parsedmarc  # type: ignore[import-not-found]  # noqa: PLC0415

    logging.getLogger("parsedmarc").setLevel(logging.CRITICAL)
    reports = rows = skipped = 0
    for path in _files(directory):
        try:  # a str would be taken for base64 content (parsedmarc 11): pass the file
            with path.open("rb") as handle:
                report = parsedmarc.parse_aggregate_report_file(handle, offline=True)
        except Exception:  # parsedmarc's InvalidAggregateReport and friends
            skipped += 1
            continue
        reports += 1
        rows += len(report["records"])
    return reports, rows, skipped


def _read_etree(directory: Path) -> tuple[int, int, int]:
    from xml.etree import ElementTree  # noqa: PLC0415  # unsafe on purpose: the floor

    reports = rows = skipped = 0
    for path in _files(directory):
        data = path.read_bytes()
        if data.startswith(b"\x1f\x8b"):
            documents = [gzip.decompress(data)]
        elif data.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                documents = [archive.read(name) for name in archive.namelist()]
        else:
            documents = [data]
        for document in documents:
            try:
                root = ElementTree.fromstring(document)
            except ElementTree.ParseError:
                skipped += 1
                continue
            found = []
            for record in root.iter():
                if not record.tag.endswith("record"):
                    continue
                row = {
                    child.tag.rpartition("}")[2]: (child.text or "").strip()
                    for part in record.iter()
                    for child in part
                    if not len(child)
                }
                found.append(row)
            reports += 1
            rows += len(found)
    return reports, rows, skipped


READ = {"spfmanager": _read_spfmanager, "parsedmarc": _read_parsedmarc, "etree": _read_etree}


def measure(reader: str, directory: Path) -> dict[str, Any]:
    """Read ``directory`` with ``reader`` in this process; its row of the report."""
    if reader == "spfmanager":  # import before the clock, as the others' imports are
        import spfmanager.discover.sources  # noqa: F401, PLC0415
    elif reader == "parsedmarc":
        import parsedmarc  # noqa: F401, PLC0415
    rss_before = status_kib("VmRSS") or 0
    wall, cpu = time.perf_counter(), time.process_time()
    reports, rows, skipped = READ[reader](directory)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = status_kib("VmHWM") or 0
    return {
        "reader": reader,
        "reports": reports,
        "rows": rows,
        "skipped": skipped,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "reports_per_second": round(reports / wall, 1) if wall else None,
        "rss_before_mib": round(rss_before / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "peak_above_start_mib": round((peak - rss_before) / 1024, 1),
    }


def _python_for(reader: str, parsedmarc_python: str | None) -> str | None:
    """The interpreter to run ``reader`` in; None when it cannot run here."""
    if reader != "parsedmarc":
        return sys.executable
    for candidate in (parsedmarc_python, sys.executable):
        if candidate is None:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import parsedmarc"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return candidate
    return None


def _measure_in_child(
    reader: str, directory: Path, python: str, timeout: float | None
) -> dict[str, Any]:
    row = measure_in_child(
        "benchmarks.bench_discover",
        *("--one", reader, "--dir", str(directory)),
        what=reader,
        python=python,
        timeout=timeout,
    )
    row["python"] = python
    return row


def run(
    count: int = REPORTS,
    *,
    seed: int = SEED,
    quick: bool = False,
    timeout: float | None = None,
    parsedmarc_python: str | None = None,
    readers: Sequence[str] = READERS,
) -> dict[str, Any]:
    """Generate the corpus, read it with every reader; the report as a JSON-able dict."""
    count = QUICK_REPORTS if quick else count
    rows: list[dict[str, Any]] = []
    missing: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="spfmanager-discover-") as temporary:
        directory = Path(temporary)
        started = time.perf_counter()
        corpus = generate(directory, count, seed)
        corpus["generate_seconds"] = round(time.perf_counter() - started, 2)
        for reader in readers:
            python = _python_for(reader, parsedmarc_python)
            if python is None:
                missing[reader] = "not importable (pip install parsedmarc; --parsedmarc-python)"
                continue
            rows.append(_measure_in_child(reader, directory, python, timeout))
    base = next((r for r in rows if r["reader"] == "spfmanager"), None)
    for row in rows:
        row["agrees"] = (row["reports"], row["rows"]) == (corpus["reports"], corpus["rows"])
        row["speed_vs_spfmanager"] = (
            round(row["reports_per_second"] / base["reports_per_second"], 2)
            if base and base["reports_per_second"] and row["reports_per_second"]
            else None
        )
    return {
        "benchmark": "discover",
        "quick": quick,
        "environment": environment(),
        "corpus": corpus,
        "rows": rows,
        "missing": missing,
    }


# -- output -------------------------------------------------------------------------------


def render(report: Mapping[str, Any]) -> str:
    """The report as a plain-text table."""
    corpus = report["corpus"]
    lines = [
        f"read_reports over {corpus['reports']:,} reports ({corpus['xml']:,} xml, "
        f"{corpus['gz']:,} gz, {corpus['zip']:,} zip; {corpus['rows']:,} rows, "
        f"{corpus['bytes'] / 1024 / 1024:.1f} MiB on disk)",
        "",
        f"{'reader':<12} {'reports':>8} {'rows':>8} {'seconds':>8} {'reports/s':>10} "
        f"{'peak MiB':>9} {'+MiB':>7} {'vs spfm':>8}  agrees",
    ]
    for row in report["rows"]:
        ratio = row["speed_vs_spfmanager"]
        lines.append(
            f"{row['reader']:<12} {row['reports']:>8,} {row['rows']:>8,} {row['seconds']:>8.2f} "
            f"{row['reports_per_second']:>10,.0f} {row['peak_rss_mib']:>9.1f} "
            f"{row['peak_above_start_mib']:>7.1f} "
            f"{'-' if ratio is None else f'{ratio:.2f}x':>8}  {'yes' if row['agrees'] else 'NO'}"
        )
    for reader, why in report["missing"].items():
        lines.append(f"{reader:<12} {why}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=REPORTS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 reports")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--parsedmarc-python", help="an interpreter that can import parsedmarc")
    parser.add_argument("--readers", default=",".join(READERS))
    parser.add_argument("--one", choices=READERS, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.dir)))
        return 0
    report = run(
        args.reports,
        seed=args.seed,
        quick=args.quick,
        parsedmarc_python=args.parsedmarc_python,
        readers=[r for r in args.readers.split(",") if r],
    )
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if all(row["agrees"] for row in report["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
