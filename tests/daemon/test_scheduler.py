"""The daemon's clock: domains due together run in one pass; TTLs bring a run forward."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from spfmanager.config.schedule import ScheduleConfig, parse_duration
from spfmanager.daemon.runner import DomainRun, Outcome, Runner
from spfmanager.daemon.scheduler import Daemon
from spfmanager.dns.snapshot import SnapshotResolver
from tests.test_workflow import UPSTREAM

DOMAINS = ["a.example.com", "b.example.com", "c.example.com"]


def runner(tmp_path: Path) -> Runner:
    config = {
        "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
        "defaults": {"provider": "local", "ttl": 300},
        "domains": {d: {"services": ["microsoft365"], "zone": "example.com"} for d in DOMAINS},
    }
    path = tmp_path / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return Runner(path, lambda: SnapshotResolver(UPSTREAM))


def test_durations() -> None:
    assert parse_duration("15m") == 900 and parse_duration("30s") == 30
    assert parse_duration(90) == 90 and parse_duration("1h") == 3600


def test_due_domains_run_in_one_pass_and_stop_finishes(tmp_path: Path) -> None:
    passes: list[list[DomainRun]] = []
    done = threading.Event()

    def on_pass(runs: list[DomainRun]) -> None:
        passes.append(runs)
        if len(passes) >= 2:
            done.set()

    schedule = ScheduleConfig(interval=1.0, jitter=0.0, min_interval=1.0)
    daemon = Daemon(runner(tmp_path), dict.fromkeys(DOMAINS, schedule), on_pass=on_pass)
    daemon.start()
    try:
        assert done.wait(20), f"only {len(passes)} pass(es) in 20 s"
        assert daemon.running
    finally:
        started = time.monotonic()
        assert daemon.stop(10)
        assert time.monotonic() - started < 10
    first = passes[0]
    assert sorted(r.domain for r in first) == DOMAINS  # all due at start: one shared pass
    assert {r.outcome for r in first} == {Outcome.APPLIED}
    assert all(r.outcome is Outcome.UNCHANGED for p in passes[1:] for r in p)
    assert not daemon.running


def test_a_short_upstream_ttl_brings_the_next_run_forward(tmp_path: Path) -> None:
    schedule = ScheduleConfig(interval=600.0, jitter=0.0, min_interval=5.0)
    daemon = Daemon(runner(tmp_path), {DOMAINS[0]: schedule, DOMAINS[1]: schedule})
    daemon.scheduler.start(paused=True)
    for domain in DOMAINS[:2]:
        daemon.scheduler.add_job(
            daemon._mark_due, "interval", seconds=600, args=[domain], id=domain
        )
    try:
        now = datetime.now(UTC)
        daemon._reschedule(
            [
                DomainRun(DOMAINS[0], Outcome.UNCHANGED, "", 0.0, min_ttl=30),
                DomainRun(DOMAINS[1], Outcome.UNCHANGED, "", 0.0, min_ttl=1),
            ]
        )
        soon = daemon.scheduler.get_job(DOMAINS[0]).next_run_time
        floor = daemon.scheduler.get_job(DOMAINS[1]).next_run_time
        assert now + timedelta(seconds=29) < soon < now + timedelta(seconds=32)
        # never sooner than min_interval, however short the TTL
        assert now + timedelta(seconds=4) < floor < now + timedelta(seconds=7)
    finally:
        daemon.scheduler.shutdown(wait=False)
