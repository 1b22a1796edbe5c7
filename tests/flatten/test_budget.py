"""Flattening is bounded: a query budget and a deadline per domain, and a nesting limit.

Offline, on generated zonedata (the hostile DNS server in tests/integration does the same
over real sockets): an include tree ``WIDTH`` wide and ``DEPTH`` deep.
"""

from __future__ import annotations

from typing import Any

import pytest

import spfmanager
from spfmanager.errors import FlattenError
from spfmanager.flatten import Flattener
from spfmanager.flatten.analyze import MAX_NESTING

WIDTH, DEPTH = 5, 3
TREE_NAMES = sum(WIDTH**level for level in range(DEPTH + 1))  # 156 TXT records


def fan_out(name: str = "fan.example", depth: int = DEPTH, index: int = 0) -> dict[str, Any]:
    """Zonedata: each node includes ``WIDTH`` children; each leaf lists one address."""
    if depth == 0:
        return {name: [{"TXT": f"v=spf1 ip4:10.0.{index // 256}.{index % 256} -all"}]}
    children = [f"n{i}.{name}" for i in range(WIDTH)]
    zone: dict[str, Any] = {
        name: [{"TXT": "v=spf1 " + " ".join(f"include:{c}" for c in children) + " -all"}]
    }
    for i, child in enumerate(children):
        zone.update(fan_out(child, depth - 1, index * WIDTH + i))
    return zone


class SteppingClock:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_tree_within_the_budget_is_flattened() -> None:
    resolver = spfmanager.SnapshotResolver(fan_out())
    result = spfmanager.flatten(
        "v=spf1 include:fan.example -all", "example.com", resolver=resolver, query_budget=200
    )
    assert result.dns_queries == TREE_NAMES == resolver.queries
    assert result.passing[4] == WIDTH**DEPTH


def test_a_tree_over_the_budget_fails_after_exactly_the_budget() -> None:
    resolver = spfmanager.SnapshotResolver(fan_out())
    flattener = Flattener(resolver)
    with pytest.raises(FlattenError) as raised:
        flattener.flatten("v=spf1 include:fan.example -all", "example.com", query_budget=40)
    assert str(raised.value) == (
        "flattening example.com needed more than 40 DNS queries (query_budget)"
    )
    assert not raised.value.transient
    assert flattener.meter.queries == resolver.queries == 40


def test_answers_already_known_cost_nothing() -> None:
    flattener = Flattener(spfmanager.SnapshotResolver(fan_out()))
    flattener.flatten("v=spf1 include:fan.example -all", "one.example", query_budget=200)
    # Another intent over the same tree: analysed from what the run already knows.
    other = flattener.flatten(
        "v=spf1 ip4:192.0.2.1 include:fan.example ~all", "two.example", query_budget=1
    )
    assert other.dns_queries == 0
    assert flattener.meter.queries == TREE_NAMES


def test_the_budget_is_per_domain() -> None:
    flattener = Flattener(spfmanager.SnapshotResolver(fan_out()))
    for domain in ("one.example", "two.example"):
        with pytest.raises(FlattenError, match=f"flattening {domain} needed more than 50"):
            flattener.flatten("v=spf1 include:fan.example -all", domain, query_budget=50)
    assert flattener.meter.queries == 100  # the second domain started from the first's answers
    # Queries outside flatten() (none here) and a later, larger budget are not affected.
    done = flattener.flatten("v=spf1 include:fan.example -all", "three.example")
    assert done.dns_queries == TREE_NAMES - 100


def test_the_deadline_fails_the_domain_as_transient() -> None:
    clock = SteppingClock()  # each query reads it once: the 5th query starts after 5 s
    flattener = Flattener(spfmanager.SnapshotResolver(fan_out()), clock=clock)
    with pytest.raises(FlattenError) as raised:
        flattener.flatten("v=spf1 include:fan.example -all", "example.com", deadline=5)
    assert str(raised.value) == "flattening example.com took longer than 5 s (flatten_deadline)"
    assert raised.value.transient  # slow DNS may recover: keep the last good record
    assert flattener.meter.queries == 4


@pytest.mark.parametrize(("budget", "deadline"), [(0, 60.0), (10, 0.0), (10, -1.0)])
def test_budget_and_deadline_must_be_positive(budget: int, deadline: float) -> None:
    with pytest.raises(FlattenError, match="must be positive"):
        spfmanager.flatten(
            "v=spf1 -all",
            "example.com",
            resolver=spfmanager.SnapshotResolver({}),
            query_budget=budget,
            deadline=deadline,
        )


def chain(depth: int) -> dict[str, Any]:
    """d0 includes d1 ... includes d<depth>, which lists one address."""
    zone: dict[str, Any] = {
        f"d{i}.example": [{"TXT": f"v=spf1 include:d{i + 1}.example -all"}] for i in range(depth)
    }
    zone[f"d{depth}.example"] = [{"TXT": "v=spf1 ip4:192.0.2.1 -all"}]
    return zone


def test_nesting_is_bounded_without_exhausting_the_python_stack() -> None:
    ok = spfmanager.flatten(
        "v=spf1 include:d0.example -all",
        "example.com",
        resolver=spfmanager.SnapshotResolver(chain(MAX_NESTING - 1)),
    )
    assert ok.texts == {"example.com": "v=spf1 ip4:192.0.2.1 -all"}
    for depth in (MAX_NESTING, 500):  # 500 levels was a RecursionError
        with pytest.raises(FlattenError, match=f"nest more than {MAX_NESTING} levels deep"):
            spfmanager.flatten(
                "v=spf1 include:d0.example -all",
                "example.com",
                resolver=spfmanager.SnapshotResolver(chain(depth)),
            )
