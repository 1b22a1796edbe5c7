"""``spfmanager discover``: run as a user runs it, a fresh ``python -m spfmanager`` process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

import yaml

from tests.cli.run import run_cli

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data"

M365_IP = "40.107.22.10"  # spf.protection.outlook.com: 40.107.0.0/16
SENDGRID_IP = "167.89.10.20"  # sendgrid.net: 167.89.0.0/17
UNKNOWN_IP = "203.0.113.66"

CONFIG = """\
# our senders
domains:
  example.com:
    services: [microsoft365]  # mailboxes
"""


def spfmanager(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, timeout=120)


def aggregate_xml(org: str, report_id: str, begin: int, rows: list[tuple[str, int, str]]) -> str:
    records = "".join(
        f"""<record><row><source_ip>{ip}</source_ip><count>{count}</count>
<policy_evaluated><disposition>none</disposition><dkim>{spf}</dkim><spf>{spf}</spf>
</policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers>
<auth_results><dkim><domain>example.com</domain><result>{spf}</result></dkim>
<spf><domain>example.com</domain><result>{spf}</result></spf></auth_results></record>"""
        for ip, count, spf in rows
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feedback><report_metadata><org_name>{escape(org)}</org_name><email>dmarc@example.net</email>
<report_id>{report_id}</report_id><date_range><begin>{begin}</begin>
<end>{begin + 86399}</end></date_range></report_metadata>
<policy_published><domain>example.com</domain><p>none</p></policy_published>
{records}</feedback>
"""


