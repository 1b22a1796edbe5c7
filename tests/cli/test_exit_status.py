"""Exit statuses a CI script can trust: a usage error is 1, never 2 ("changes pending").

Run as a user runs the command: a fresh ``python -m spfmanager`` process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spfmanager import __version__
from tests.cli.run import run_cli

EXAMPLE = Path(__file__).parents[2] / "examples" / "small-business"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--bogus"], "No such option: --bogus"),
        (["check"], "Missing argument"),
        (["no-such-command"], "No such command"),
        (["build", "--format", "nonsense"], "Invalid value for '--format'"),
        (["plan", "-c"], "requires an argument"),
    ],
)
def test_usage_errors_exit_1_and_say_why_on_stderr(
    args: list[str], message: str, tmp_path: Path
) -> None:
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert message in done.stderr
    assert done.stdout == ""


def test_help_exits_0(tmp_path: Path) -> None:
    done = run_cli("plan", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "Usage" in done.stdout


def test_changes_pending_is_still_2(tmp_path: Path) -> None:
    """The one meaning of 2 for plan: changes are pending (here: nothing published yet)."""
    for name in ("spfmanager.yaml", "dns-snapshot.yaml"):
        (tmp_path / name).write_text((EXAMPLE / name).read_text(encoding="utf-8"), encoding="utf-8")
    done = run_cli(
        "plan", "-c", "spfmanager.yaml", "--dns-snapshot", "dns-snapshot.yaml", cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr


def test_applying_a_saved_plan_of_a_failed_domain_says_so_and_fails(tmp_path: Path) -> None:
    (tmp_path / "spfmanager.yaml").write_text(
        "defaults: {policy: '-all', provider: local}\n"
        "providers: {local: {kind: zonefile, directory: zones}}\n"
        "state: {url: 'sqlite:///spfmanager.db'}\n"
        "domains:\n"
        "  ok.example: {ip4: ['192.0.2.0/24']}\n"
        "  broken.example: {include: ['gone.vendor.example']}\n",
        encoding="utf-8",
    )
    (tmp_path / "dns-snapshot.yaml").write_text("{}\n", encoding="utf-8")  # gone: NXDOMAIN
    args = ("-c", "spfmanager.yaml", "--dns-snapshot", "dns-snapshot.yaml")
    planned = run_cli("plan", *args, "--out", "plan.json", cwd=tmp_path)
    assert planned.returncode == 1  # a domain cannot be built
    applied = run_cli("apply", *args, "--plan", "plan.json", cwd=tmp_path)
    assert applied.returncode == 1, applied.stdout
    assert "in sync" not in applied.stdout
    assert "not published" in applied.stderr and "broken.example" in applied.stderr
    assert "gone.vendor.example" in applied.stderr
    again = run_cli("apply", *args, "--plan", "plan.json", cwd=tmp_path)
    assert again.returncode == 1 and "broken.example" in again.stderr


@pytest.mark.parametrize("command", ["plan", "build", "apply"])
def test_a_config_without_domains_is_an_error(command: str, tmp_path: Path) -> None:
    (tmp_path / "spfmanager.yaml").write_text("domains: {}\n", encoding="utf-8")
    done = run_cli(command, "-c", "spfmanager.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert "spfmanager.yaml: domains: no domain is configured" in done.stderr
    assert done.stdout == ""


def test_a_snapshot_with_a_domain_that_cannot_be_built_says_which_and_fails(
    tmp_path: Path,
) -> None:
    (tmp_path / "spfmanager.yaml").write_text(
        "domains:\n"
        "  ok.example: {include: ['vendor.example']}\n"
        "  broken.example: {include: ['gone.vendor.example']}\n",
        encoding="utf-8",
    )
    (tmp_path / "upstream.yaml").write_text(
        "vendor.example:\n- TXT: v=spf1 ip4:192.0.2.0/24 -all\n", encoding="utf-8"
    )
    done = run_cli(
        "snapshot",
        "-c",
        "spfmanager.yaml",
        "--dns-snapshot",
        "upstream.yaml",
        "-o",
        "out.yaml",
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "broken.example" in done.stderr and "1 of 2 domains could not be built" in done.stderr
    assert "vendor.example" in (tmp_path / "out.yaml").read_text(encoding="utf-8")  # still written


def test_a_snapshot_of_a_config_without_domains_fails(tmp_path: Path) -> None:
    (tmp_path / "spfmanager.yaml").write_text("domains: {}\n", encoding="utf-8")
    done = run_cli("snapshot", "-c", "spfmanager.yaml", cwd=tmp_path)
    assert done.returncode == 1 and "no domain is configured" in done.stderr
    assert not (tmp_path / "dns-snapshot.yaml").exists()


@pytest.mark.parametrize("output", [[], ["--json"], ["--format", "terraform-route53"]])
def test_a_build_with_a_domain_that_cannot_be_built_names_it_on_stderr(
    output: list[str], tmp_path: Path
) -> None:
    (tmp_path / "spfmanager.yaml").write_text(
        "domains:\n  broken.example: {include: ['gone.vendor.example']}\n", encoding="utf-8"
    )
    (tmp_path / "dns-snapshot.yaml").write_text("{}\n", encoding="utf-8")
    done = run_cli(
        "build",
        "-c",
        "spfmanager.yaml",
        "--dns-snapshot",
        "dns-snapshot.yaml",
        *output,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "not built" in done.stderr and "broken.example" in done.stderr
    assert "gone.vendor.example" in done.stderr


def test_build_and_plan_agree_after_apply(tmp_path: Path) -> None:
    """One truth: right after apply, build's 'vs published' is what plan says (in sync)."""
    for name in ("spfmanager.yaml", "dns-snapshot.yaml"):
        (tmp_path / name).write_text((EXAMPLE / name).read_text(encoding="utf-8"), encoding="utf-8")
    args = ("-c", "spfmanager.yaml", "--dns-snapshot", "dns-snapshot.yaml")
    before = run_cli("build", *args, "--json", cwd=tmp_path)
    assert [d["dns_change"] for d in json.loads(before.stdout)] == ["new"]
    assert run_cli("apply", *args, cwd=tmp_path).returncode == 0
    assert run_cli("plan", *args, cwd=tmp_path).returncode == 0  # in sync
    after = run_cli("build", *args, "--json", cwd=tmp_path)
    assert [d["dns_change"] for d in json.loads(after.stdout)] == ["unchanged"]
    zone = tmp_path / "zones" / "smallbiz.example.zone"
    zone.write_text(zone.read_text(encoding="utf-8").replace("-all", "~all"), encoding="utf-8")
    edited = run_cli("build", *args, "--json", cwd=tmp_path)
    assert [d["dns_change"] for d in json.loads(edited.stdout)] == ["changed"]


