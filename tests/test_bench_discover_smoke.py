"""The discover benchmark's --quick mode: 200 generated reports read by every reader here."""

from __future__ import annotations

import time
from typing import Any

import pytest

from benchmarks import bench_discover

BUDGET_SECONDS = 20.0


@pytest.fixture(scope="module")
def timed_report() -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    report = bench_discover.run(quick=True, timeout=BUDGET_SECONDS)
    return report, time.monotonic() - started


def test_every_reader_reads_the_whole_corpus(timed_report: tuple[dict[str, Any], float]) -> None:
    report, elapsed = timed_report
    corpus = report["corpus"]
    assert corpus["reports"] == bench_discover.QUICK_REPORTS
    assert corpus["xml"] and corpus["gz"] and corpus["zip"]
    readers = {row["reader"]: row for row in report["rows"]}
    assert {"spfmanager", "etree"} <= set(readers)
    assert set(readers) | set(report["missing"]) == set(bench_discover.READERS)
    for row in readers.values():
        assert row["agrees"], row
        assert row["skipped"] == 0 and row["reports_per_second"] > 0
        assert row["peak_rss_mib"] > 0
    assert readers["spfmanager"]["speed_vs_spfmanager"] == 1.0
    assert elapsed < BUDGET_SECONDS


def test_the_corpus_is_what_the_reader_sees(tmp_path: Any) -> None:
    totals = bench_discover.generate(tmp_path, 25)
    row = bench_discover.measure("spfmanager", tmp_path)
    assert (row["reports"], row["rows"]) == (totals["reports"], totals["rows"])
    assert bench_discover.render(
        {
            "corpus": totals,
            "rows": [row | {"speed_vs_spfmanager": 1.0, "agrees": True}],
            "missing": {},
        }
    ).startswith("read_reports over 25 reports")
