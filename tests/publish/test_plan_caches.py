"""Workspace.plan shares work between identical intents: the plans must not change."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

import spfmanager
from spfmanager.flatten import Flattener
from spfmanager.publish.apply import RETIRE_GRACE_SECONDS
from spfmanager.publish.drift import service_ranges, sizes_of
from spfmanager.publish.plan import Plan, plan_domain
from spfmanager.publish.state import utcnow
from spfmanager.publish.workflow import Workspace

SENDGRID = "v=spf1 " + " ".join(f"ip4:167.{i}.0.0/16" for i in range(0, 120, 2)) + " ~all"
UPSTREAM: dict[str, Any] = {
    "spf.protection.outlook.com": [{"TXT": "v=spf1 ip4:40.92.0.0/15 ip6:2a01:111:f400::/48 -all"}],
    "servers.mcsv.net": [{"TXT": "v=spf1 ip4:205.201.128.0/20 ip4:198.2.128.0/18 -all"}],
    "sendgrid.net": [{"TXT": SENDGRID}],
}
SHRUNK = {**UPSTREAM, "sendgrid.net": [{"TXT": "v=spf1 ip4:167.0.0.0/16 ~all"}]}


def write_fleet(tmp_path: Path) -> Path:
    shared = {"include": ["spf.protection.outlook.com", "sendgrid.net"]}
    domains: dict[str, Any] = {f"d{i}.example": dict(shared) for i in range(6)}
    domains["own.example"] = {**shared, "ip4": ["192.0.2.0/28"]}
    domains["kept.example"] = {
        "include": ["servers.mcsv.net", "sendgrid.net"],
        "keep": ["include:servers.mcsv.net"],
    }
    domains["kept2.example"] = dict(domains["kept.example"])
    config = {
        "defaults": {"policy": "-all", "ttl": 300, "provider": "local"},
        "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
        "state": {"url": "sqlite:///state.db"},
        "domains": domains,
    }
    path = tmp_path / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def reference_plan(workspace: Workspace, now: Any) -> Plan:
    """Every domain planned on its own, nothing shared: what Workspace.plan did before."""
    flattener = Flattener(workspace.resolver)
    plans = []
    for build in workspace.build(flattener=flattener):
        intent = build.intent
        provider = workspace.provider_name(intent)
        analyzer = flattener.analyzer(intent.keep)
        ranges = service_ranges(intent, analyzer) if build.result is not None else None
        plans.append(
            plan_domain(
                build,
                provider,
                workspace.current(intent),
                workspace.state.pending(provider, intent.zone),
                now,
                workspace.resolver,
                analyzer=analyzer,
                sizes=None if ranges is None else sizes_of(ranges),
                baseline=workspace.state.service_sizes(intent.domain),
                ranges=ranges,
            )
        )
    return Plan(tuple(plans), now)


def assert_same(path: Path, upstream: dict[str, Any], now: Any) -> Plan:
    fast = Workspace.load(path, spfmanager.SnapshotResolver(upstream)).plan(now=now)
    slow = reference_plan(Workspace.load(path, spfmanager.SnapshotResolver(upstream)), now)
    assert json.dumps(fast.data, sort_keys=True) == json.dumps(slow.data, sort_keys=True)
    assert [d.service_ranges for d in fast.domains] == [d.service_ranges for d in slow.domains]
    assert [d.service_sizes for d in fast.domains] == [d.service_sizes for d in slow.domains]
    return fast


def test_first_plan_is_unchanged(tmp_path: Path) -> None:
    plan = assert_same(write_fleet(tmp_path), UPSTREAM, utcnow())
    assert plan.has_changes and not plan.errors and not plan.unsafe


def test_plans_after_apply_drift_and_cleanup_are_unchanged(tmp_path: Path) -> None:
    path = write_fleet(tmp_path)
    workspace = Workspace.load(path, spfmanager.SnapshotResolver(UPSTREAM))
    workspace.apply(workspace.plan(), sleep=lambda _: None, retire_grace=0)
    assert not assert_same(path, UPSTREAM, utcnow()).has_changes
    # upstream shrinks: drift refusals, a new chain, the old one retired
    shrunk = assert_same(path, SHRUNK, utcnow())
    assert shrunk.unsafe
    workspace = Workspace.load(path, spfmanager.SnapshotResolver(SHRUNK))
    workspace.apply(workspace.plan(), force=True, sleep=lambda _: None, retire_grace=0)
    later = utcnow() + timedelta(seconds=RETIRE_GRACE_SECONDS + 3600)
    cleanup = assert_same(path, SHRUNK, later)  # retired names are due: deleted
    assert any(c.kind == "delete" for c in cleanup.changes)


def test_a_changed_zone_file_is_read_again(tmp_path: Path) -> None:
    path = write_fleet(tmp_path)
    workspace = Workspace.load(path, spfmanager.SnapshotResolver(UPSTREAM))
    workspace.apply(workspace.plan(), sleep=lambda _: None, retire_grace=0)
    zone = tmp_path / "zones" / "d1.example.zone"
    lines = zone.read_text().splitlines(keepends=True)
    zone.write_text("".join(line for line in lines if not line.startswith("@\t300\tIN\tTXT")))
    plan = assert_same(path, UPSTREAM, utcnow())
    assert [d.domain for d in plan.domains if d.changes] == ["d1.example"]
