"""Aggregation per source and attribution to catalog services (discover/analyze.py)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from ipaddress import IPv4Address, ip_address, ip_network

import pytest

from spfmanager.catalog import load_catalog
from spfmanager.config import parse_config
from spfmanager.discover.analyze import (
    ServiceIndex,
    ServiceRange,
    Status,
    aggregate,
    attribute,
    match_reverse,
)
from spfmanager.discover.model import AuthResult, Report, Row
from spfmanager.dns.overlay import LayeredResolver
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.spf.results import Result

M365_IP = "40.107.22.10"  # spf.protection.outlook.com: 40.107.0.0/16
SENDGRID_IP = "167.89.10.20"  # sendgrid.net: 167.89.0.0/17
UNKNOWN_IP = "203.0.113.66"


def row(
    ip: str,
    count: int = 1,
    *,
    spf: str = "pass",
    dkim: str = "pass",
    aligned: str = "pass",
    domain: str = "example.com",
    envelope: str | None = None,
) -> Row:
    return Row(
        source_ip=ip_address(ip),
        count=count,
        disposition="none",
        dkim_aligned=aligned,
        spf_aligned=aligned,
        header_from=domain,
        envelope_from=envelope,
        spf=(AuthResult(envelope or domain, spf, scope="mfrom"),),
        dkim=(AuthResult(domain, dkim, selector="s1"),),
    )


def report(
    *rows: Row, day: int = 1, org: str = "Google, Inc.", domain: str = "example.com"
) -> Report:
    return Report(
        source=f"report-{day}.xml",
        org_name=org,
        report_id=f"id-{day}-{org}",
        begin=datetime(2025, 3, day, 0, 0, tzinfo=UTC),
        end=datetime(2025, 3, day, 23, 59, 59, tzinfo=UTC),
        domain=domain,
        policy="none",
        rows=rows,
    )


def synthetic_reports() -> list[Report]:
    """Microsoft 365 (passing), SendGrid (failing) and an unknown IP, over two days."""
    return [
        report(
            row(M365_IP, 120),
            row(SENDGRID_IP, 40, spf="fail", aligned="fail", envelope="example.com"),
            row(UNKNOWN_IP, 7, spf="fail", dkim="fail", aligned="fail"),
            day=1,
        ),
        report(
            row(M365_IP, 80),
            row(SENDGRID_IP, 10, spf="softfail", dkim="fail", aligned="fail"),
            day=2,
            org="Outlook.com",
        ),
    ]


CONFIG_M365 = """\
# the domains we send as
domains:
  example.com:
    services: [microsoft365]  # mailboxes
