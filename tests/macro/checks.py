"""What the macro live tests compare: each receiver's outcome against the intent's result
at every probe, and libspf2's run in its private network namespace."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from spfmanager.spf.results import Result
from tests.conformance.receivers import Outcome, Query, _communicate, _outcome, netns_command

Disagreement = tuple[str, str, str, str]  # client, domain, wanted, got


def disagreements(
    queries: Sequence[Query], expected: Sequence[Result], outcomes: Sequence[Outcome]
) -> list[Disagreement]:
    """The probes where a receiver's outcome is not the intent's result."""
    return [
        (q.ip, q.helo, want.value, got.name)
        for q, want, got in zip(queries, expected, outcomes, strict=True)
        if got.result is not want
    ]


def libspf2_disagreements(
    job: Mapping[str, Any], queries: Sequence[Query], expected: Sequence[Result], timeout: float
) -> list[Disagreement]:
    """Run ``job`` through :mod:`tests.macro.libspf2_netns`; its disagreements, but for
    libspf2's own rule of passing the loopback client ``::1`` whatever the record (its local
    policy, before any record is read: the same for any published record), which must be
    the only loopback one."""
    command = netns_command("tests.macro.libspf2_netns")
    payload = {**job, "queries": [q.data for q in queries]}
    raw = json.loads(_communicate("libspf2", command, json.dumps(payload), timeout=timeout))
    outcomes = [_outcome("libspf2", item) for item in raw["outcomes"]]
    wrong = disagreements(queries, expected, outcomes)
    local = [w for w in wrong if _loopback(w[0]) and w[3] == "pass"]
    assert [w[0] for w in local] == ["::1"] * len(local), local
    return [w for w in wrong if w not in local]


def _loopback(ip: str) -> bool:
    return (IPv6Address(ip) if ":" in ip else IPv4Address(ip)).is_loopback
