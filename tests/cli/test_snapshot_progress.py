"""``spfmanager snapshot`` shows its progress on stderr: a line per domain in a pipe or CI
log, a bar on a terminal; stdout only says what was written."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.cli.run import run_in_terminal
from tests.cli.test_output import EXAMPLE, spfmanager

SNAPSHOT = ("--dns-snapshot", "dns-snapshot.yaml")


def workdir(tmp_path: Path, *extra_domains: str) -> Path:
    """small-business, with more domains (YAML lines under ``domains:``)."""
    for name in ("spfmanager.yaml", "dns-snapshot.yaml"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    with (tmp_path / "spfmanager.yaml").open("a", encoding="utf-8") as config:
        config.writelines(f"  {line}\n" for line in extra_domains)
    return tmp_path


def test_a_pipe_gets_one_line_per_domain_on_stderr(tmp_path: Path) -> None:
    cwd = workdir(tmp_path, "news.example: {services: [mailchimp]}")
    done = spfmanager("snapshot", "-c", "spfmanager.yaml", *SNAPSHOT, "-o", "out.yaml", cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "snapshot [1/2] smallbiz.example",
        "snapshot [2/2] news.example",
    ]
    assert done.stdout == "wrote 2 names to out.yaml\n"  # clean: no progress on stdout
    recorded = yaml.safe_load((cwd / "out.yaml").read_text(encoding="utf-8"))
    assert set(recorded) == {"spf.protection.outlook.com", "servers.mcsv.net"}


def test_a_domain_that_cannot_be_built_is_a_step_too_and_named_once(tmp_path: Path) -> None:
    cwd = workdir(
        tmp_path,
        "broken.example: {include: [gone.vendor.example]}",
        "news.example: {services: [mailchimp]}",
    )
    done = spfmanager("snapshot", "-c", "spfmanager.yaml", *SNAPSHOT, "-o", "out.yaml", cwd=cwd)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[:3] == [
        "snapshot [1/3] smallbiz.example",
        "snapshot [2/3] broken.example (not built)",
        "snapshot [3/3] news.example",
    ]
    (error,) = (line for line in lines if line.startswith("error "))
    assert error.startswith("error broken.example: include:gone.vendor.example: ")  # once
    assert lines[-1] == "1 of 3 domains could not be built"
    assert done.stdout == "wrote 2 names to out.yaml\n"


def test_on_a_terminal_it_shows_a_bar_and_completes(tmp_path: Path) -> None:
    cwd = workdir(tmp_path, "news.example: {services: [mailchimp]}")
    code, text = run_in_terminal(
        "snapshot", "-c", "spfmanager.yaml", *SNAPSHOT, "-o", "out.yaml", cwd=cwd
    )
    assert code == 0, text
    assert "wrote 2 names to out.yaml" in text
    assert "snapshot [1/2]" not in text  # a bar, not the lines for logs
    assert (cwd / "out.yaml").is_file()
