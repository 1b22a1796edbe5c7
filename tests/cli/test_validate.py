"""``spfmanager validate``: load and compile a config offline, as a user runs it.

Offline is proven, not assumed: configs whose includes cannot resolve, whose provider
credentials name unset variables and whose state store cannot be opened still validate.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.run import TERMINAL_SIZE, environment, run_cli

ROOT = Path(__file__).parents[2]


def spfmanager(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, env=environment(unset=(*TERMINAL_SIZE, "NO_SUCH_KEY")))


@pytest.mark.parametrize(
    ("example", "summary"),
    [
        ("small-business", "valid: 1 domain, 3 services"),
        ("over-limit", "valid: 2 domains, 14 services"),
    ],
)
def test_examples_are_valid(example: str, summary: str, tmp_path: Path) -> None:
    path = ROOT / "examples" / example / "spfmanager.yaml"
    done = spfmanager("validate", "-c", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{path}: {summary}\n"


def test_sends_no_dns_reads_no_credentials_opens_no_state(tmp_path: Path) -> None:
    """An include that cannot resolve (.invalid never does), a route53 account whose
    keys are unset variables, and a state URL no driver could open: all fine offline."""
    (tmp_path / "spfmanager.yaml").write_text(
        "defaults: {policy: '-all', provider: aws}\n"
        "providers:\n"
        "  aws: {kind: route53, hosted_zone_id: Z123, aws_access_key_id: 'env:NO_SUCH_KEY',\n"
        "        aws_secret_access_key: 'file:/nonexistent/secret'}\n"
        "state: {url: 'postgresql+psycopg://nobody@192.0.2.1:1/none'}\n"
        "domains:\n"
        "  example.com:\n"
        "    services: [microsoft365]\n"
        "    include: [spf.unresolvable.invalid]\n",
        encoding="utf-8",
    )
    done = spfmanager("validate", "-c", "spfmanager.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "spfmanager.yaml: valid: 1 domain, 1 service\n"
    assert not (tmp_path / "spfmanager.db").exists()


def test_every_problem_is_listed_with_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "domains:\n"
        "  example.com:\n"
        "    services: [microsoft365, google]\n"
        "    ip4: ['192.0.2.0/33']\n"
        "    policy: '+all'\n",
        encoding="utf-8",
    )
    done = spfmanager("validate", "-c", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    err = done.stderr
    assert (
        "bad.yaml:3: domains.example.com.services[1]: unknown service 'google'; "
        "did you mean 'google-workspace'?" in err
    )
    assert "bad.yaml:4: domains.example.com.ip4[0]:" in err
    assert "bad.yaml:5: domains.example.com.policy:" in err


def test_compile_problems_are_found_too(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "domains:\n"
        "  mail.example.com:\n"
        "    zone: other.example\n"
        "    services: [microsoft365]\n"
        "    keep: ['include:not.there.example']\n",
        encoding="utf-8",
    )
    done = spfmanager("validate", "-c", "c.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert "c.yaml:3: domains.mail.example.com.zone: mail.example.com is not inside zone" in (
        done.stderr
    )
    assert "c.yaml:5: domains.mail.example.com.keep[0]:" in done.stderr


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_an_unknown_service_suggests_the_closest_id(command: str, tmp_path: Path) -> None:
    (tmp_path / "spfmanager.yaml").write_text(
        "domains:\n  example.com:\n    services:\n      - google\n", encoding="utf-8"
    )
    (tmp_path / "dns.yaml").write_text("{}\n", encoding="utf-8")
    extra = ["--dns-snapshot", "dns.yaml"] if command == "plan" else []
    done = spfmanager(command, "-c", "spfmanager.yaml", *extra, cwd=tmp_path)
    assert done.returncode == 1
    assert (
        "spfmanager.yaml:4: domains.example.com.services[0]: unknown service 'google'; "
        "did you mean 'google-workspace'?" in done.stderr
    )


def test_no_domain_and_no_file_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("defaults: {policy: '-all'}\n", encoding="utf-8")
    done = spfmanager("validate", "-c", "empty.yaml", cwd=tmp_path)
    assert done.returncode == 1 and "no domain is configured" in done.stderr
    missing = spfmanager("validate", "-c", "missing.yaml", cwd=tmp_path)
    assert missing.returncode == 1 and "missing.yaml" in missing.stderr