def synthetic(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    reports.mkdir()
    day = 1_740_787_200  # 2025-03-01
    (reports / "google.xml").write_text(
        aggregate_xml(
            "google.com",
            "g1",
            day,
            [(M365_IP, 120, "pass"), (SENDGRID_IP, 40, "fail"), (UNKNOWN_IP, 7, "fail")],
        ),
        encoding="utf-8",
    )
    (reports / "outlook.xml").write_text(
        aggregate_xml("<b>Outlook</b> & co", "o1", day + 86400, [(SENDGRID_IP, 10, "fail")]),
        encoding="utf-8",
    )
    (reports / "notes.txt").write_text("not a report\n", encoding="utf-8")
    (tmp_path / "spfmanager.yaml").write_text(CONFIG, encoding="utf-8")
    return reports


def test_sendgrid_fails_with_a_proven_edit_then_apply_fixes_it(tmp_path: Path) -> None:
    synthetic(tmp_path)
    snapshot = str(DATA / "provider-snapshot.yaml")
    args = ("discover", "reports", "-c", "spfmanager.yaml", "--dns-snapshot", snapshot)
    done = spfmanager(*args, "--json", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    data = json.loads(done.stdout)
    assert data["reports"] == 2
    assert data["skipped"] == [
        {"file": "reports/notes.txt", "reason": data["skipped"][0]["reason"]}
    ]
    by_ip = {s["ip"]: s for s in data["sources"]}
    assert by_ip[M365_IP]["status"] == "authorized"
    assert by_ip[M365_IP]["service"] == "microsoft365"
    sendgrid = by_ip[SENDGRID_IP]
    assert (sendgrid["status"], sendgrid["service"], sendgrid["messages"]) == (
        "failing-legitimate",
        "sendgrid",
        50,
    )
    assert sendgrid["spf"] == {"fail": 50} and sendgrid["dkim"] == {"fail": 50}
    assert sendgrid["envelope_domains"] == {"example.com": 50}
    assert sendgrid["first_seen"].startswith("2025-03-01")
    assert sendgrid["last_seen"].startswith("2025-03-02")
    unknown = by_ip[UNKNOWN_IP]
    assert (unknown["status"], unknown["service"], unknown["messages"]) == ("unknown", None, 7)
    (suggestion,) = data["suggestions"]
    assert suggestion["service"] == "sendgrid" and suggestion["domain"] == "example.com"
    assert suggestion["proven_ips"] == [SENDGRID_IP]
    assert suggestion["config_edit"] == (
        "add `sendgrid` (Twilio SendGrid) to `domains.example.com.services` in "
        "spfmanager.yaml (line 4), then plan and apply"
    )

    human = spfmanager(*args, cwd=tmp_path)
    assert human.returncode == 2
    assert "2 reports read, 1 skipped" in human.stdout
    assert "Legitimate but failing (1)" in human.stdout
    assert "services: [microsoft365, sendgrid]" in human.stdout
    assert "Unknown senders (1)" in human.stdout
    assert "skipped reports/notes.txt" in human.stderr

    applied = spfmanager(*args, "--apply-suggestions", cwd=tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert (tmp_path / "spfmanager.yaml").read_text(encoding="utf-8") == CONFIG.replace(
        "[microsoft365]", "[microsoft365, sendgrid]"
    )
    again = spfmanager(*args, "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    after = json.loads(again.stdout)
    assert after["suggestions"] == []
    statuses = {s["ip"]: s["status"] for s in after["sources"]}
    assert statuses == {M365_IP: "authorized", SENDGRID_IP: "authorized", UNKNOWN_IP: "unknown"}


def test_html_report_is_written(tmp_path: Path) -> None:
    synthetic(tmp_path)
    snapshot = str(DATA / "provider-snapshot.yaml")
    done = spfmanager(
        "discover", "reports", "--dns-snapshot", snapshot, "--html", "out.html", cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    page = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;Outlook&lt;/b&gt; &amp; co" in page
    assert "<b>Outlook</b>" not in page


def test_the_real_samples(tmp_path: Path) -> None:
    """The bundled third-party reports, with a snapshot in which SendGrid's record also
    lists the network of the samples' 12.20.127.x senders."""
    zone = yaml.safe_load((DATA / "provider-snapshot.yaml").read_text(encoding="utf-8"))
    zone["sendgrid.net"] = [{"TXT": "v=spf1 ip4:167.89.0.0/17 ip4:12.20.127.0/24 ~all"}]
    zone["example.com"] = [{"TXT": "v=spf1 include:spf.protection.outlook.com -all"}]
    (tmp_path / "snapshot.yaml").write_text(yaml.safe_dump(zone), encoding="utf-8")
    done = spfmanager(
        "discover",
        str(DATA / "dmarc"),
        "--domain",
        "example.com",
        "--dns-snapshot",
        "snapshot.yaml",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    data = json.loads(done.stdout)
    assert data["reports"] > 10
    assert any("not well-formed XML" in s["reason"] for s in data["skipped"])
    by_ip = {s["ip"]: s for s in data["sources"]}
    assert {s["domain"] for s in data["sources"]} == {"example.com"}
    assert by_ip["12.20.127.40"]["service"] == "sendgrid"
    assert by_ip["12.20.127.40"]["status"] == "failing-legitimate"
    assert by_ip["192.0.2.123"]["status"] == "unknown"
    assert by_ip["192.0.2.123"]["messages"] == 123
    (suggestion,) = data["suggestions"]
    assert suggestion["service"] == "sendgrid"
    assert {"12.20.127.40", "12.20.127.122"} <= set(suggestion["proven_ips"])
    assert all(ip.startswith("12.20.127.") for ip in suggestion["proven_ips"])
    assert suggestion["unproven_ips"] == []


def test_no_readable_report_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("nothing\n", encoding="utf-8")
    done = spfmanager(
        "discover", "x.txt", "--dns-snapshot", str(DATA / "provider-snapshot.yaml"), cwd=tmp_path
    )
    assert done.returncode == 1
    assert "no DMARC report could be read" in done.stderr
    assert "skipped x.txt" in done.stderr


def test_apply_needs_a_config(tmp_path: Path) -> None:
    done = spfmanager("discover", "x.xml", "--apply-suggestions", cwd=tmp_path)
    assert done.returncode == 1 and "needs -c FILE" in done.stderr


def test_a_bad_config_is_an_error(tmp_path: Path) -> None:
    synthetic(tmp_path)
    (tmp_path / "bad.yaml").write_text("domains:\n  example.com:\n    services: [nope]\n")
    done = spfmanager(
        "discover",
        "reports",
        "-c",
        "bad.yaml",
        "--dns-snapshot",
        str(DATA / "provider-snapshot.yaml"),
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "bad.yaml:3" in done.stderr