"""


def test_rows_are_summed_per_source_with_days_and_results() -> None:
    sources = aggregate(synthetic_reports())
    assert [(str(s.ip), s.messages) for s in sources] == [
        (M365_IP, 200),
        (SENDGRID_IP, 50),
        (UNKNOWN_IP, 7),
    ]
    sendgrid = sources[1]
    assert sendgrid.spf == {"fail": 40, "softfail": 10}
    assert sendgrid.dkim == {"pass": 40, "fail": 10}
    assert sendgrid.dmarc_spf == {"fail": 50}
    assert sendgrid.days == {date(2025, 3, 1): {"fail": 40}, date(2025, 3, 2): {"softfail": 10}}
    assert sendgrid.reporters == {"Google, Inc.": 40, "Outlook.com": 10}
    assert sendgrid.envelope_domains == {"example.com": 50}
    assert sendgrid.first_seen == datetime(2025, 3, 1, tzinfo=UTC)
    assert sendgrid.last_seen.day == 2


def test_the_domain_filter_keeps_its_reports_only() -> None:
    other = report(row("192.0.2.1", 5, domain="other.example"), domain="other.example")
    sources = aggregate([*synthetic_reports(), other], domain="Other.Example.")
    assert [(s.domain, str(s.ip)) for s in sources] == [("other.example", "192.0.2.1")]
    assert len(aggregate([*synthetic_reports(), other])) == 4


def test_mfrom_result_wins_over_helo() -> None:
    helo_first = Row(
        source_ip=IPv4Address("192.0.2.9"),
        count=3,
        disposition="none",
        dkim_aligned="fail",
        spf_aligned="fail",
        header_from="example.com",
        spf=(
            AuthResult("mail.example.com", "pass", scope="helo"),
            AuthResult("example.com", "fail", scope="mfrom"),
        ),
    )
    (source,) = aggregate([report(helo_first)])
    assert source.spf == {"fail": 3}
    assert source.dkim == {"none": 3}


def test_attribution_with_a_config_listing_only_microsoft365(resolver: SnapshotResolver) -> None:
    config = parse_config(CONFIG_M365, "spfmanager.yaml")
    analysis = attribute(aggregate(synthetic_reports()), load_catalog(), resolver, config=config)
    by_ip = {str(s.stats.ip): s for s in analysis.sources}
    m365, sendgrid, unknown = by_ip[M365_IP], by_ip[SENDGRID_IP], by_ip[UNKNOWN_IP]
    assert (m365.status, m365.service, m365.result) == (
        Status.AUTHORIZED,
        "microsoft365",
        Result.PASS,
    )
    assert m365.matched == "40.107.0.0/16"
    assert (sendgrid.status, sendgrid.service) == (Status.FAILING, "sendgrid")
    assert sendgrid.result is Result.FAIL and sendgrid.checked_against == "config"
    assert "not in the config" in sendgrid.reason
    assert (unknown.status, unknown.service, unknown.stats.messages) == (Status.UNKNOWN, None, 7)


def test_without_config_the_published_record_decides(resolver: SnapshotResolver) -> None:
    # mondialrelay.fr publishes outlook, sendinblue, tipimail, mailgun, amazonses...
    reports = [report(row(M365_IP, 3), row(SENDGRID_IP, 2), domain="mondialrelay.fr")]
    analysis = attribute(aggregate(reports), load_catalog(), resolver)
    by_ip = {str(s.stats.ip): s for s in analysis.sources}
    assert by_ip[M365_IP].status is Status.AUTHORIZED
    assert by_ip[M365_IP].checked_against == "published"
    assert by_ip[SENDGRID_IP].status is Status.FAILING
    assert "not in the published record" in by_ip[SENDGRID_IP].reason


def test_shared_ranges_prefer_the_configured_service(resolver: SnapshotResolver) -> None:
    # Mailgun's EU range 87.253.232.0/21 is Mailjet's too, in the snapshot.
    config = parse_config("domains:\n  example.com:\n    services: [mailjet]\n", "c.yaml")
    analysis = attribute(
        aggregate([report(row("87.253.232.5"))]), load_catalog(), resolver, config=config
    )
    (source,) = analysis.sources
    assert source.service == "mailjet" and source.status is Status.AUTHORIZED
    assert "mailgun" in source.also


def test_longest_prefix_wins() -> None:
    index = ServiceIndex(
        [
            ServiceRange("wide", (), (ip_network("10.0.0.0/8"),)),
            ServiceRange("narrow", (), (ip_network("10.1.2.0/24"),)),
            ServiceRange("v6", (), (ip_network("2001:db8::/32"),)),
        ]
    )
    assert index.lookup(ip_address("10.1.2.3")).candidates == (("narrow", ()),)  # type: ignore[union-attr]
    match = index.lookup(ip_address("10.9.9.9"))
    assert match is not None and match.network == "10.0.0.0/8"
    assert index.lookup(ip_address("11.0.0.1")) is None
    assert index.lookup(ip_address("2001:db8::5")).network == "2001:db8::/32"  # type: ignore[union-attr]
    assert index.lookup(ip_address("::1")) is None


def test_ten_thousand_sources_are_fast(resolver: SnapshotResolver) -> None:
    base = int(IPv4Address("167.89.0.0"))
    rows = [row(str(IPv4Address(base + i * 3)), spf="fail") for i in range(5000)]
    rows += [row(str(IPv4Address(int(IPv4Address("100.64.0.0")) + i))) for i in range(5000)]
    sources = aggregate([report(*rows)])
    assert len(sources) == 10_000
    config = parse_config(CONFIG_M365, "spfmanager.yaml")
    started = time.perf_counter()
    analysis = attribute(sources, load_catalog(), resolver, config=config)
    elapsed = time.perf_counter() - started
    assert len(analysis.with_status(Status.FAILING)) == 5000
    assert len(analysis.with_status(Status.UNKNOWN)) == 5000
    assert elapsed < 30, elapsed


def test_reverse_dns_patterns_match_suffixes() -> None:
    patterns = {"microsoft365": ("*.outbound.protection.outlook.com",), "x": ("mx.x.example",)}
    found = match_reverse(["mail-db8eur05on2100.outbound.protection.outlook.com"], patterns)
    assert found is not None and found.candidates == (("microsoft365", ()),)
    assert match_reverse(["outbound.protection.outlook.com"], patterns) is None
    assert match_reverse(["mx.x.example"], patterns).candidates == (("x", ()),)  # type: ignore[union-attr]


def test_reverse_dns_attributes_an_unmatched_source(resolver: SnapshotResolver) -> None:
    catalog = load_catalog()
    with_patterns = [s for s in catalog if s.reverse_dns]
    if not with_patterns:
        pytest.skip("no catalog service lists reverse-DNS patterns")
    service = with_patterns[0]
    pattern = service.reverse_dns[0]
    host = pattern.replace("*.", "host-1.")
    zone = {
        "66.113.0.203.in-addr.arpa": [{"PTR": host}],
    }
    ptr = SnapshotResolver(zone)
    layered = LayeredResolver([ptr, resolver])
    analysis = attribute(
        aggregate([report(row(UNKNOWN_IP, spf="fail"))]), catalog, layered, reverse_dns=True
    )
    (source,) = analysis.sources
    assert source.service == service.id
    assert source.matched == f"ptr:{host}"
    off = attribute(aggregate([report(row(UNKNOWN_IP, spf="fail"))]), catalog, layered)
    assert off.sources[0].service is None
