"""A chained record set is replaced through RFC 2136 on a real BIND while receivers check SPF.

A concurrent checker resolving through the same server must never see permerror, temperror
or a result that is neither the old nor the new policy's.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import spfmanager
from spfmanager.dns.resolver import LiveResolver
from spfmanager.publish.apply import RETIRE_GRACE_SECONDS
from spfmanager.publish.plan import Phase
from spfmanager.publish.state import utcnow
from spfmanager.publish.workflow import Workspace
from tests.integration.bind import BindServer, named_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(named_binary() is None, reason="BIND 9 named is not installed"),
]

Result = spfmanager.Result
UPSTREAM: dict[str, Any] = {
    "spf.protection.outlook.com": [
        {"TXT": "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip6:2a01:111:f400::/48 -all"}
    ],
    "servers.mcsv.net": [{"TXT": "v=spf1 ip4:205.201.128.0/20 ip4:198.2.128.0/18 -all"}],
    "sendgrid.net": [
        {"TXT": "v=spf1 " + " ".join(f"ip4:167.{i}.0.0/16" for i in range(0, 120, 2)) + " ~all"}
    ],
}
# ip -> results allowed while the old policy (A) is replaced by the new one (B)
EXPECTED = {
    "40.92.1.1": {Result.PASS},
    "167.88.1.1": {Result.PASS},
    "167.119.0.1": {Result.FAIL},
    "205.201.128.1": {Result.FAIL, Result.PASS},  # Mailchimp: added by B
    "192.0.2.1": {Result.FAIL},
    "2a01:111:f400::1": {Result.PASS},
}


def write_config(path: Path, bind: BindServer, services: list[str]) -> None:
    config = {
        "defaults": {"policy": "-all", "ttl": 300, "provider": "dyn"},
        "providers": {
            "dyn": {
                "kind": "rfc2136",
                "server": "127.0.0.1",
                "port": bind.port,
                "tsig_name": bind.tsig_name,
                "tsig_secret": "env:SPFMANAGER_TEST_TSIG",
            }
        },
        "state": {"url": "sqlite:///state.db"},
        "domains": {"example.com": {"services": services}},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


class Checker(threading.Thread):
    """Evaluates SPF for every expected address, over and over, through the live server."""

    def __init__(self, resolver: LiveResolver) -> None:
        super().__init__(daemon=True)
        self.resolver = resolver
        self.stop = threading.Event()
        self.checks = 0
        self.violations: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            for ip, allowed in EXPECTED.items():
                outcome = spfmanager.evaluate(
                    ip, "alice@example.com", "mail.example.com", resolver=self.resolver
                )
                self.checks += 1
                if outcome.result not in allowed:
                    self.violations.append(f"{ip}: {outcome.result} ({outcome.reason})")


def test_rollover_never_shows_receivers_a_broken_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with BindServer({"example.com": {"www.example.com": [{"A": "192.0.2.80"}]}}, tsig=True) as bind:
        assert bind.tsig_secret is not None
        monkeypatch.setenv("SPFMANAGER_TEST_TSIG", bind.tsig_secret)
        config = tmp_path / "spfmanager.yaml"
        upstream = spfmanager.SnapshotResolver(UPSTREAM)

        write_config(config, bind, ["microsoft365", "sendgrid"])
        first = Workspace.load(config, upstream)
        first.apply(first.plan())
        old_names = {n for n in first.plan().domains[0].build.result.records} - {"example.com"}  # type: ignore[union-attr]
        assert old_names

        checker = Checker(bind.resolver(cache=False))
        checker.start()
        try:
            write_config(config, bind, ["microsoft365", "sendgrid", "mailchimp"])
            second = Workspace.load(config, upstream)
            plan = second.plan()
            assert next(c.phase for c in plan.changes) is Phase.CHAIN
            assert set(plan.domains[0].retire) == old_names
            second.apply(plan)
            # old names stay until the old root's TTL has passed
            live = bind.resolver(cache=False)
            for name in old_names:
                assert live.query(name, spfmanager.RRType.TXT).texts()
            third = Workspace.load(config, upstream)
            cleanup = third.plan(now=utcnow() + timedelta(seconds=301 + RETIRE_GRACE_SECONDS))
            assert {c.name for c in cleanup.changes} == old_names
            third.apply(cleanup, now=utcnow() + timedelta(seconds=301 + RETIRE_GRACE_SECONDS))
            for name in old_names:
                assert live.query(name, spfmanager.RRType.TXT).nxdomain
        finally:
            checker.stop.set()
            checker.join(timeout=30)
        assert checker.checks >= len(EXPECTED) * 3
        assert not checker.violations
        final = spfmanager.evaluate(
            "205.201.128.1", "alice@example.com", "mail", resolver=bind.resolver(cache=False)
        )
        assert final.result is Result.PASS
