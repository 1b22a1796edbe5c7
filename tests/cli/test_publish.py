"""build / plan / apply / flatten / snapshot through the real CLI: exit codes, JSON, files."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spfmanager.cli import app
from spfmanager.publish.apply import RETIRE_GRACE_SECONDS
from spfmanager.publish.state import utcnow
from tests.test_workflow import UPSTREAM, workspace, write_config

EXAMPLES = Path(__file__).parent.parent.parent / "examples"
DATA = Path(__file__).parent.parent / "data"
runner = CliRunner()


@pytest.fixture
def example(tmp_path: Path) -> Path:
    target = tmp_path / "small-business"
    shutil.copytree(EXAMPLES / "small-business", target)
    return target


def config_args(example: Path) -> list[str]:
    """-c and --dns-snapshot for an example directory."""
    return [
        "-c",
        str(example / "spfmanager.yaml"),
        "--dns-snapshot",
        str(example / "dns-snapshot.yaml"),
    ]


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_plan_exit_codes_follow_the_state_of_dns(example: Path) -> None:
    common = config_args(example)
    code, out = run("plan", *common, "--json")
    assert code == 2
    plan = json.loads(out)
    assert not plan["in_sync"] and plan["domains"][0]["changes"]
    code, out = run("apply", *common)
    assert code == 0 and "create" in out
    code, out = run("plan", *common, "--json")
    assert code == 0 and json.loads(out)["in_sync"]
    code, out = run("apply", *common, "--json")
    assert code == 0 and json.loads(out)["applied"] == []


def test_saved_plan_is_applied_exactly(example: Path) -> None:
    common = config_args(example)
    plan_file = example / "plan.json"
    code, _ = run("plan", *common, "--out", str(plan_file))
    assert code == 2
    code, out = run("apply", *common, "--plan", str(plan_file))
    assert code == 0
    zone = (example / "zones" / "smallbiz.example.zone").read_text()
    assert "v=spf1" in zone and "ip4:198.51.100.16/28" in zone
    # Applying the same plan again is idempotent: every record already holds its new value.
    code, out = run("apply", *common, "--plan", str(plan_file))
    assert code == 0
    assert (example / "zones" / "smallbiz.example.zone").read_text() == zone
    # A plan made from a state that no longer holds is refused, naming the record.
    zone_file = example / "zones" / "smallbiz.example.zone"
    zone_file.write_text(zone.replace("ip4:198.51.100.16/28", "ip4:198.51.100.32/28"))
    code, out = run("apply", *common, "--plan", str(plan_file))
    assert code == 1 and "smallbiz.example appeared since the plan was made: plan again" in out


def test_plan_markdown_for_pull_requests(example: Path) -> None:
    code, out = run(
        "plan",
        "-c",
        str(example / "spfmanager.yaml"),
        "--dns-snapshot",
        str(example / "dns-snapshot.yaml"),
        "--markdown",
    )
    assert code == 2
    assert out.startswith("## spfmanager plan") and "| `smallbiz.example` |" in out


def test_bad_config_names_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "spfmanager.yaml"
    config.write_text("domains:\n  example.com:\n    ip4: ['300.1.1.1']\n    servics: []\n")
    code, out = run(
        "plan", "-c", str(config), "--dns-snapshot", str(DATA / "provider-snapshot.yaml")
    )
    assert code == 1
    assert f"{config}:3" in out and "ip4" in out
    assert f"{config}:4" in out and "servics" in out


def test_build_json_and_exports(example: Path) -> None:
    common = config_args(example)
    code, out = run("build", *common, "--json")
    assert code == 0
    (domain,) = json.loads(out)
    assert domain["domain"] == "smallbiz.example" and domain["lookups"] <= 8
    assert domain["dns_change"] == "new"
    code, out = run("build", *common, "--format", "bind")
    assert code == 0 and 'smallbiz.example. 3600 IN TXT "v=spf1' in out
    code, out = run("build", *common, "--format", "octodns")
    assert code == 0 and yaml.safe_load(out)[""]["type"] == "TXT"
    code, out = run("build", *common, "--format", "terraform-cloudflare")
    assert code == 0 and 'resource "cloudflare_record"' in out


def test_flatten_command_reports_upstream_errors_cleanly() -> None:
    snapshot = str(DATA / "provider-snapshot.yaml")
    code, out = run(
        "flatten", "v=spf1 include:github.com -all", "-d", "example.com", "--dns-snapshot", snapshot
    )
    assert code == 1 and "esp.github.com" in out
    code, out = run(
        "flatten",
        "v=spf1 include:mondialrelay.fr -all",
        "-d",
        "example.com",
        "--dns-snapshot",
        snapshot,
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["lookups"] <= 8 and data["intent_lookups"] == 12
    assert data["proof"]["points_evaluated"] > 0


def test_snapshot_records_what_a_build_needs(example: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "snap.yaml"
    code, _ = run(
        "snapshot",
        "-c",
        str(example / "spfmanager.yaml"),
        "--dns-snapshot",
        str(DATA / "provider-snapshot.yaml"),
        "-o",
        str(out_file),
    )
    assert code == 0
    recorded = yaml.safe_load(out_file.read_text())
    assert set(recorded) == {"spf.protection.outlook.com", "servers.mcsv.net"}
    # the recorded snapshot alone reproduces the build
    code, out = run(
        "build", "-c", str(example / "spfmanager.yaml"), "--dns-snapshot", str(out_file), "--json"
    )
    assert code == 0 and json.loads(out)[0]["records"]


def test_over_limit_example_chains_records() -> None:
    example = EXAMPLES / "over-limit"
    code, out = run(
        "build",
        "-c",
        str(example / "spfmanager.yaml"),
        "--dns-snapshot",
        str(example / "dns-snapshot.yaml"),
        "--json",
    )
    assert code == 0
    big = next(d for d in json.loads(out) if d["domain"] == "bigcorp.example")
    assert big["intent_lookups"] > 10 and big["lookups"] <= 8 and len(big["records"]) > 1
    for record in big["records"]:
        assert all(len(s) <= 255 for s in record["strings"]) and record["answer_bytes"] <= 512


def test_plan_exits_2_while_retired_names_wait_for_deletion(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.yaml"
    snapshot.write_text(yaml.safe_dump(UPSTREAM), encoding="utf-8")
    config = write_config(tmp_path, ["microsoft365", "sendgrid"])
    common = ["-c", str(config), "--dns-snapshot", str(snapshot)]
    assert run("apply", *common)[0] == 0
    assert run("plan", *common)[0] == 0
    write_config(tmp_path, ["microsoft365", "sendgrid", "mailchimp"])  # new chain names
    assert run("apply", *common)[0] == 0
    code, out = run("plan", *common, "--json")
    plan = json.loads(out)
    waiting = [w["name"] for d in plan["domains"] for w in d["waiting_deletions"]]
    assert code == 2 and waiting and not plan["in_sync"]
    assert not [c for d in plan["domains"] for c in d["changes"]]
    code, out = run("plan", *common)
    assert code == 2 and "waits for deletion" in out
    later = utcnow() + timedelta(seconds=301 + RETIRE_GRACE_SECONDS)
    ws = workspace(config)
    ws.apply(ws.plan(now=later), now=later)
    assert run("plan", *common)[0] == 0


def test_flatten_says_which_receivers_read_the_intent_otherwise(tmp_path: Path) -> None:
    # Three MX hosts without an address: RFC 7208 gives fail outside the /24; pyspf, Mail::SPF
    # and mailauth count the empty host lookups as void and give permerror. The flattened
    # record lists no MX host, so every receiver gets fail from it: said, not refused.
    zone: dict[str, list[dict[str, object]]] = {
        "voidmx.test": [{"MX": [10 * n, f"mx{n}.voidmx.test"]} for n in range(3)],
        **{f"mx{n}.voidmx.test": [{"TXT": "no address"}] for n in range(3)},
    }
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps(zone), encoding="utf-8")
    record = "v=spf1 ip4:192.0.2.0/24 mx -all"
    args = ["flatten", record, "-d", "voidmx.test", "--dns-snapshot", str(snapshot)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    differences = json.loads(result.stdout)["proof"]["profile_differences"]
    pyspf = next(d for d in differences if "pyspf" in d["profiles"])
    assert (pyspf["result"], pyspf["rfc_result"], pyspf["published_result"]) == (
        "permerror",
        "fail",
        "fail",
    )
    assert "mailspf" in {p for d in differences for p in d["profiles"]}
    text = runner.invoke(app, args, terminal_width=200).stdout
    assert "receivers differ: receivers using pyspf" in text
    assert "the published records give them fail" in text
    words = " ".join(text.split())
    assert "under RFC 7208 and 4 receiver libraries (pyspf, mailspf, libspf2, mailauth)" in words


def test_tables_in_a_pipe_are_never_cut(tmp_path: Path) -> None:
    target = tmp_path / "over-limit"
    shutil.copytree(EXAMPLES / "over-limit", target)
    code, out = run("plan", *config_args(target))
    assert code == 2, out
    assert "…" not in out  # rich cuts cells to 80 columns unless told otherwise
    assert "shop.bigcorp.example" in out and "bigcorp.example" in out
