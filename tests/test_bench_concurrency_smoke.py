"""The concurrency benchmark's --quick run, and its loopback DNS server, on 127.0.0.1 only."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_concurrency
from benchmarks.latency_dns import LatencyDNSServer
from spfmanager.dns.base import RRType
from spfmanager.dns.resolver import LiveResolver
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.spf.parser import parse_record

ZONEDATA = bench_concurrency.EXAMPLE / "dns-snapshot.yaml"


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return bench_concurrency.run(quick=True)


def test_both_modes_publish_the_offline_records(report: dict[str, Any]) -> None:
    assert report["records_identical"]  # run() raises RecordsDiffer otherwise
    assert [m["mode"] for m in report["modes"]] == ["sequential", "concurrent"]
    assert report["domain"] in report["records"]
    assert report["services"] == 14
    assert report["depth"] == 2
    assert report["bound_seconds"] == pytest.approx(4 * report["rtt_ms"] / 1000)


def test_sequential_mode_has_one_query_in_flight(report: dict[str, Any]) -> None:
    sequential = report["modes"][0]
    assert sequential["workers"] == 1
    assert sequential["max_in_flight"] == 1
    assert sequential["queries"] == sequential["flattener_queries"] == len(sequential["names"])
    # One query at a time, each answered rtt after it arrived.
    assert sequential["dns_seconds"] >= sequential["queries"] * report["rtt_ms"] / 1000


def test_concurrent_mode_overlaps_queries(report: dict[str, Any]) -> None:
    sequential, concurrent = report["modes"]
    assert concurrent["workers"] > 1
    assert concurrent["max_in_flight"] > 1
    # Every name the analysis needs reaches the server, prefetched or not.
    assert set(concurrent["names"]) >= set(sequential["names"])


def test_tree_depth_counts_include_redirect_and_mx_levels() -> None:
    zonedata = SnapshotResolver(
        {
            "one.test": [{"TXT": "v=spf1 include:two.test -all"}],
            "two.test": [{"TXT": "v=spf1 redirect=three.test"}],
            "three.test": [{"TXT": "v=spf1 mx:mail.test -all"}],
            "mail.test": [{"MX": [10, "mx.mail.test"]}],
            "flat.test": [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}],
        }
    )
    depth = bench_concurrency.tree_depth
    assert depth(parse_record("v=spf1 ip4:192.0.2.1 -all"), "d.test", zonedata) == 0
    assert depth(parse_record("v=spf1 include:flat.test -all"), "d.test", zonedata) == 1
    # one (1) -> two (2) -> three (3) -> mx mail.test (4) -> its exchange's addresses (5)
    assert depth(parse_record("v=spf1 include:one.test -all"), "d.test", zonedata) == 5


def test_server_answers_authoritatively_after_the_delay_without_queueing() -> None:
    rtt, count = 0.1, 8
    with LatencyDNSServer(Path(ZONEDATA), rtt) as server:
        assert server.host == "127.0.0.1"
        resolver = LiveResolver(nameservers=[server.host], port=server.port, cache=False)
        missing = resolver.query("absent.example", RRType.TXT)
        assert missing.nxdomain  # believed: AA and an SOA
        assert resolver.query("sendgrid.net", RRType.A).records == ()  # NODATA, believed
        server.reset()
        names = ["sendgrid.net", "amazonses.com", "mktomail.com", "_spf.google.com"] * 2
        started = time.perf_counter()
        with ThreadPoolExecutor(count) as pool:
            answers = list(pool.map(lambda n: resolver.query(n, RRType.TXT), names))
        elapsed = time.perf_counter() - started
        stats = server.stats()
    assert all(a.records for a in answers)
    assert stats.queries == count
    assert stats.max_in_flight > 1
    assert rtt <= elapsed < count * rtt
