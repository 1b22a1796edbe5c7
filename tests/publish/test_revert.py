"""A name a build references, or a live record points at, is never deleted (issue 7.1)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import spfmanager
from spfmanager.publish.apply import ApplyItem
from spfmanager.publish.build import DomainBuild
from spfmanager.publish.changes import Delete, RecordSet
from spfmanager.publish.plan import Phase, PlannedChange, protected, references, refusals_after
from spfmanager.publish.state import utcnow
from tests.test_workflow import UPSTREAM, receiver_result, served, workspace, write_config

A = ["microsoft365", "sendgrid"]
B = ["microsoft365", "sendgrid", "mailchimp"]


def apply_config(tmp_path: Path, services: list[str], seconds: int = 0) -> None:
    ws = workspace(write_config(tmp_path, services))
    plan = ws.plan(now=utcnow() + timedelta(seconds=seconds))
    assert not plan.unsafe, plan.unsafe
    ws.apply(plan, now=utcnow() + timedelta(seconds=seconds))


def chain(tmp_path: Path) -> set[str]:
    return set(served(tmp_path)) - {"example.com"}


def assert_serves_a(tmp_path: Path) -> None:
    assert receiver_result(tmp_path, "40.92.1.1") is spfmanager.Result.PASS
    assert receiver_result(tmp_path, "167.0.0.1") is spfmanager.Result.PASS
    assert receiver_result(tmp_path, "205.201.128.1") is spfmanager.Result.FAIL


def test_revert_keeps_the_live_chain(tmp_path: Path) -> None:
    apply_config(tmp_path, A)
    chain_a = chain(tmp_path)
    apply_config(tmp_path, B)  # A's names are scheduled for deletion
    chain_b = chain(tmp_path) - chain_a
    assert chain_b
    ws = workspace(write_config(tmp_path, A))
    plan = ws.plan()
    (domain_plan,) = plan.domains
    deleted = {c.name for c in domain_plan.changes if c.phase is Phase.CLEANUP}
    assert not deleted & chain_a
    assert set(domain_plan.cancel) == chain_a
    ws.apply(plan)
    assert_serves_a(tmp_path)
    # Long after every TTL: B's names go, A's (live again) stay.
    apply_config(tmp_path, A, seconds=10_000)
    assert chain(tmp_path) == chain_a
    assert_serves_a(tmp_path)
    assert (
        not workspace(write_config(tmp_path, A))
        .plan(now=utcnow() + timedelta(seconds=20_000))
        .has_changes
    )


def test_revert_after_the_ttl_wait_keeps_the_live_chain(tmp_path: Path) -> None:
    apply_config(tmp_path, A)
    chain_a = chain(tmp_path)
    apply_config(tmp_path, B)
    # A's deletions are due by now: the revert must cancel them, not carry them out.
    apply_config(tmp_path, A, seconds=10_000)
    assert chain_a <= chain(tmp_path)
    assert_serves_a(tmp_path)
    apply_config(tmp_path, A, seconds=20_000)
    assert chain(tmp_path) == chain_a
    assert_serves_a(tmp_path)


def test_a_due_name_the_live_root_points_at_is_kept_when_the_build_fails(
    tmp_path: Path,
) -> None:
    apply_config(tmp_path, A)
    chain_a = chain(tmp_path)
    zone = tmp_path / "zones" / "example.com.zone"
    text_a = zone.read_text()
    apply_config(tmp_path, B)
    zone.write_text(text_a.replace(" 1 ", " 99 ", 1))  # someone restores yesterday's zone
    broken = {**UPSTREAM, "sendgrid.net": ["TIMEOUT"]}
    ws = workspace(write_config(tmp_path, A), broken)
    plan = ws.plan(now=utcnow() + timedelta(seconds=10_000))
    (domain_plan,) = plan.domains
    assert domain_plan.build.transient
    assert not {c.name for c in domain_plan.changes} & chain_a
    ws.apply(plan, now=utcnow() + timedelta(seconds=10_000))
    assert chain_a <= chain(tmp_path)
    assert_serves_a(tmp_path)


def test_a_saved_cleanup_plan_never_deletes_what_the_root_points_at_now(tmp_path: Path) -> None:
    apply_config(tmp_path, A)
    chain_a = chain(tmp_path)
    apply_config(tmp_path, B)
    later = utcnow() + timedelta(seconds=10_000)
    ws = workspace(write_config(tmp_path, B))
    saved = json.loads(json.dumps(ws.plan(now=later).data))  # deletes A's names
    assert {c["name"] for d in saved["domains"] for c in d["changes"]} == chain_a
    apply_config(tmp_path, A)  # meanwhile: reverted, the root points at A's names again
    report = workspace(write_config(tmp_path, B)).apply(ApplyItem.from_data(saved), now=later)
    assert set(report.kept) == chain_a and not report.applied
    assert chain_a <= chain(tmp_path)
    assert_serves_a(tmp_path)


def test_protected_follows_chains_transitively() -> None:
    def rs(name: str, text: str) -> RecordSet:
        return RecordSet(name, (text,), 300)

    records = {
        "example.com": rs(
            "example.com", "v=spf1 ip4:192.0.2.1 redirect=_spf1-aaaaaaaa.example.com"
        ),
        "_spf1-aaaaaaaa.example.com": rs(
            "_spf1-aaaaaaaa.example.com", "v=spf1 ip4:192.0.2.2 redirect=_spf2-bbbbbbbb.example.com"
        ),
        "_spf2-bbbbbbbb.example.com": rs("_spf2-bbbbbbbb.example.com", "v=spf1 -all"),
        "_spf1-cccccccc.example.com": rs(
            "_spf1-cccccccc.example.com", "v=spf1 include:_spf2-dddddddd.example.com -all"
        ),
        "_spf2-dddddddd.example.com": rs("_spf2-dddddddd.example.com", "v=spf1 -all"),
    }
    assert references(records, "example.com") == {
        "_spf1-aaaaaaaa.example.com",
        "_spf2-bbbbbbbb.example.com",
    }
    everything = set(records) - {"example.com"}
    assert protected(records, everything) == {
        "_spf1-aaaaaaaa.example.com",
        "_spf2-bbbbbbbb.example.com",
    }
    # An unused chain that points at another unused name protects nothing.
    assert protected(records, {"_spf1-cccccccc.example.com", "_spf2-dddddddd.example.com"}) == set()


def test_safety_check_evaluates_the_zone_after_deletions(tmp_path: Path) -> None:
    ws = workspace(write_config(tmp_path, A))
    (domain_plan,) = ws.plan().domains
    ws.apply(ws.plan())
    build: DomainBuild = domain_plan.build
    current = ws.provider("local", "example.com").list_records()
    victim = sorted(chain(tmp_path))[0]
    breaking = [PlannedChange(Phase.CLEANUP, "example.com", Delete(current[victim]))]
    refusals = refusals_after(build, current, breaking, ws.resolver, None)
    assert refusals and "differ from the intent" in refusals[0]
    assert refusals_after(build, current, [], ws.resolver, None) == []
