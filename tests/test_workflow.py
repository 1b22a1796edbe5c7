"""config -> plan -> apply -> plan again, on the embedded default (zone file + SQLite)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import dns.zone
import pytest
import yaml

import spfmanager
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.publish.apply import (
    RETIRE_GRACE_SECONDS,
    StalePlanError,
    VisibilityTimeoutError,
    apply_plan,
)
from spfmanager.publish.changes import Create, RecordSet
from spfmanager.publish.plan import Phase, UnsafePlanError
from spfmanager.publish.state import utcnow
from spfmanager.publish.workflow import Workspace

UPSTREAM: dict[str, Any] = {
    "spf.protection.outlook.com": [
        {"TXT": "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip6:2a01:111:f400::/48 -all"}
    ],
    "servers.mcsv.net": [{"TXT": "v=spf1 ip4:205.201.128.0/20 ip4:198.2.128.0/18 -all"}],
    "sendgrid.net": [
        {"TXT": "v=spf1 " + " ".join(f"ip4:167.{i}.0.0/16" for i in range(0, 120, 2)) + " ~all"}
    ],
}


def write_config(tmp_path: Path, services: list[str], **domain: Any) -> Path:
    config = {
        "defaults": {"policy": "-all", "ttl": 300, "provider": "local"},
        "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
        "state": {"url": "sqlite:///state.db"},
        "domains": {"example.com": {"services": services, **domain}},
    }
    path = tmp_path / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def workspace(path: Path, upstream: dict[str, Any] = UPSTREAM) -> Workspace:
    return Workspace.load(path, spfmanager.SnapshotResolver(upstream))


def served(tmp_path: Path) -> dict[str, list[list[str]]]:
    """What the zone file would serve: name -> TXT records (as strings)."""
    zone = dns.zone.from_text(
        (tmp_path / "zones" / "example.com.zone").read_text(), origin="example.com."
    )
    out: dict[str, list[list[str]]] = {}
    for name, rdataset in zone.iterate_rdatasets("TXT"):
        fqdn = name.derelativize(zone.origin).to_text().rstrip(".")
        out[fqdn] = [[s.decode() for s in r.strings] for r in rdataset]
    return out


def receiver_result(tmp_path: Path, ip: str) -> spfmanager.Result:
    resolver = OverlayResolver(spfmanager.SnapshotResolver(UPSTREAM), served(tmp_path))
    return spfmanager.evaluate(
        ip, "alice@example.com", "mail.example.com", resolver=resolver
    ).result


def test_plan_apply_and_second_apply_changes_nothing(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["microsoft365", "mailchimp"])
    ws = workspace(path)
    plan = ws.plan()
    assert plan.has_changes and not plan.errors and not plan.unsafe
    ws.apply(plan)
    assert receiver_result(tmp_path, "40.92.1.1") is spfmanager.Result.PASS
    assert receiver_result(tmp_path, "192.0.2.1") is spfmanager.Result.FAIL
    again = workspace(path).plan()
    assert not again.has_changes
    before = (tmp_path / "zones" / "example.com.zone").read_text()
    workspace(path).apply(again)
    assert (tmp_path / "zones" / "example.com.zone").read_text() == before


def test_rollover_creates_chain_first_and_retires_old_names_after_ttl(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["microsoft365", "sendgrid"])
    ws = workspace(path)
    ws.apply(ws.plan())
    first = set(served(tmp_path))
    assert len(first) > 1  # root + chained names

    path = write_config(tmp_path, ["microsoft365", "sendgrid", "mailchimp"])
    ws = workspace(path)
    plan = ws.plan()
    phases = [c.phase for c in plan.changes]
    assert phases == sorted(phases) and Phase.CHAIN in phases and Phase.ROOT in phases
    (domain_plan,) = plan.domains
    old_chain = first - {"example.com"}
    assert set(domain_plan.retire) == old_chain
    ws.apply(plan)
    # Old chained names are still served: a cached old root still points at them.
    assert old_chain <= set(served(tmp_path))
    assert receiver_result(tmp_path, "205.201.128.1") is spfmanager.Result.PASS

    # Before the old root's TTL passes, nothing is deleted...
    soon = workspace(path).plan(now=utcnow() + timedelta(seconds=100))
    assert not soon.has_changes
    # ...nor when the TTL has just passed: a receiver may still be evaluating the old chain.
    assert not workspace(path).plan(now=utcnow() + timedelta(seconds=301)).has_changes
    # ...after it, the old names are deleted in the cleanup phase.
    later = workspace(path)
    cleanup = later.plan(now=utcnow() + timedelta(seconds=301 + RETIRE_GRACE_SECONDS))
    assert {c.name for c in cleanup.changes} == old_chain
    assert all(c.phase is Phase.CLEANUP for c in cleanup.changes)
    later.apply(cleanup)
    assert not (old_chain & set(served(tmp_path)))
    assert (
        not workspace(path)
        .plan(now=utcnow() + timedelta(seconds=400 + RETIRE_GRACE_SECONDS))
        .has_changes
    )


def test_other_txt_records_at_the_root_are_never_touched(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["microsoft365"])
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "example.com.zone").write_text(
        "$TTL 300\n"
        "@ IN SOA localhost. hostmaster.example.com. ( 1 3600 900 1209600 300 )\n"
        "@ IN NS localhost.\n"
        '@ IN TXT "google-site-verification=abc"\n'
        '@ IN TXT "v=spf1 ip4:192.0.2.1 -all"\n'
        '@ IN TXT "v=spf1 -all"\n'  # two SPF records today: permerror, fixed by apply
        '_dmarc IN TXT "v=DMARC1; p=reject"\n'
    )
    ws = workspace(path)
    ws.apply(ws.plan())
    records = served(tmp_path)
    root = ["".join(r) for r in records["example.com"]]
    assert "google-site-verification=abc" in root
    assert len([r for r in root if r.startswith("v=spf1")]) == 1
    assert records["_dmarc.example.com"] == [["v=DMARC1; p=reject"]]


def test_upstream_dns_failure_keeps_the_last_good_record(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["microsoft365", "mailchimp"])
    ws = workspace(path)
    ws.apply(ws.plan())
    before = served(tmp_path)
    broken = {**UPSTREAM, "servers.mcsv.net": ["TIMEOUT"]}
    plan = workspace(path, broken).plan()
    (domain_plan,) = plan.domains
    assert domain_plan.build.transient and not domain_plan.changes
    workspace(path, broken).apply(plan)
    assert served(tmp_path) == before
    assert receiver_result(tmp_path, "205.201.128.1") is spfmanager.Result.PASS


def test_plus_all_arriving_from_upstream_is_refused_unless_forced(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["microsoft365", "mailchimp"])
    opened = {**UPSTREAM, "servers.mcsv.net": [{"TXT": "v=spf1 +all"}]}
    ws = workspace(path, opened)
    plan = ws.plan()
    assert plan.unsafe
    with pytest.raises(UnsafePlanError, match="IPv4 addresses"):
        ws.apply(plan)
    assert not (tmp_path / "zones" / "example.com.zone").exists()
    ws.apply(plan, force=True)
    assert receiver_result(tmp_path, "192.0.2.1") is spfmanager.Result.PASS


def test_stale_plan_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["microsoft365"])
    ws = workspace(path)
    plan = ws.plan()
    provider = ws.provider("local", "example.com")
    provider.apply([Create(RecordSet("example.com", ("v=spf1 -all",), 300))])
    with pytest.raises(StalePlanError):
        apply_plan(plan, ws.provider, ws.state)


def test_middle_failure_leaves_old_records_valid(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["microsoft365", "sendgrid"])
    ws = workspace(path)
    ws.apply(ws.plan())
    path = write_config(tmp_path, ["microsoft365", "sendgrid", "mailchimp"])
    ws = workspace(path)
    plan = ws.plan()
    provider = ws.provider("local", "example.com")
    original_apply = provider.apply
    calls = []

    def failing_apply(changes: Any) -> None:
        calls.append(changes)
        if len(calls) == 2:  # the root switch
            raise spfmanager.errors.ProviderServerError("injected failure")
        original_apply(changes)

    provider.apply = failing_apply  # type: ignore[method-assign]
    with pytest.raises(spfmanager.errors.ProviderServerError):
        ws.apply(plan)
    # The old root and its chain are intact: receivers see the old, valid policy.
    assert receiver_result(tmp_path, "40.92.1.1") is spfmanager.Result.PASS
    assert receiver_result(tmp_path, "205.201.128.1") is spfmanager.Result.FAIL
    retry = workspace(path)
    retry.apply(retry.plan())
    assert receiver_result(tmp_path, "205.201.128.1") is spfmanager.Result.PASS


def test_configured_maximum_authorized_space_is_enforced(tmp_path: Path) -> None:
    # SendGrid's 60 /16s exceed one /12's worth of addresses.
    path = write_config(tmp_path, ["sendgrid"], max_authorized_ipv4=12)
    plan = workspace(path).plan()
    (domain_plan,) = plan.domains
    assert domain_plan.unsafe and "IPv4 addresses" in domain_plan.unsafe[0]
    roomy = write_config(tmp_path, ["sendgrid"], max_authorized_ipv4=8)
    assert not workspace(roomy).plan().unsafe


def test_root_is_switched_only_once_the_chain_is_visible(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["microsoft365", "sendgrid"])
    ws = workspace(path)
    provider = ws.provider("local", "example.com")
    real_list = provider._list
    polls: list[int] = []

    root_switched_early: list[bool] = []

    def lagging_list(names: Any) -> Any:
        found = real_list(names)
        if names and any(n.startswith("_spf") for n in names) and len(polls) < 3:
            polls.append(1)  # the provider has not propagated the new names yet
            zone = tmp_path / "zones" / "example.com.zone"
            root_switched_early.append(zone.exists() and "example.com" in served(tmp_path))
            return [rrset for rrset in found if not rrset.name.startswith("_spf")]
        return found

    provider._list = lagging_list  # type: ignore[method-assign]
    waits: list[float] = []
    ws.apply(ws.plan(), sleep=waits.append)
    # one lagging answer went to the freshness check before apply, two to the wait
    assert len(polls) == 3 and len(waits) == 2
    assert not any(root_switched_early)
    assert receiver_result(tmp_path, "40.92.1.1") is spfmanager.Result.PASS


def test_chain_never_visible_leaves_the_root_untouched(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["microsoft365"])
    ws = workspace(path)
    ws.apply(ws.plan())
    before = served(tmp_path)["example.com"]
    path = write_config(tmp_path, ["microsoft365", "sendgrid"])
    ws = workspace(path)
    provider = ws.provider("local", "example.com")
    real_list = provider._list

    def never_visible(names: Any) -> Any:
        return [r for r in real_list(names) if not r.name.startswith("_spf") or names is None]

    provider._list = never_visible  # type: ignore[method-assign]
    plan = ws.plan()
    with pytest.raises(VisibilityTimeoutError, match="not switched"):
        apply_plan(plan, ws.provider, ws.state, visibility_timeout=0.0, sleep=lambda _: None)
    assert served(tmp_path)["example.com"] == before
