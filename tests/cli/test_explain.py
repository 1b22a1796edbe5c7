"""``spfmanager explain``: exit codes, JSON and clean errors."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spfmanager.cli import app
from tests.cli.run import environment, run_cli
from tests.explain import hostile

DATA = Path(__file__).parent.parent / "data"
MESSAGES = DATA / "messages"
CUSTOMERS = {
    "example.com": [{"TXT": "v=spf1 include:spf.protection.outlook.com -all"}],
    "example.net": [{"TXT": "v=spf1 mx ip4:203.0.113.25 -all"}, {"MX": [10, "mail.example.net"]}],
    "mail.example.net": [{"A": "203.0.113.10"}],
    "example.edu": [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}],
}
DEADLINE = 5.0  # seconds for one explain run, however hostile the message
runner = CliRunner()


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """provider-snapshot.yaml plus the sample messages' domains, as a --dns-snapshot file."""
    zone = yaml.safe_load((DATA / "provider-snapshot.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "snapshot.yaml"
    path.write_text(yaml.safe_dump({**zone, **CUSTOMERS}), encoding="utf-8")
    return path


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["explain", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_failing_message_exits_2_with_a_proven_fix(snapshot: Path) -> None:
    code, out, _ = run(MESSAGES / "m365-quarantine.eml", "--dns-snapshot", snapshot)
    assert code == 2
    assert "167.89.101.42" in out
    assert "include:sendgrid.net" in out
    assert "verified: pass" in out


def test_json_output(snapshot: Path) -> None:
    code, out, _ = run(MESSAGES / "ipv6-sender.eml", "--dns-snapshot", snapshot, "--json")
    assert code == 2
    data = json.loads(out)
    assert data["connection"] == {
        "ip": "2001:db8:4:2::25",
        "ip_source": "recorded by the receiver",
        "mailfrom": "ops@example.edu",
        "helo": "mail6.example.edu",
    }
    assert data["then"]["result"] == "fail"
    assert data["now"]["result"] == "fail"
    assert data["diagnosis"]["cause"] == "not-authorised"
    assert data["fix"]["proposed"] == "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:4:2::25 -all"
    assert data["fix"]["verified_result"] == "pass"
    assert {o["action"] for o in data["receivers"]} >= {"reject"}


def test_passing_message_exits_0(snapshot: Path) -> None:
    code, out, _ = run(MESSAGES / "internal-relay.eml", "--dns-snapshot", snapshot, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["connection"]["ip_source"] == "from the Received chain"
    assert data["change"] == "now-passes"
    assert data["fix"] is None


def test_ip_option(snapshot: Path) -> None:
    code, out, _ = run(
        MESSAGES / "ipv6-sender.eml", "--dns-snapshot", snapshot, "--ip", "192.0.2.7", "--json"
    )
    assert code == 0
    assert json.loads(out)["connection"]["ip"] == "192.0.2.7"


def test_full_trace_shows_dns_queries(snapshot: Path) -> None:
    code, out, _ = run(MESSAGES / "internal-relay.eml", "--dns-snapshot", snapshot, "--trace")
    assert code == 0
    assert "example.net MX" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("missing.eml",), "missing.eml: cannot read"),
        (("--ip", "not-an-ip"), "--ip needs an IP address"),
    ],
)
def test_errors_exit_1_with_one_line(
    snapshot: Path, tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    target = tmp_path / args[0] if args[0].endswith(".eml") else MESSAGES / "ipv6-sender.eml"
    extra = args[1:] if args[0].endswith(".eml") else args
    code, out, err = run(target, "--dns-snapshot", snapshot, *extra)
    assert code == 1
    assert needle in err
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1


def test_no_headers_to_work_with(snapshot: Path, tmp_path: Path) -> None:
    path = tmp_path / "note.eml"
    path.write_text("Subject: just a note\n\nNo trace headers here.\n", encoding="utf-8")
    code, _, err = run(path, "--dns-snapshot", snapshot)
    assert code == 1
    assert "note.eml" in err
    assert "--ip" in err


def test_unreadable_snapshot(tmp_path: Path) -> None:
    code, _, err = run(MESSAGES / "ipv6-sender.eml", "--dns-snapshot", tmp_path / "none.yaml")
    assert code == 1
    assert "cannot read snapshot" in err


@pytest.mark.parametrize(
    ("build", "note"),
    [
        (lambda: hostile.nested_rfc822(2000), None),
        (lambda: hostile.many_received(100_000), "only the first 1,000 were read"),
        (lambda: hostile.nested_multiparts(2000), "nested more than 20 levels deep"),
    ],
    ids=["2,000 nested message/rfc822", "100,000 Received", "2,000 nested multiparts"],
)
def test_hostile_message_gets_a_clean_bounded_answer(
    snapshot: Path, tmp_path: Path, build: Callable[[], bytes], note: str | None
) -> None:
    path = tmp_path / "hostile.eml"
    path.write_bytes(build())
    start = time.perf_counter()
    code, out, err = run(path, "--dns-snapshot", snapshot, "--json")
    assert time.perf_counter() - start < DEADLINE
    assert code == 2, err
    data = json.loads(out)
    assert data["connection"]["ip"] == "198.51.100.99"
    assert data["now"]["result"] == "fail"
    if note is None:
        assert data["message"]["skipped"] == []
    else:
        assert any(note in line for line in data["notes"])
        assert any(note in line for line in data["summary"])
    code, out, _ = run(path, "--dns-snapshot", snapshot)
    assert code == 2
    assert "Traceback" not in out
    if note is not None:
        assert note in " ".join(out.split())  # rich may wrap the line


def test_hostile_message_without_evidence_is_a_one_line_error(
    snapshot: Path, tmp_path: Path
) -> None:
    path = tmp_path / "deep.eml"
    path.write_bytes(hostile.nested_multiparts(2000).replace(hostile.VERDICT, b"", 1))
    code, out, err = run(path, "--dns-snapshot", snapshot)
    assert code == 1
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1
    assert "deep.eml" in err and "--ip" in err and "nested more than 20 levels deep" in err


# -- the config edit (issue 12): which service or address to add to spfmanager.yaml ----------

ROOT = Path(__file__).parents[2]
CONFIG = """\
defaults: {policy: "-all", provider: local}
providers:
  local: {kind: zonefile, directory: zones}
services:
  campus-relay: {name: Campus relay, ip6: ["2001:db8:4::/48"]}
domains:
  example.com:
    services: [microsoft365, {hubspot: {account_id: "1234567"}}]
  example.edu:
    ip4: ["192.0.2.0/24"]
"""


def explain_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m spfmanager explain ...`` as a user runs it, on this checkout's code."""
    return run_cli("explain", *args, cwd=cwd, env=environment(checkout=True))


def explain_configured(
    message: str, snapshot: Path, cwd: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """``explain`` of a sample message with ``-c spfmanager.yaml`` and the snapshot."""
    return explain_cli(
        MESSAGES / message, "-c", "spfmanager.yaml", "--dns-snapshot", snapshot, *extra, cwd=cwd
    )


def write_config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_edit_names_the_file_domain_and_line(snapshot: Path, tmp_path: Path) -> None:
    write_config(tmp_path)
    done = explain_configured("m365-quarantine.eml", snapshot, tmp_path)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stdout.split())
    assert (
        "Config edit: add `sendgrid` (Twilio SendGrid) to `domains.example.com.services` "
        "in spfmanager.yaml (line 8), then plan and apply." in text
    )
    assert 'services: [microsoft365, {"hubspot": {"account_id": "1234567"}}, sendgrid]' in text
    data = json.loads(
        explain_configured("m365-quarantine.eml", snapshot, tmp_path, "--json").stdout
    )
    edit = data["config_edit"]
    assert {k: edit[k] for k in ("kind", "file", "line", "path", "value", "service_name")} == {
        "kind": "add",
        "file": "spfmanager.yaml",
        "line": 8,
        "path": "domains.example.com.services",
        "value": "sendgrid",
        "service_name": "Twilio SendGrid",
    }
    assert yaml.safe_load(edit["snippet"]) == {
        "domains": {
            "example.com": {
                "services": ["microsoft365", {"hubspot": {"account_id": "1234567"}}, "sendgrid"]
            }
        }
    }
    assert data["fix"]["proposed"].startswith("v=spf1 include:spf.protection.outlook.com")
    assert "include:sendgrid.net" in data["fix"]["proposed"]  # the same service, both ways


def test_config_edit_without_a_config_is_a_snippet(snapshot: Path, tmp_path: Path) -> None:
    done = explain_cli(MESSAGES / "m365-quarantine.eml", "--dns-snapshot", snapshot, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "add `sendgrid` (Twilio SendGrid) to `domains.example.com.services`" in done.stdout
    assert "domains:\n  example.com:\n    services: [sendgrid]\n" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_config_edit_of_an_address_no_service_covers(snapshot: Path, tmp_path: Path) -> None:
    write_config(tmp_path, CONFIG.replace("2001:db8:4::/48", "2001:db8:ffff::/48"))
    done = explain_configured("ipv6-sender.eml", snapshot, tmp_path, "--json")
    assert done.returncode == 2, done.stderr
    edit = json.loads(done.stdout)["config_edit"]
    assert (edit["kind"], edit["path"], edit["value"], edit["line"]) == (
        "add",
        "domains.example.edu.ip6",
        "2001:db8:4:2::25",
        9,  # no ip6 key yet: the domain's line
    )
    assert yaml.safe_load(edit["snippet"]) == {
        "domains": {"example.edu": {"ip6": ["2001:db8:4:2::25"]}}
    }


def test_config_edit_prefers_the_configs_own_service(snapshot: Path, tmp_path: Path) -> None:
    write_config(tmp_path)
    done = explain_configured("ipv6-sender.eml", snapshot, tmp_path, "--json")
    data = json.loads(done.stdout)
    edit = data["config_edit"]
    assert (edit["kind"], edit["path"], edit["value"], edit["service_name"]) == (
        "add",
        "domains.example.edu.services",
        "campus-relay",
        "Campus relay",
    )
    assert "spfmanager.yaml" in edit["message"] and "`campus-relay`" in edit["message"]


def test_config_edit_when_the_config_already_lists_the_service(
    snapshot: Path, tmp_path: Path
) -> None:
    write_config(tmp_path, CONFIG.replace("[microsoft365,", "[microsoft365, sendgrid,"))
    done = explain_configured("m365-quarantine.eml", snapshot, tmp_path)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stdout.split())
    assert "spfmanager.yaml (line 8) already lists `sendgrid` (Twilio SendGrid)" in text
    assert "run `spfmanager plan -c spfmanager.yaml`" in text


def test_config_edit_for_a_domain_the_config_does_not_manage(
    snapshot: Path, tmp_path: Path
) -> None:
    write_config(tmp_path, CONFIG.replace("  example.com:\n", "  example.org:\n"))
    done = explain_configured("m365-quarantine.eml", snapshot, tmp_path, "--json")
    edit = json.loads(done.stdout)["config_edit"]
    assert edit["kind"] == "add-domain"
    assert "spfmanager.yaml does not manage example.com" in edit["message"]
    assert yaml.safe_load(edit["snippet"]) == {
        "domains": {"example.com": {"services": ["sendgrid"]}}
    }


def test_no_config_edit_for_a_passing_message(snapshot: Path, tmp_path: Path) -> None:
    write_config(tmp_path)
    done = explain_configured("internal-relay.eml", snapshot, tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["config_edit"] is None


def test_a_bad_config_is_a_clean_error(snapshot: Path, tmp_path: Path) -> None:
    write_config(tmp_path, CONFIG.replace("microsoft365", "microsoft356"))
    done = explain_configured("m365-quarantine.eml", snapshot, tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "spfmanager.yaml:8: domains.example.com.services[0]: unknown service" in done.stderr


def test_message_text_is_printed_as_written_never_as_markup(snapshot: Path, tmp_path: Path) -> None:
    """A subject is the sender's text: rich markup or emoji codes in it are shown as is."""
    subject = "[bold red]URGENT[/] :warning: invoice [link=http://x]here[/link]"
    text = (MESSAGES / "m365-quarantine.eml").read_text(encoding="utf-8")
    message = tmp_path / "markup.eml"
    message.write_text(
        text.replace("Subject: Invoice INV-2025-0311 is ready", f"Subject: {subject}"),
        encoding="utf-8",
    )
    done = explain_cli(message, "--dns-snapshot", snapshot, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert subject in done.stdout
