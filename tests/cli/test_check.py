"""``spfmanager check`` through typer's CliRunner, on the offline provider snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from spfmanager.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def snap(provider_snapshot_path: Path) -> str:
    return str(provider_snapshot_path)


def run(*args: str) -> Result:
    return runner.invoke(app, ["check", *args])


def assert_clean_error(result: Result) -> None:
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_audit_with_errors_exits_2(snap: str) -> None:
    result = run("github.com", "--dns-snapshot", snap)
    assert result.exit_code == 2, result.output
    out = result.stdout
    assert "include:esp.github.com" in out
    assert "include-missing" in out
    assert "Verdict: permerror" in out
    assert "DNS lookups: 8 / 10" in out
    assert "include:_spf.google.com  4 lookups" in out  # the include itself + 3 below it


def test_clean_audit_exits_0(snap: str) -> None:
    result = run("amazonses.com", "--dns-snapshot", snap)
    assert result.exit_code == 0, result.output
    assert "No problems found." in result.stdout
    assert "Verdict: fail" in result.stdout


def test_warnings_only_exit_0(snap: str) -> None:
    result = run("wepay.com", "--dns-snapshot", snap)
    assert result.exit_code == 0
    assert "void-lookup" in result.stdout


def test_audit_json(snap: str) -> None:
    result = run("mondialrelay.fr", "--dns-snapshot", snap, "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["domain"] == "mondialrelay.fr"
    assert data["ok"] is False
    assert data["lookups"] == {"count": 11, "limit": 10}
    assert data["verdict"]["result"] == "permerror"
    assert "too-many-lookups" in {f["code"] for f in data["findings"]}
    first = data["tree"]["children"][0]
    assert first["term"] == "include:spf.protection.outlook.com"
    assert data["verdict"]["evaluation"]["trace"]


def test_connection_pass_exits_0_with_trace(snap: str) -> None:
    result = run(
        "mondialrelay.fr", "--dns-snapshot", snap, "--ip", "40.92.1.1",
        "--sender", "alice@mondialrelay.fr", "--helo", "mail.example.org",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Result: pass" in out
    assert "[check] check_host(40.92.1.1, mondialrelay.fr, alice@mondialrelay.fr)" in out
    assert "  [match] ip4:40.92.0.0/15: match" in out  # indented: one include deep
    assert "Accepted by all 15 receiver settings." in out


def test_connection_fail_exits_2_with_receivers(snap: str) -> None:
    result = run("amazonses.com", "--dns-snapshot", snap, "--ip", "192.0.2.1")
    assert result.exit_code == 2
    assert "Result: fail" in result.stdout
    assert "What receivers do with this result" in result.stdout
    assert "Rejected by Mailborder (strict)" in result.stdout


def test_connection_json(snap: str) -> None:
    result = run("github.com", "--dns-snapshot", snap, "--ip", "192.0.2.1", "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["evaluation"]["result"] == "permerror"
    assert "esp.github.com" in data["evaluation"]["reason"]
    assert {step["kind"] for step in data["evaluation"]["trace"]} >= {"check", "query", "error"}
    assert len(data["receivers"]) == 15
    engines = {r["receiver"]: r["engine"] for r in data["receivers"]}
    assert engines["Mailborder"]["profile"] == "rfc7208"
    assert engines["Mailborder"]["documented"] is False and engines["Mailborder"]["source"]
    assert data["summary"].startswith("Rejected by")


def test_sender_local_part_only(snap: str) -> None:
    result = run("amazonses.com", "--dns-snapshot", snap, "--ip", "192.0.2.1", "--sender", "bob")
    assert "bob@amazonses.com" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("amazonses.com", "--ip", "192.0.2.999"),
        ("amazonses.com", "--ip", "192.0.2.1", "--sender", "bob@elsewhere.example"),
        ("amazonses.com", "--sender", "bob@amazonses.com"),
        ("not_a_domain",),
        ("amazonses.com", "--nameserver", "127.0.0.1"),
    ],
)
def test_bad_input_is_one_line(snap: str, args: tuple[str, ...]) -> None:
    assert_clean_error(run(*args, "--dns-snapshot", snap))


def test_missing_snapshot(tmp_path: Path) -> None:
    result = run("example.com", "--dns-snapshot", str(tmp_path / "nope.yaml"))
    assert_clean_error(result)
    assert "cannot read snapshot" in result.stderr


def test_invalid_snapshot(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("example.com: [ {TXT: 'v=spf1 -all'\n", encoding="utf-8")
    assert_clean_error(run("example.com", "--dns-snapshot", str(bad)))
    bad.write_text("example.com:\n  - BOGUS: 1\n", encoding="utf-8")
    assert_clean_error(run("example.com", "--dns-snapshot", str(bad)))


def test_bad_nameserver_without_snapshot() -> None:
    assert_clean_error(run("example.com", "--nameserver", "ns.example.com"))


def test_unreachable_domain_dns_exits_1(tmp_path: Path) -> None:
    zone = tmp_path / "zone.yaml"
    zone.write_text("example.com:\n  - TIMEOUT\n", encoding="utf-8")
    result = run("example.com", "--dns-snapshot", str(zone))
    assert result.exit_code == 1
    assert "dns-error" in result.stdout
    assert "Verdict: temperror" in result.stdout


def test_help_documents_exit_codes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "Exit status" in result.stdout
    assert "--dns-snapshot" in result.stdout


def test_connection_shows_each_receiver_library(tmp_path: Path) -> None:
    # Three MX hosts without an address: RFC 7208 counts the MX query only (fail), pyspf and
    # Mail::SPF count each empty host lookup as void and give permerror past two.
    zone = {
        "voidmx.test": [
            {"TXT": "v=spf1 mx -all"},
            *({"MX": [10, f"mx{n}.voidmx.test"]} for n in range(3)),
        ],
        **{f"mx{n}.voidmx.test": [{"TXT": "not an address"}] for n in range(3)},
    }
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps(zone), encoding="utf-8")
    result = run("voidmx.test", "--dns-snapshot", str(snapshot), "--ip", "192.0.2.1", "--json")
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert data["evaluation"]["result"] == "fail"
    libraries = {entry["profile"]: entry for entry in data["libraries"]}
    assert set(libraries) == {"pyspf", "mailspf", "libspf2", "mailauth"}
    for name in ("pyspf", "mailspf"):
        assert libraries[name]["result"] == "permerror", libraries[name]
        assert libraries[name]["same_as_rfc7208"] is False
    text = run("voidmx.test", "--dns-snapshot", str(snapshot), "--ip", "192.0.2.1").stdout
    assert "The same connection at each receiver library" in text
    assert "Read differently by: pyspf" in text


def test_connection_tables_are_not_cut_in_a_pipe(snap: str) -> None:
    result = run("amazonses.com", "--dns-snapshot", snap, "--ip", "192.0.2.1")
    assert "…" not in result.stdout
    assert "(a guess)" in result.stdout  # the receivers' likely SPF engine
