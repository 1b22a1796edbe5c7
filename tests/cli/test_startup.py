"""``--help`` loads typer, rich and the option types only: start-up is the import.

Each check runs the CLI in a fresh interpreter and asserts on the modules it loaded (the
set, not the time: ``benchmarks/bench_startup.py`` measures the time). A command module
imports what its signature needs at module level and everything else inside the command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from spfmanager.cli import app, defaults

ROOT = Path(__file__).resolve().parents[2]

# Never needed to print help: the state store, templates, scheduler, metrics, providers' SDKs.
HEAVY = (
    "sqlalchemy",
    "jinja2",
    "apscheduler",
    "prometheus_client",
    "boto3",
    "botocore",
    "cloudflare",
    "dns",  # dnspython: only the live resolver needs it
    "yaml",
    "spfmanager.publish.workflow",
    "spfmanager.daemon.runner",
)
# The spfmanager modules --help may load besides spfmanager.cli.*: the package root and the
# light modules that define option types and the vocabularies module-level tables use.
LIGHT = {
    "spfmanager",
    "spfmanager._source_layout",
    "spfmanager.providers",  # the package only, mounted in a source checkout; no adapter
    "spfmanager.publish",  # an empty __init__
    "spfmanager.publish.formats",  # ExportFormat, the type of --format
    "spfmanager.spf",  # a docstring-only __init__
    "spfmanager.spf.limits",
    "spfmanager.spf.results",
    "spfmanager.spf.trace",
}

RUN_CLI = """
import json, sys
out, sys.argv = sys.argv[1], ["spfmanager", *sys.argv[2:]]
from spfmanager.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def loaded(tmp_path: Path, *args: str) -> tuple[set[str], str]:
    """The modules ``spfmanager ARGS`` loaded in a fresh interpreter, and its stdout."""
    report = tmp_path / "modules.json"
    completed = subprocess.run(
        [sys.executable, "-c", RUN_CLI, str(report), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["code"] in (0, None), completed.stderr
    return set(data["modules"]), completed.stdout


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def beyond_light(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if (m == "spfmanager" or m.startswith("spfmanager."))
        and not m.startswith("spfmanager.cli")
        and m not in LIGHT
    )


def command_names() -> list[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.main.TyperGroup)
    return sorted(group.commands)


def test_top_level_help_loads_nothing_heavy(tmp_path: Path) -> None:
    modules, out = loaded(tmp_path, "--help")
    assert "Usage" in out and "daemon" in out and "plan" in out
    assert heavy(modules) == []
    assert beyond_light(modules) == [], "import these inside the commands that use them"
    assert "pydantic" not in modules  # typer needs it only to run a command


@pytest.mark.parametrize("command", command_names())
def test_command_help_loads_nothing_heavy(tmp_path: Path, command: str) -> None:
    modules, out = loaded(tmp_path, command, "--help")
    assert "Usage" in out and command in out
    assert heavy(modules) == []
    assert beyond_light(modules) == [], "import these inside the commands that use them"


def test_the_listed_commands_include_plan_and_daemon() -> None:
    assert {"plan", "apply", "daemon", "check", "flatten", "build"} <= set(command_names())


def test_option_defaults_are_the_librarys() -> None:
    from spfmanager.audit import DEFAULT_CHECK_DEADLINE  # noqa: PLC0415
    from spfmanager.flatten import DEFAULT_LOOKUP_BUDGET  # noqa: PLC0415
    from spfmanager.flatten.budget import DEFAULT_DEADLINE, DEFAULT_QUERY_BUDGET  # noqa: PLC0415

    assert defaults.LOOKUP_BUDGET == DEFAULT_LOOKUP_BUDGET
    assert defaults.QUERY_BUDGET == DEFAULT_QUERY_BUDGET
    assert defaults.FLATTEN_DEADLINE == DEFAULT_DEADLINE
    assert defaults.CHECK_DEADLINE == DEFAULT_CHECK_DEADLINE


def test_export_format_is_reexported_where_it_was() -> None:
    from spfmanager.publish import export, formats  # noqa: PLC0415

    assert export.ExportFormat is formats.ExportFormat


LAZY_API = """
import sys
import spfmanager
loaded = sorted(m for m in sys.modules if m.startswith("spfmanager."))
assert loaded in (["spfmanager._source_layout"],
                  ["spfmanager._source_layout", "spfmanager.providers"]), loaded
flatten = spfmanager.flatten
import spfmanager.flatten.pack  # binds the subpackage on spfmanager: the function stays
from spfmanager.flatten import pack
from spfmanager.flatten.flattener import flatten as defined
assert spfmanager.flatten is flatten is defined, spfmanager.flatten
from spfmanager import SnapshotResolver, errors, evaluate, flatten as imported
assert imported is defined and callable(evaluate)
assert spfmanager.dns.snapshot.SnapshotResolver is SnapshotResolver
for name in spfmanager.__all__:
    getattr(spfmanager, name)
assert set(spfmanager.__all__) <= set(dir(spfmanager))
try:
    spfmanager.no_such_name
except AttributeError:
    pass
else:
    raise AssertionError("no AttributeError")
"""


def test_import_spfmanager_is_lazy_and_keeps_the_api() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", LAZY_API],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
