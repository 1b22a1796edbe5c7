"""What a human sees of ``plan`` and ``apply``: the summary line, the address ranges each
service adds or removes, and apply's question on a terminal.

Run as a user runs the commands: a fresh ``python -m spfmanager`` process in a copy of
``examples/over-limit`` (zone-file provider, upstream DNS from its snapshot); the terminal
tests give the process a pseudo-terminal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from ipaddress import collapse_addresses, ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml

from spfmanager.publish.drift import OTHER, RangeChange, published_range_changes
from tests.cli.run import run_cli, run_in_terminal
from tests.test_workflow import workspace, write_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "over-limit"
DNS = ("--dns-snapshot", "dns-snapshot.yaml")
SHOP = "shop.bigcorp.example"
PROMPT = b"Only 'yes' is accepted"
TIMEOUT = 120.0  # seconds: a bound on every process and every read


@pytest.fixture
def example(tmp_path: Path) -> Path:
    for name in ("spfmanager.yaml", "dns-snapshot.yaml"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    return tmp_path


def spfmanager(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, timeout=TIMEOUT, input="")  # stdin at its end


def plan_json(cwd: Path) -> dict[str, Any]:
    done = spfmanager("plan", *DNS, "--json", cwd=cwd)
    assert done.returncode in (0, 2), done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def zones(cwd: Path) -> dict[str, str]:
    """The zone files' contents, by name (none before the first apply)."""
    folder = cwd / "zones"
    return {p.name: p.read_text() for p in sorted(folder.glob("*"))} if folder.exists() else {}


def snapshot_ip4(cwd: Path, name: str) -> list[str]:
    """The ip4 ranges the DNS snapshot's SPF record at ``name`` lists."""
    answers = yaml.safe_load((cwd / "dns-snapshot.yaml").read_text())[name]
    texts = [a["TXT"] for a in answers if str(a.get("TXT", "")).startswith("v=spf1")]
    assert len(texts) == 1
    return [t.split(":", 1)[1] for t in texts[0].split() if t.startswith("ip4:")]


def same_addresses(a: list[str], b: list[str]) -> bool:
    def nets(cidrs: list[str]) -> list[Any]:
        return list(collapse_addresses(ip_network(c) for c in cidrs))

    return nets(a) == nets(b)


def set_shop_services(cwd: Path, services: list[str]) -> None:
    config = cwd / "spfmanager.yaml"
    data = yaml.safe_load(config.read_text())
    data["domains"][SHOP]["services"] = services
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def shop_services(cwd: Path) -> list[str]:
    services: list[str] = yaml.safe_load((cwd / "spfmanager.yaml").read_text())["domains"][SHOP][
        "services"
    ]
    return services


