"""The prefetch resolves include trees level by level without changing any result.

Offline, on the bundled snapshots and generated trees; the benchmark
(``benchmarks/bench_concurrency.py``, its smoke test) measures the queries in flight on a
loopback DNS server that adds latency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import spfmanager
from spfmanager.compile import compile_file
from spfmanager.dns.memo import MemoResolver
from spfmanager.errors import FlattenError
from spfmanager.flatten import Flattener
from spfmanager.flatten.prefetch import Root, prefetch
from spfmanager.publish.build import build
from spfmanager.spf.parser import parse_record
from tests.flatten.test_budget import TREE_NAMES, fan_out

EXAMPLES = Path(__file__).parents[2] / "examples"


def example(name: str) -> tuple[list[Any], Path]:
    _config, intents = compile_file(EXAMPLES / name / "spfmanager.yaml")
    return intents, EXAMPLES / name / "dns-snapshot.yaml"


def results(flattener: Flattener, intents: list[Any]) -> list[dict[str, Any]]:
    return [b.data for b in build(intents, flattener.resolver, flattener=flattener)]


@pytest.mark.parametrize("name", ["over-limit", "small-business"])
def test_builds_are_identical_with_and_without_prefetch(name: str) -> None:
    intents, zone = example(name)
    one_at_a_time = results(
        Flattener(spfmanager.SnapshotResolver.from_file(zone), workers=1), intents
    )
    concurrent = results(Flattener(spfmanager.SnapshotResolver.from_file(zone), workers=8), intents)
    assert concurrent == one_at_a_time  # records, proof, warnings, dns_queries: everything
    assert all("error" not in b for b in concurrent)


def test_the_prefetch_warms_everything_the_build_asks() -> None:
    intents, zone = example("over-limit")
    resolver = spfmanager.SnapshotResolver.from_file(zone)
    flattener = Flattener(resolver)
    sent = flattener.prefetch([Root(i.record, i.domain, i.query_budget) for i in intents])
    assert sent == resolver.queries > 20  # the 14-service tree: every level at once
    results(flattener, intents)
    assert resolver.queries == sent  # the analysis and the proof read only from memory


def test_the_tree_is_fetched_level_by_level() -> None:
    resolver = spfmanager.SnapshotResolver(fan_out())
    memo = MemoResolver(resolver)
    record = parse_record("v=spf1 include:fan.example -all")
    batches: list[int] = []
    warm = memo.warm

    def counting(queries: Any, **options: Any) -> int:
        batch = list(queries)
        batches.append(len(batch))
        return warm(batch, **options)

    memo.warm = counting  # type: ignore[method-assign]
    prefetch(memo, [Root(record, "example.com", 1000)], workers=4, seconds=10, charge_on_use=True)
    assert batches == [1, 5, 25, 125]  # one batch per level of the 5-wide, 3-deep tree
    assert resolver.queries == TREE_NAMES


def test_answers_are_charged_to_the_first_domain_using_them() -> None:
    zone = fan_out()
    records = ["v=spf1 include:fan.example -all", "v=spf1 ip4:192.0.2.1 include:fan.example ~all"]
    sequential = Flattener(spfmanager.SnapshotResolver(zone), workers=1)
    ahead = Flattener(spfmanager.SnapshotResolver(zone))
    ahead.prefetch([Root(parse_record(r), f"d{i}.example", 5000) for i, r in enumerate(records)])
    for flattener in (sequential, ahead):
        first, second = (flattener.flatten(r, f"d{i}.example") for i, r in enumerate(records))
        assert (first.dns_queries, second.dns_queries) == (TREE_NAMES, 0)


def test_a_domain_over_its_budget_is_refused_after_a_fleet_prefetch() -> None:
    """Each domain's budget holds as if it resolved alone: a fleet prefetch neither lifts
    it nor spends more than it on the hostile tree."""
    zone = {**fan_out(), "vendor.example": [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}]}
    resolver = spfmanager.SnapshotResolver(zone)
    flattener = Flattener(resolver)
    good, hostile = "v=spf1 include:vendor.example -all", "v=spf1 include:fan.example -all"
    roots = [Root(parse_record(good), "good.example", 100), Root(parse_record(hostile), "x", 40)]
    flattener.prefetch(roots)
    assert resolver.queries <= 1 + 40
    assert flattener.flatten(good, "good.example", query_budget=100).dns_queries == 1
    with pytest.raises(FlattenError, match="needed more than 40 DNS queries"):
        flattener.flatten(hostile, "x", query_budget=40)
    assert resolver.queries <= 1 + 40 + 40  # the prefetched 40, then at most 40 more


def test_unused_prefetched_answers_change_no_count() -> None:
    """A term after 'all' is never tested, so never fetched."""
    zone = {"v.example": [{"TXT": "v=spf1 ip4:192.0.2.1 -all"}]}
    resolver = spfmanager.SnapshotResolver(zone)
    result = Flattener(resolver).flatten("v=spf1 include:v.example -all a:never.example", "x.test")
    assert result.dns_queries == resolver.queries == 1
