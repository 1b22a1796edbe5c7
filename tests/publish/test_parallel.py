"""A build spread over processes gives exactly the builds of one process, in order."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import spfmanager
from spfmanager.compile import Intent, compile_config
from spfmanager.config.loader import parse_config
from spfmanager.flatten import Flattener
from spfmanager.publish import parallel
from spfmanager.publish.build import build

EXAMPLE = Path(__file__).parents[2] / "examples" / "over-limit"
SERVICES = ["microsoft365", "google-workspace", "mailchimp", "sendgrid", "amazonses", "zendesk"]


def fleet(count: int) -> list[Intent]:
    """``count`` domains, each its own mix of the example's services and its own /28."""
    draw = random.Random(7)
    lines = ["defaults: {policy: '~all'}", "domains:"]
    for index in range(count):
        mix = draw.sample(SERVICES, draw.randint(1, 4))
        lines.append(f"  d{index}.example: {{services: {mix}, ip4: ['10.9.{index}.16/28']}}")
    return compile_config(parse_config("\n".join(lines)))


def builds(intents: list[Intent], jobs: int) -> list[dict[str, object]]:
    resolver = spfmanager.SnapshotResolver.from_file(EXAMPLE / "dns-snapshot.yaml")
    seen: list[str] = []
    done = build(intents, resolver, flattener=Flattener(resolver), jobs=jobs, progress=seen.append)
    assert sorted(seen) == sorted(i.domain for i in intents)  # progress for every domain
    return [b.data for b in done]


def test_processes_give_the_same_builds_in_the_same_order() -> None:
    intents = fleet(24)
    one = builds(intents, jobs=1)
    two = builds(intents, jobs=2)
    assert json.dumps(two, sort_keys=True) == json.dumps(one, sort_keys=True)
    assert [b["domain"] for b in two] == [i.domain for i in intents]
    assert all("error" not in b for b in two)
    # Recounted as one process counts: the first domain asks, the others know.
    assert one[0]["dns_queries"] > 0 and sum(int(b["dns_queries"]) for b in two) == sum(
        int(b["dns_queries"]) for b in one
    )


def test_only_large_builds_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPFMANAGER_JOBS", raising=False)
    assert parallel.default_jobs(parallel.PARALLEL_MIN - 1) == 1
    assert parallel.default_jobs(parallel.PARALLEL_MIN) >= 1
    monkeypatch.setenv("SPFMANAGER_JOBS", "3")
    assert parallel.default_jobs(5) == 3
    monkeypatch.setenv("SPFMANAGER_JOBS", "1")
    assert parallel.default_jobs(10_000) == 1
