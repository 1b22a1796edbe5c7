"""The fleet benchmark's --quick mode plans every domain of both fleets, offline."""

from __future__ import annotations

import time
from typing import Any

import pytest

from benchmarks import bench_fleet

BUDGET_SECONDS = 20.0


@pytest.fixture(scope="module")
def timed_report() -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    report = bench_fleet.run(quick=True, timeout=BUDGET_SECONDS)
    return report, time.monotonic() - started


def test_every_fleet_and_size_is_planned_without_error(
    timed_report: tuple[dict[str, Any], float],
) -> None:
    report, elapsed = timed_report
    rows = {(r["fleet"], r["domains"]): r for r in report["rows"]}
    assert set(rows) == {(f, n) for f in bench_fleet.FLEETS for n in bench_fleet.QUICK_SIZES}
    for (fleet, size), row in rows.items():
        assert row["planned"] == size, (fleet, size)
        assert row["errors"] == 0, row["first_errors"]
        assert row["plan_seconds"] > 0 and row["plan_cpu_seconds"] > 0
        assert row["ms_per_domain"] > 0
        assert row["peak_rss_mib"] is None or row["peak_rss_mib"] > 0
    assert elapsed < BUDGET_SECONDS


def test_the_fleets_share_intents_or_not(timed_report: tuple[dict[str, Any], float]) -> None:
    rows = {(r["fleet"], r["domains"]): r for r in timed_report[0]["rows"]}
    size = max(bench_fleet.QUICK_SIZES)
    assert rows[("shared", size)]["distinct_intents"] == bench_fleet.MIXES
    assert rows[("distinct", size)]["distinct_intents"] == size


def test_every_target_is_reported(timed_report: tuple[dict[str, Any], float]) -> None:
    targets = timed_report[0]["targets"]
    assert {t["fleet"] for t in targets} == {*bench_fleet.FLEETS, "any"}
    assert all(t["ok"] in (True, False, None) for t in targets)
    assert bench_fleet.render(timed_report[0]).startswith("spfmanager plan")