def domain(data: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(d for d in data["domains"] if d["domain"] == name)
    return found


def applied(cwd: Path) -> None:
    done = spfmanager("apply", *DNS, cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert PROMPT.decode() not in done.stdout  # not a terminal: nothing asked


# -- the summary line ------------------------------------------------------------------


def expected_summary(data: dict[str, Any]) -> dict[str, int]:
    """The counts, from the plan's own changes."""
    actions = Counter(c["action"] for d in data["domains"] for c in d["changes"])
    later = sum(len(d["retire"]) + len(d["waiting_deletions"]) for d in data["domains"])
    return {
        "create": actions["create"],
        "update": actions["update"],
        "delete": actions["delete"],
        "delete_later": later,
        "domains": len(data["domains"]),
        "domains_in_sync": sum(
            1 for d in data["domains"] if not d["changes"] and not d["error"] and not d["unsafe"]
        ),
    }


def check_summary(cwd: Path) -> str:
    data = plan_json(cwd)
    summary = data["summary"]
    want = expected_summary(data)
    assert {k: summary[k] for k in want} == want
    text = summary["text"]
    assert text.startswith(
        f"Plan: {want['create']} to create, {want['update']} to update, {want['delete']} to delete"
    )
    assert (f"{want['delete_later']} to delete later" in text) == bool(want["delete_later"])
    assert f"{want['domains_in_sync']} of {want['domains']} domains in sync" in text
    table = spfmanager("plan", *DNS, cwd=cwd)
    assert table.stdout.strip().splitlines()[-1] == text
    markdown = spfmanager("plan", *DNS, "--markdown", cwd=cwd)
    assert markdown.stdout.strip().splitlines()[-1] == f"**{text}**"
    for old in ("in_sync", "errors", "unsafe", "domains", "created_at"):
        assert old in data  # added, nothing renamed
    return str(text)


def test_the_plan_ends_with_a_summary_line_in_every_rendering(example: Path) -> None:
    first = check_summary(example)  # nothing published: everything to create
    assert "0 to update, 0 to delete." in first and " 0 to create" not in first
    applied(example)
    assert check_summary(example).startswith("Plan: 0 to create, 0 to update, 0 to delete.")
    set_shop_services(example, [s for s in shop_services(example) if s != "sendgrid"])
    changed = check_summary(example)  # the root is switched, its old chain retired later
    assert "to delete later" in changed


# -- address ranges per service ----------------------------------------------------------


def test_an_added_service_shows_its_ranges_in_table_markdown_and_json(example: Path) -> None:
    applied(example)
    set_shop_services(example, [*shop_services(example), "mailchimp"])
    mailchimp = snapshot_ip4(example, "servers.mcsv.net")  # the include of the catalog

    data = plan_json(example)
    changes = domain(data, SHOP)["range_changes"]
    assert set(changes) == {"services.mailchimp"}  # only services with a change
    assert same_addresses(changes["services.mailchimp"]["added"], mailchimp)
    assert changes["services.mailchimp"]["removed"] == []
    assert domain(data, "bigcorp.example")["range_changes"] is None  # in sync: nothing to say

    table = spfmanager("plan", *DNS, cwd=example).stdout
    ranges = table[table.index("Address ranges") :]
    assert "services.mailchimp" in ranges
    for cidr in changes["services.mailchimp"]["added"]:
        assert f"+ {cidr}" in ranges

    markdown = spfmanager("plan", *DNS, "--markdown", cwd=example).stdout
    line = next(x for x in markdown.splitlines() if x.startswith("- `services.mailchimp`"))
    assert all(f"`+ {c}`" in line for c in changes["services.mailchimp"]["added"])
    assert f"**`{SHOP}`**" in markdown
    # The change table shows the old value as well as the new one.
    assert "| phase | action | name | old value | new value |" in markdown
    root = next(x for x in markdown.splitlines() if x.startswith(f"| root | update | `{SHOP}`"))
    old, new = root.split(" | ")[3:5]
    assert old.startswith("`v=spf1") and new.startswith("`v=spf1") and old != new
    assert "205.201.128.0/20" in new and "205.201.128.0/20" not in old


def test_a_removed_service_shows_its_removed_ranges(example: Path) -> None:
    applied(example)
    set_shop_services(example, [s for s in shop_services(example) if s != "sendgrid"])
    sendgrid = snapshot_ip4(example, "sendgrid.net")

    changes = domain(plan_json(example), SHOP)["range_changes"]
    assert set(changes) == {"services.sendgrid"}
    assert same_addresses(changes["services.sendgrid"]["removed"], sendgrid)
    assert changes["services.sendgrid"]["added"] == []

    table = spfmanager("plan", *DNS, cwd=example).stdout
    ranges = table[table.index("Address ranges") :]
    assert "services.sendgrid" in ranges
    assert all(f"- {c}" in ranges for c in changes["services.sendgrid"]["removed"])
    markdown = spfmanager("plan", *DNS, "--markdown", cwd=example).stdout
    line = next(x for x in markdown.splitlines() if x.startswith("- `services.sendgrid`"))
    assert all(f"`- {c}`" in line for c in changes["services.sendgrid"]["removed"])


def test_nothing_published_means_every_range_is_added(example: Path) -> None:
    data = plan_json(example)
    changes = domain(data, SHOP)["range_changes"]
    assert set(changes) == {f"services.{s}" for s in shop_services(example)}
    assert all(c["removed"] == [] and c["added"] for c in changes.values())


def test_a_change_of_value_without_new_addresses_says_so(example: Path) -> None:
    applied(example)
    config = example / "spfmanager.yaml"
    data = yaml.safe_load(config.read_text())
    data["domains"][SHOP]["ttl"] = 600  # every record of the domain is rewritten
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    plan = plan_json(example)
    assert domain(plan, SHOP)["changes"] and domain(plan, SHOP)["range_changes"] == {}
    table = spfmanager("plan", *DNS, cwd=example).stdout
    assert "no address changes" in table
    markdown = spfmanager("plan", *DNS, "--markdown", cwd=example).stdout
    assert f"**`{SHOP}`**\n\n- no address changes" in markdown


# -- apply's question on a terminal ------------------------------------------------------


def in_terminal(cwd: Path, *args: str, answer: str | None = None) -> tuple[int, str]:
    """spfmanager on a 200-column pseudo-terminal, typing ``answer`` at the question."""
    return run_in_terminal(
        *args, cwd=cwd, columns=200, rows=50, timeout=TIMEOUT, prompt=PROMPT, answer=answer
    )


def test_on_a_terminal_anything_but_yes_cancels_and_writes_nothing(example: Path) -> None:
    before = zones(example)
    code, shown = in_terminal(example, "apply", *DNS, answer="no")
    assert PROMPT.decode() in shown and "Plan: " in shown  # the plan, then the question
    assert code == 1 and "Apply cancelled." in shown
    assert zones(example) == before
    assert plan_json(example)["summary"]["create"] > 0  # still all to do


def test_on_a_terminal_yes_applies(example: Path) -> None:
    code, shown = in_terminal(example, "apply", *DNS, answer="yes")
    assert PROMPT.decode() in shown and code == 0, shown
    assert "v=spf1" in zones(example)["bigcorp.example.zone"]
    assert plan_json(example)["in_sync"]


def test_auto_approve_and_saved_plans_ask_nothing(example: Path) -> None:
    assert spfmanager("plan", *DNS, "--out", "plan.json", cwd=example).returncode == 2
    code, shown = in_terminal(example, "apply", *DNS, "--plan", "plan.json")
    assert code == 0 and PROMPT.decode() not in shown, shown
    assert plan_json(example)["in_sync"]
    set_shop_services(example, [*shop_services(example), "mailchimp"])
    code, shown = in_terminal(example, "apply", *DNS, "--auto-approve")
    assert code == 0 and PROMPT.decode() not in shown, shown
    assert "services.mailchimp" in shown  # the plan is shown all the same
    summary = plan_json(example)["summary"]  # (the old chain waits for its deletion time)
    assert (summary["create"], summary["update"], summary["delete"]) == (0, 0, 0)
    code, shown = in_terminal(example, "apply", *DNS)  # no change: nothing to approve
    assert code == 0 and PROMPT.decode() not in shown and "nothing to apply" in shown


def test_json_on_a_terminal_needs_auto_approve(example: Path) -> None:
    code, shown = in_terminal(example, "apply", *DNS, "--json")
    assert code == 1 and "--auto-approve" in shown and PROMPT.decode() not in shown
    assert zones(example) == {}
    code, shown = in_terminal(example, "apply", *DNS, "--json", "--auto-approve")
    assert code == 0 and '"applied"' in shown


def test_not_on_a_terminal_apply_asks_nothing_and_reports_progress_on_stderr(
    example: Path,
) -> None:
    done = spfmanager("apply", *DNS, cwd=example)
    assert done.returncode == 0 and PROMPT.decode() not in done.stdout + done.stderr
    created = [x for x in done.stdout.splitlines() if x.startswith("create ")]
    progress = [x for x in done.stderr.splitlines() if x.startswith("apply [")]
    assert created and len(progress) == len(created)  # one progress line per change
    assert all(p.endswith(c) for p, c in zip(progress, created, strict=True))
    again = spfmanager("apply", *DNS, "--json", cwd=example)
    assert again.returncode == 0 and json.loads(again.stdout)["applied"] == []


# -- what the pieces underneath promise ------------------------------------------------


def test_progress_hears_every_change_and_every_wait_for_visibility(tmp_path: Path) -> None:
    ws = workspace(write_config(tmp_path, ["microsoft365", "sendgrid"]))  # a chained record
    provider = ws.provider("local", "example.com")
    real_list = provider._list
    lagging = [2]  # one lagging answer to the freshness check before apply, two to the wait

    def lagging_list(names: Any) -> Any:
        found = real_list(names)
        if names and any(n.startswith("_spf") for n in names) and lagging[0] >= 0:
            lagging[0] -= 1
            return [rrset for rrset in found if not rrset.name.startswith("_spf")]
        return found

    provider._list = lagging_list  # type: ignore[method-assign]
    heard: list[str] = []
    plan = ws.plan()
    report = ws.apply(plan, sleep=lambda _: None, progress=heard.append)
    waits = [h for h in heard if h.startswith("waiting for ")]
    done = [h for h in heard if not h.startswith("waiting for ")]
    assert done == [f"{type(c).__name__.lower()} {c.name}" for c in report.applied]
    assert len(waits) == 2 and all("to become visible at" in w for w in waits)
    assert heard.index(waits[-1]) < heard.index("create example.com")  # before the root


def test_removed_ranges_go_to_the_services_that_can_have_lost_them() -> None:
    published = {"4": ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/25"], "6": []}
    planned = {"4": ["192.0.2.0/25", "198.51.100.0/24", "203.0.113.0/24"], "6": []}
    services = {"services.a": {"4": ["192.0.2.0/25"], "6": []}, "include": {"4": [], "6": []}}
    baseline = {"services.a": {4: 256}, "services.gone": {4: 256}, "include": {4: 0}}
    sizes = {"services.a": {4: 128}, "include": {4: 0}}
    found = published_range_changes(published, planned, services, sizes=sizes, baseline=baseline)
    assert found == [
        # shrank, or left the config: the published records do not say which
        RangeChange("services.a, services.gone", (), ("192.0.2.128/25",)),
        RangeChange(OTHER, ("203.0.113.128/25",), ()),  # no service: the config's ip4
    ]
    # Nothing recorded, nothing published: all of each service is added.
    found = published_range_changes({}, planned, services)
    assert found[0] == RangeChange("services.a", ("192.0.2.0/25",), ())
    assert published_range_changes(planned, planned, services) == []