def test_a_saved_plan_applied_twice_or_gone_stale_changes_nothing(tmp_path: Path) -> None:
    for name in ("spfmanager.yaml", "dns-snapshot.yaml"):
        (tmp_path / name).write_text((EXAMPLE / name).read_text(encoding="utf-8"), encoding="utf-8")
    args = ("-c", "spfmanager.yaml", "--dns-snapshot", "dns-snapshot.yaml")
    assert run_cli("plan", *args, "--out", "plan.json", cwd=tmp_path).returncode == 2
    first = run_cli("apply", *args, "--plan", "plan.json", cwd=tmp_path)
    assert first.returncode == 0 and "create smallbiz.example" in first.stdout
    zone = tmp_path / "zones" / "smallbiz.example.zone"
    applied = zone.read_text(encoding="utf-8")
    again = run_cli("apply", *args, "--plan", "plan.json", cwd=tmp_path)
    assert again.returncode == 0
    assert "every change of plan.json is already in effect" in again.stdout
    assert "create" not in again.stdout and zone.read_text(encoding="utf-8") == applied
    # A plan made, then overtaken by a hand edit: refused, nothing written.
    config = tmp_path / "spfmanager.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace('"-all"', '"~all"'), "utf-8")
    assert run_cli("plan", *args, "--out", "p2.json", cwd=tmp_path).returncode == 2
    edited = applied.replace("-all", "?all")
    zone.write_text(edited, encoding="utf-8")
    stale = run_cli("apply", *args, "--plan", "p2.json", cwd=tmp_path)
    assert stale.returncode == 1 and "changed since the plan was made" in stale.stderr
    assert zone.read_text(encoding="utf-8") == edited


def test_version(tmp_path: Path) -> None:
    done = run_cli("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == f"spfmanager {__version__}\n"
