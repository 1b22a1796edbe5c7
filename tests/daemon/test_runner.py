"""The runner's pass: memory stays flat as upstream rotates; a stop ends a large pass early."""

from __future__ import annotations

import gc
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml

import spfmanager.daemon.runner as runner_module
from spfmanager.daemon.history import History, Run
from spfmanager.daemon.runner import DomainRun, Outcome, Runner
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.flatten.pack import _group_sizes
from spfmanager.spf.compiled import _PROFILE_COMPILERS, compile_record
from spfmanager.spf.evaluate import _compiled_record
from spfmanager.spf.parser import parse_record

VENDOR = "spf.vendor.test"


def vendor_record(rotation: int) -> str:
    """60 /24s that all move on every rotation (same sizes, so no drift guard holds it)."""
    base = rotation % 200
    terms = " ".join(f"ip4:10.{base}.{i}.0/24" for i in range(60))
    return f"v=spf1 {terms} -all"


def write_config(tmp_path: Path, domains: list[str]) -> Path:
    config: dict[str, Any] = {
        "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
        "defaults": {"provider": "local", "ttl": 300, "policy": "-all"},
        "state": {"url": "sqlite:///state.db"},
        "domains": {
            domain: {
                "zone": "example.com",
                "include": [VENDOR],
                "ip4": [f"192.0.2.{index % 250}/32"],
            }
            for index, domain in enumerate(domains)
        },
    }
    path = tmp_path / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class Rotating:
    """The upstream of a pass: the vendor's record as of the current rotation."""

    def __init__(self) -> None:
        self.rotation = 0

    def __call__(self) -> SnapshotResolver:
        return SnapshotResolver({VENDOR: [{"TXT": vendor_record(self.rotation)}]})


def cache_sizes() -> dict[str, int]:
    return {
        "parse_record": parse_record.cache_info().currsize,
        "compile_record": compile_record.cache_info().currsize,
        "evaluate": _compiled_record.cache_info().currsize,
        "pack": _group_sizes.cache_info().currsize,
        **{
            f"profile {profile.name}": compiler.cache_info().currsize  # type: ignore[attr-defined]
            for profile, compiler in _PROFILE_COMPILERS.values()
            if compiler is not None
        },
    }


def test_a_pass_leaves_no_record_texts_in_memory(tmp_path: Path) -> None:
    domains = [f"d{index}.example.com" for index in range(12)]
    upstream = Rotating()
    runner = Runner(write_config(tmp_path, domains), upstream, retire_grace=0.0)
    tracemalloc.start()
    try:
        retained: list[int] = []
        for rotation in range(8):
            upstream.rotation = rotation
            runs = runner.run()
            assert {r.outcome for r in runs} == {Outcome.APPLIED}, [r.reason for r in runs]
            assert cache_sizes() == dict.fromkeys(cache_sizes(), 0)
            gc.collect()
            retained.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    # Every pass brought 12 new chained records and the upstream's: kept, they add ~100 KB a
    # pass. After the warm-up passes the retained heap must not climb with each rotation.
    growth = retained[-1] - retained[2]
    assert growth < 150_000, f"retained heap grew {growth} bytes over 5 passes: {retained}"


class StopAfterFirst:
    """An observer that asks the pass to stop as soon as one domain settled."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.settled_domains: list[str] = []

    def settled(self, run: DomainRun, previous: Run | None, history: History) -> None:
        self.settled_domains.append(run.domain)
        self.stop.set()


def test_a_stop_during_a_large_pass_ends_it_within_one_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "PLAN_CHUNK", 5)
    domains = [f"d{index}.example.com" for index in range(20)]
    config = write_config(tmp_path, domains)
    stop = threading.Event()
    observer = StopAfterFirst(stop)
    first = Runner(config, Rotating(), instance="a", lease=3600, observers=[observer])
    runs = first.run(stop=stop)
    # The domain being settled finishes; nothing else is applied or even leased: the rest
    # of its chunk is released and the later chunks are never taken.
    assert [r.domain for r in runs] == [domains[0]] == observer.settled_domains
    assert runs[0].outcome is Outcome.APPLIED
    other = Runner(config, Rotating(), instance="b", lease=3600).run()
    outcomes = {r.domain: r.outcome for r in other}
    assert outcomes.pop(domains[0]) is Outcome.SKIPPED  # still instance a's for its lease
    assert outcomes == dict.fromkeys(domains[1:], Outcome.APPLIED)
