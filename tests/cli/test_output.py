"""What a human sees, and what a program reads: output is never cut, JSON has one shape.

Run as a user runs the commands: a fresh ``python -m spfmanager`` process, its stdout a
pipe (``COLUMNS`` makes the console narrow there too) or a pseudo-terminal.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.run import TERMINAL_SIZE, environment, run_cli, run_in_terminal

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "small-business"
ELLIPSIS = "…"  # what rich cuts a cell with (overflow="ellipsis")

LONG_DOMAIN = "a-rather-long-subdomain-name-for-folding-tests.mail.smallbiz.example"
GONE = "gone.a-vendor-with-a-long-name-that-no-longer-exists.example"
RECORD = (
    "v=spf1 include:spf.protection.outlook.com include:servers.mcsv.net "
    "ip4:198.51.100.16/28 ip4:203.0.113.25 ip6:2001:db8:1234:5678:9abc::/80 -all"
)


def checkout_environment(**extra: str) -> dict[str, str]:
    """This checkout's spfmanager (not whatever is installed), without the caller's COLUMNS."""
    return environment(unset=TERMINAL_SIZE, checkout=True, **extra)


def spfmanager(
    *args: str, cwd: Path, columns: int | None = None
) -> subprocess.CompletedProcess[str]:
    width = {} if columns is None else {"COLUMNS": str(columns)}
    return run_cli(*args, cwd=cwd, env=checkout_environment(**width), timeout=120)


def tables(text: str) -> list[dict[str, str]]:
    """Each rich table in ``text`` as {column header: column body}, each joined from its
    lines without whitespace: a folded or wrapped cell reads as one string again."""
    found: list[dict[str, str]] = []
    head: list[list[str]] = []
    body: list[list[str]] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("┏"):
            inside, head, body = True, [], []
        elif inside and line.startswith("┃"):
            head.append([c.strip() for c in line.strip("┃").split("┃")])
        elif inside and line.startswith("│"):
            body.append([c.strip() for c in line.strip("│").split("│")])
        elif inside and line.startswith("└"):
            inside = False
            width = len(head[0])
            assert all(len(row) == width for row in head + body), "a row of other columns"
            found.append(
                {
                    "".join(row[i].replace(" ", "") for row in head): "".join(
                        row[i].replace(" ", "") for row in body
                    )
                    for i in range(width)
                }
            )
    return found


def squeezed(text: str) -> str:
    return re.sub(r"\s", "", text)


def table_with(text: str, column: str) -> dict[str, str]:
    return next(t for t in tables(text) if column in t)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """small-business with a second, long-named domain whose vendor no longer exists."""
    for name in ("spfmanager.yaml", "dns-snapshot.yaml"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    with (tmp_path / "spfmanager.yaml").open("a", encoding="utf-8") as config:
        config.write(f"  {LONG_DOMAIN}:\n    include: [{GONE}]\n")
    return tmp_path


SNAPSHOT = ("--dns-snapshot", "dns-snapshot.yaml")
CONFIG = ("-c", "spfmanager.yaml", *SNAPSHOT)


# -- one JSON shape ---------------------------------------------------------------------------


def test_build_json_and_format_json_are_the_same_bytes(tmp_path: Path) -> None:
    args = ("build", "-c", str(EXAMPLE / "spfmanager.yaml"), "--dns-snapshot")
    args += (str(EXAMPLE / "dns-snapshot.yaml"),)
    as_json = spfmanager(*args, "--json", cwd=tmp_path)
    as_format = spfmanager(*args, "--format", "json", cwd=tmp_path)
    assert as_json.returncode == as_format.returncode == 0, as_format.stderr
    assert as_json.stdout == as_format.stdout
    (domain,) = json.loads(as_format.stdout)  # the richer shape: the build's, per domain
    assert domain["domain"] == "smallbiz.example" and domain["dns_change"] == "new"
    assert domain["zone"] == "smallbiz.example" and domain["records"]


def test_a_failed_build_is_the_same_json_both_ways(workdir: Path) -> None:
    as_json = spfmanager("build", *CONFIG, "--json", cwd=workdir)
    as_format = spfmanager("build", *CONFIG, "-f", "json", cwd=workdir)
    assert as_json.returncode == as_format.returncode == 1
    assert as_json.stdout == as_format.stdout
    failed = next(d for d in json.loads(as_format.stdout) if d["domain"] == LONG_DOMAIN)
    assert failed["dns_change"] == "none" and GONE in failed["error"]


@pytest.mark.parametrize("record", [RECORD, f"v=spf1 include:{GONE} -all"])
def test_flatten_json_and_format_json_are_the_same_bytes(record: str, tmp_path: Path) -> None:
    args = ("flatten", record, "-d", "smallbiz.example", "--dns-snapshot")
    args += (str(EXAMPLE / "dns-snapshot.yaml"),)
    as_json = spfmanager(*args, "--json", cwd=tmp_path)
    as_format = spfmanager(*args, "--format", "json", cwd=tmp_path)
    assert as_json.returncode == as_format.returncode
    assert as_json.stdout == as_format.stdout
    data = json.loads(as_format.stdout)
    assert isinstance(data, dict)  # one record's result (or refusal), as --json always was
    assert ("records" in data) if as_json.returncode == 0 else ("cause" in data)


@pytest.mark.parametrize("command", ["build", "flatten"])
def test_help_says_format_json_is_json(command: str, tmp_path: Path) -> None:
    done = spfmanager(command, "--help", cwd=tmp_path, columns=200)
    assert "'json' is the same as --json" in done.stdout


# -- never cut --------------------------------------------------------------------------------


def flat_records(cwd: Path) -> list[dict[str, str]]:
    done = spfmanager("flatten", RECORD, "-d", LONG_DOMAIN, *SNAPSHOT, "--json", cwd=cwd)
    records: list[dict[str, str]] = json.loads(done.stdout)["records"]
    return records


def assert_records_in_full(text: str, records: list[dict[str, str]]) -> None:
    assert ELLIPSIS not in text
    table = table_with(text, "record")
    assert table["name"] == "".join(squeezed(r["name"]) for r in records)
    assert table["record"] == "".join(squeezed(r["text"]) for r in records)
    for record in records:  # so every term is there, whole, in the table's record column
        for term in record["text"].split():
            assert term in table["record"]


def test_flatten_folds_a_long_name_and_record_in_a_narrow_pipe(workdir: Path) -> None:
    done = spfmanager("flatten", RECORD, "-d", LONG_DOMAIN, *SNAPSHOT, cwd=workdir, columns=60)
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 60
    assert_records_in_full(done.stdout, flat_records(workdir))


def test_build_shows_long_names_records_and_errors_in_full(workdir: Path) -> None:
    (workdir / "spfmanager.yaml").write_text(
        (workdir / "spfmanager.yaml")
        .read_text(encoding="utf-8")
        .replace("smallbiz.example:\n", f"{LONG_DOMAIN.replace('a-rather', 'ok')}:\n", 1),
        encoding="utf-8",
    )
    built = json.loads(spfmanager("build", *CONFIG, "--json", cwd=workdir).stdout)
    error = next(d["error"] for d in built if "error" in d)
    done = spfmanager("build", *CONFIG, "--verbose", cwd=workdir, columns=60)
    assert done.returncode == 1
    assert ELLIPSIS not in done.stdout
    summary = table_with(done.stdout, "proof/error")
    assert summary["domain"] == "".join(squeezed(d["domain"]) for d in built)
    assert squeezed(error) in summary["proof/error"]
    records = next(d["records"] for d in built if "records" in d)
    assert_records_in_full(done.stdout, records)
    # on stderr: one line per domain not built, in full, whatever the width
    assert f"not built {LONG_DOMAIN}: {error}" in done.stderr.splitlines()


def test_status_shows_long_reasons_in_full(workdir: Path) -> None:
    assert spfmanager("run-once", *CONFIG, cwd=workdir).returncode == 2
    rows = json.loads(spfmanager("status", "-c", "spfmanager.yaml", "--json", cwd=workdir).stdout)
    reasons = [r["last_run"]["reason"] for r in rows["domains"]]
    assert any(GONE in reason for reason in reasons)
    done = spfmanager("status", "-c", "spfmanager.yaml", cwd=workdir, columns=60)
    assert done.returncode == 2
    assert ELLIPSIS not in done.stdout
    table = table_with(done.stdout, "reason")
    assert table["domain"] == squeezed("smallbiz.example" + LONG_DOMAIN)
    assert table["reason"] == "".join(squeezed(reason) for reason in reasons)


def test_a_terminal_80_columns_wide_sees_the_records_in_full(workdir: Path) -> None:
    code, text = run_in_terminal("flatten", RECORD, "-d", LONG_DOMAIN, *SNAPSHOT, cwd=workdir)
    assert code == 0, text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert_records_in_full(text, flat_records(workdir))
