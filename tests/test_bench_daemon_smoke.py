"""The daemon soak benchmark's --quick mode: a real daemon process, a loopback DNS server,
upstream changes; every change reaches every affected zone file, memory is measured.

The checks that decide "published" are tested on their own first, on zone files written
here: a benchmark whose detector always said yes would pass the soak whatever the daemon
did.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import pytest

from benchmarks import bench_daemon_soak as soak

DOMAIN = "c1.example"
ZONE = """\
$TTL 60
@ 60 IN SOA ns.c1.example. hostmaster.c1.example. ( 1 3600 900 1209600 300 )
@ 60 IN NS ns.c1.example.
{records}
"""


def write_zone(directory: Path, records: str) -> Path:
    path = directory / f"{DOMAIN}.zone"
    path.write_text(ZONE.format(records=records), encoding="ascii")
    return path


def test_a_zone_file_authorizes_only_what_its_chain_says(tmp_path: Path) -> None:
    path = write_zone(
        tmp_path,
        '@ 60 IN TXT "v=spf1 ip4:10.1.8.0/26 redirect=_spf1-abc.c1.example"\n'
        '_spf1-abc 60 IN TXT "v=spf1 ip4:10.2.9.0/26 -all"\n'
        '_spf1-old 60 IN TXT "v=spf1 ip4:10.3.10.0/26 -all"',  # retired: not reachable
    )
    records = soak.zone_records(path, DOMAIN)
    assert soak.authorizes(records, DOMAIN, "10.1.8.1")
    assert soak.authorizes(records, DOMAIN, "10.2.9.1")  # through the chain
    assert not soak.authorizes(records, DOMAIN, "10.3.10.1")
    assert not soak.authorizes(records, DOMAIN, "10.1.9.1")


def test_the_watcher_waits_for_the_new_range_and_the_old_ones_removal(tmp_path: Path) -> None:
    old, new = soak.probe(1, 0), soak.probe(1, 1)
    write_zone(tmp_path, f'@ 60 IN TXT "v=spf1 ip4:{soak.rotating_range(1, 0)} -all"')
    watcher = soak.Watcher(tmp_path)
    change = soak.Change(1, 1, 1, 0.0, new, old, affected=1)
    watcher.expect(change, [DOMAIN])
    watcher.check(1.0)
    assert watcher.waiting() == 1  # untouched file: not looked at, not published
    both = f"ip4:{soak.rotating_range(1, 0)} ip4:{soak.rotating_range(1, 1)}"
    write_zone(tmp_path, f'@ 60 IN TXT "v=spf1 {both} -all"')
    watcher.check(2.0)
    assert watcher.waiting() == 1 and not change.published  # the old range still passes
    write_zone(tmp_path, f'@ 60 IN TXT "v=spf1 ip4:{soak.rotating_range(1, 1)} -all"')
    watcher.check(3.0)
    assert watcher.waiting() == 0 and change.published == {DOMAIN: 3.0}


def test_a_newer_change_supersedes_a_pending_one(tmp_path: Path) -> None:
    watcher = soak.Watcher(tmp_path)
    first = soak.Change(1, 1, 1, 0.0, soak.probe(1, 1), soak.probe(1, 0), affected=1)
    second = soak.Change(2, 1, 2, 1.0, soak.probe(1, 2), soak.probe(1, 1), affected=1)
    watcher.expect(first, [DOMAIN])
    watcher.expect(second, [DOMAIN])
    assert first.superseded == {DOMAIN} and watcher.waiting() == 1


def test_the_dns_server_answers_only_its_zone() -> None:
    records = {"_spf.svc01.soak.test": ["v=spf1 -all"]}
    ok = soak.answer(dns.message.make_query("_spf.svc01.soak.test", "TXT"), records, 5)
    assert ok.rcode() == dns.rcode.NOERROR and ok.answer[0].ttl == 5
    missing = soak.answer(dns.message.make_query("nope.soak.test", "TXT"), records, 5)
    assert missing.rcode() == dns.rcode.NXDOMAIN
    outside = soak.answer(dns.message.make_query("example.com", "TXT"), records, 5)
    assert outside.rcode() == dns.rcode.REFUSED


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return soak.run(soak.QUICK)


def test_quick_soak_publishes_every_change(report: dict[str, Any]) -> None:
    assert report["ok"], report["problems"]
    assert report["quick"] is True
    assert report["elapsed_seconds"] < 45
    assert report["first_publish"]["domains_published"] == soak.QUICK.domains
    changes = report["changes"]
    assert changes["made"] >= 4
    assert changes["affected_pairs"] >= changes["made"]
    assert changes["missed"] == 0
    assert changes["published"] + changes["superseded"] == changes["affected_pairs"]
    assert changes["published"] > 0
    latency = changes["latency_seconds"]
    assert 0 < latency["median"] <= latency["p95"] <= latency["max"]
    # Re-checked when the upstream TTL expires: well within one interval.
    assert latency["max"] < soak.QUICK.interval + soak.QUICK.ttl
    assert report["problems"] == []


def test_quick_soak_shares_upstream_answers(report: dict[str, Any]) -> None:
    passes, queries = report["passes"], report["dns"]
    assert passes["count"] >= 2
    assert passes["outcomes"].get("applied", 0) > 0
    assert set(passes["outcomes"]) <= {"applied", "unchanged"}
    assert passes["longer_than_interval"] == 0
    # Each upstream name asked at most about once per pass, whatever the number of domains.
    assert 0 < queries["queries_per_pass"]["max"] <= queries["upstream_names"]
    assert queries["most_queries_of_one_name_in_one_pass"] <= 2
    assert queries["queries_per_pass"]["max"] < queries["unshared_per_pass"]["median"]
    assert 0 < queries["shared_ratio"] < 1
    assert queries["queries_outside_passes"] == 0


def test_quick_soak_measures_memory_and_stops_in_time(report: dict[str, Any]) -> None:
    memory = report["memory"]
    assert memory["rss_soak_start_kib"] > 10_000  # a Python process with spfmanager loaded
    ratio = memory["ratio_end_to_start"]
    assert ratio is not None and math.isfinite(ratio) and 0.5 < ratio < 1.5
    assert ratio == pytest.approx(memory["rss_end_kib"] / memory["rss_soak_start_kib"], rel=0.01)
    assert report["stop_seconds"] is not None and report["stop_seconds"] < 15
    assert report["cpu_seconds_during_soak"]["daemon"] > 0


def test_quick_soak_renders_a_table(report: dict[str, Any]) -> None:
    text = soak.render(report)
    for heading in ("change -> publish", "DNS queries per pass", "RSS end / start", "ok"):
        assert heading in text
