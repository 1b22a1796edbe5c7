"""Flattening preserves what the record authorizes, checked independently with evaluate()."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest

import spfmanager
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import FlattenError
from spfmanager.flatten import FlattenResult, flatten
from spfmanager.flatten.pack import answer_size

DATA = Path(__file__).parent.parent / "data"
DOMAIN = "example.com"


def zone(extra: Mapping[str, Any]) -> spfmanager.SnapshotResolver:
    return spfmanager.SnapshotResolver(dict(extra))


def intent_result(record: str, ip: str, resolver: spfmanager.Resolver) -> spfmanager.Result:
    served = OverlayResolver(resolver, {DOMAIN: [[record]]})
    return spfmanager.evaluate(
        ip,
        f"postmaster@{DOMAIN}",
        DOMAIN,
        resolver=served,
        max_lookups=10**6,
        max_void_lookups=10**6,
    ).result


def published_result(
    result: FlattenResult, ip: str, resolver: spfmanager.Resolver
) -> spfmanager.Result:
    served = OverlayResolver(resolver, {n: [s] for n, s in result.records.items()})
    return spfmanager.evaluate(ip, f"postmaster@{DOMAIN}", DOMAIN, resolver=served).result


def probe_points(networks: Iterable[str], seed: int = 7) -> list[str]:
    """Edges of each network, their neighbours, and random addresses."""
    rng = random.Random(seed)
    points: set[str] = {"0.0.0.0", "255.255.255.255", "::", "ffff::1", "198.51.100.77"}
    for text in networks:
        net = ip_network(text, strict=False)
        first, last = int(net.network_address), int(net.broadcast_address)
        top = (1 << net.max_prefixlen) - 1
        make = IPv4Address if net.version == 4 else IPv6Address
        for value in (first - 1, first, last, last + 1, rng.randint(first, last)):
            if 0 <= value <= top:
                points.add(str(make(value)))
    return sorted(points)


def assert_equivalent(
    record: str, resolver: spfmanager.Resolver, points: Iterable[str], **options: Any
) -> FlattenResult:
    result = flatten(record, DOMAIN, resolver=resolver, **options)
    for ip in points:
        assert published_result(result, ip, resolver) == intent_result(record, ip, resolver), ip
    for name, strings in result.records.items():
        assert all(len(s) <= 255 for s in strings), name
        assert answer_size(name, [strings]) <= 512, name
    assert result.lookups <= 10
    return result


def test_exclusion_inside_include_is_kept() -> None:
    resolver = zone({"vendor.example": [{"TXT": "v=spf1 -ip4:192.0.2.7 ip4:192.0.2.0/24 -all"}]})
    record = "v=spf1 include:vendor.example ip4:192.0.2.7 ~all"
    result = assert_equivalent(record, resolver, probe_points(["192.0.2.0/24", "192.0.2.7/32"]))
    # .7 is not authorized by the vendor, but by our own later ip4 term: it passes.
    assert published_result(result, "192.0.2.7", resolver) is spfmanager.Result.PASS


def test_exclusion_inside_include_falls_through_to_policy() -> None:
    resolver = zone({"vendor.example": [{"TXT": "v=spf1 -ip4:192.0.2.7 ip4:192.0.2.0/24 -all"}]})
    record = "v=spf1 include:vendor.example ~all"
    result = assert_equivalent(record, resolver, probe_points(["192.0.2.0/24", "192.0.2.7/32"]))
    assert published_result(result, "192.0.2.7", resolver) is spfmanager.Result.SOFTFAIL
    assert published_result(result, "192.0.2.8", resolver) is spfmanager.Result.PASS


def test_softfail_and_neutral_inside_include_are_not_pass() -> None:
    resolver = zone(
        {
            "soft.example": [{"TXT": "v=spf1 ~ip4:198.51.100.0/24 ?ip4:203.0.113.0/24 ~all"}],
        }
    )
    record = "v=spf1 include:soft.example -all"
    result = assert_equivalent(
        record, resolver, probe_points(["198.51.100.0/24", "203.0.113.0/24"])
    )
    assert published_result(result, "198.51.100.1", resolver) is spfmanager.Result.FAIL
    assert result.records == {DOMAIN: ["v=spf1 -all"]}


def test_mixed_qualifiers_on_includes() -> None:
    resolver = zone(
        {
            "a.example": [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}],
            "b.example": [{"TXT": "v=spf1 ip4:198.51.100.128/25 ip6:2001:db8::/32 -all"}],
        }
    )
    record = "v=spf1 ~include:b.example ?include:a.example -all"
    points = probe_points(["198.51.100.0/24", "198.51.100.128/25", "2001:db8::/32"])
    result = assert_equivalent(record, resolver, points)
    assert published_result(result, "198.51.100.200", resolver) is spfmanager.Result.SOFTFAIL
    assert published_result(result, "198.51.100.20", resolver) is spfmanager.Result.NEUTRAL


def test_redirect_target_decides_when_nothing_matched() -> None:
    resolver = zone({"policy.example": [{"TXT": "v=spf1 ip4:192.0.2.0/25 ~all"}]})
    record = "v=spf1 ip4:203.0.113.5 redirect=policy.example"
    result = assert_equivalent(record, resolver, probe_points(["192.0.2.0/25", "203.0.113.5/32"]))
    assert published_result(result, "198.51.100.1", resolver) is spfmanager.Result.SOFTFAIL


def test_dual_cidr_a_and_mx_resolve_against_their_own_domain() -> None:
    resolver = zone(
        {
            "vendor.example": [
                {"TXT": "v=spf1 a/24//64 mx/28 -all"},
                {"A": "198.51.100.10"},
                {"AAAA": "2001:db8:1::10"},
                {"MX": [10, "mx.vendor.example"]},
            ],
            "mx.vendor.example": [{"A": "203.0.113.20"}],
            DOMAIN: [{"A": "192.0.2.1"}],  # must never be used for the vendor's bare a
        }
    )
    record = "v=spf1 include:vendor.example -all"
    points = probe_points(["198.51.100.0/24", "2001:db8:1::/64", "203.0.113.16/28", "192.0.2.1/32"])
    result = assert_equivalent(record, resolver, points)
    assert published_result(result, "192.0.2.1", resolver) is spfmanager.Result.FAIL
    assert published_result(result, "2001:db8:1::ffff", resolver) is spfmanager.Result.PASS


def test_deep_include_chain_and_ipv6() -> None:
    data: dict[str, Any] = {}
    for depth in range(12):
        nxt = f" include:l{depth + 1}.example" if depth < 11 else ""
        data[f"l{depth}.example"] = [
            {"TXT": f"v=spf1 ip6:2001:db8:{depth}::/48 ip4:10.{depth}.0.0/16{nxt} -all"}
        ]
    resolver = zone(data)
    record = "v=spf1 include:l0.example -all"
    nets = [f"2001:db8:{d}::/48" for d in range(12)] + [f"10.{d}.0.0/16" for d in range(12)]
    result = assert_equivalent(record, resolver, probe_points(nets))
    assert result.intent_lookups == 12
    assert result.lookups <= 8


def test_include_loop_is_an_error() -> None:
    resolver = zone(
        {
            "a.example": [{"TXT": "v=spf1 include:b.example -all"}],
            "b.example": [{"TXT": "v=spf1 include:a.example -all"}],
        }
    )
    with pytest.raises(FlattenError, match="loop"):
        flatten("v=spf1 include:a.example -all", DOMAIN, resolver=resolver)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({}, "does not exist"),
        ({"broken.example": [{"TXT": "v=spf1 ip4:1.2.3.4/40 -all"}]}, "syntax error"),
        (
            {"broken.example": [{"TXT": "v=spf1 -all"}, {"TXT": "v=spf1 +all"}]},
            "2 SPF records",
        ),
        ({"broken.example": [{"TXT": "not spf"}]}, "no SPF record"),
    ],
)
def test_broken_include_is_an_error_not_dropped(data: dict[str, Any], reason: str) -> None:
    with pytest.raises(FlattenError, match=reason):
        flatten("v=spf1 include:broken.example -all", DOMAIN, resolver=zone(data))


def test_unreachable_broken_include_does_not_matter() -> None:
    resolver = zone({})
    result = flatten(
        "v=spf1 ip4:0.0.0.0/0 ip6:::/0 include:gone.example -all", DOMAIN, resolver=resolver
    )
    assert result.records[DOMAIN] == ["v=spf1 +all"]


def test_dns_timeout_upstream_is_transient_error() -> None:
    resolver = zone({"slow.example": ["TIMEOUT"]})
    with pytest.raises(FlattenError) as caught:
        flatten("v=spf1 include:slow.example -all", DOMAIN, resolver=resolver)
    assert caught.value.transient


def test_plus_all_upstream_is_flattened_faithfully_with_a_warning() -> None:
    resolver = zone({"open.example": [{"TXT": "v=spf1 +all"}]})
    result = assert_equivalent("v=spf1 include:open.example -all", resolver, probe_points([]))
    assert result.records[DOMAIN] == ["v=spf1 +all"]
    assert any("very large" in w for w in result.warnings)


def test_exists_and_macros_are_kept_and_nothing_moves_across_them() -> None:
    resolver = zone(
        {
            "vendor.example": [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}],
            "1.2.0.192.allow.example": [{"A": "127.0.0.2"}],
        }
    )
    record = (
        "v=spf1 ip4:192.0.2.0/25 exists:%{ir}.allow.example -ip4:192.0.2.1 "
        "include:vendor.example -all"
    )
    result = assert_equivalent(record, resolver, probe_points(["192.0.2.0/24", "198.51.100.0/24"]))
    text = result.texts[DOMAIN]
    terms = text.split()
    exists_at = terms.index("exists:%{ir}.allow.example")
    assert terms.index("ip4:192.0.2.0/25") < exists_at < terms.index("ip4:198.51.100.0/24")
    # 192.0.2.1 is matched by the first ip4 term before exists: still pass
    assert published_result(result, "192.0.2.1", resolver) is spfmanager.Result.PASS
    assert any("exists" in k for k in result.kept)


def test_bare_a_is_pinned_when_kept_in_a_chained_record() -> None:
    resolver = zone({DOMAIN: [{"A": "192.0.2.1"}]})
    many = " ".join(f"ip4:10.{i}.{j}.0/24" for i in range(0, 40, 2) for j in range(0, 40, 8))
    record = f"v=spf1 {many} ptr -all"
    result = flatten(record, DOMAIN, resolver=resolver)
    assert len(result.records) > 1
    assert f"ptr:{DOMAIN}" in result.texts[list(result.texts)[-1]]


def test_keep_option_keeps_a_term() -> None:
    resolver = zone({"crm.example": [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}]})
    result = assert_equivalent(
        "v=spf1 include:crm.example ip4:192.0.2.0/24 -all",
        resolver,
        probe_points(["198.51.100.0/24", "192.0.2.0/24"]),
        keep=["include:crm.example"],
    )
    assert result.texts[DOMAIN] == "v=spf1 include:crm.example ip4:192.0.2.0/24 -all"
    assert result.lookups == 1


def test_over_limit_domain_is_chained_within_all_limits() -> None:
    resolver = spfmanager.SnapshotResolver.from_file(DATA / "provider-snapshot.yaml")
    includes = [
        "spf.protection.outlook.com",
        "_spf.google.com",
        "sendgrid.net",
        "servers.mcsv.net",
        "mail.zendesk.com",
        "amazonses.com",
        "spf.mailjet.com",
        "spf.improvmx.com",
        "mailgun.org",
        "spf.sendinblue.com",
        "et._spf.pardot.com",
        "_spf.activetrail.com",
        "spf.tmes.trendmicro.com",
    ]
    record = "v=spf1 " + " ".join(f"include:{i}" for i in includes) + " -all"
    nets: list[str] = []
    for name in includes:
        for txt in resolver.query(name, spfmanager.RRType.TXT).texts():
            nets += [
                t.split(":", 1)[1]
                for t in txt.data.decode().split()
                if t.startswith(("ip4:", "ip6:"))
            ]
    result = assert_equivalent(record, resolver, probe_points(nets))
    assert result.intent_lookups > 10
    assert 1 < len(result.records) <= 8
    root = result.texts[DOMAIN]
    assert root.startswith("v=spf1 ") and "redirect=_spf1-" in root


def test_other_txt_records_at_the_root_share_the_answer() -> None:
    resolver = spfmanager.SnapshotResolver.from_file(DATA / "provider-snapshot.yaml")
    record = "v=spf1 include:spf.protection.outlook.com include:sendgrid.net -all"
    alone = flatten(record, DOMAIN, resolver=resolver)
    verification = [["google-site-verification=" + "x" * 200], ["MS=ms12345678"]]
    crowded = flatten(record, DOMAIN, resolver=resolver, other_root_txt=verification)
    assert len(crowded.records) >= len(alone.records)
    root_strings = crowded.records[DOMAIN]
    assert answer_size(DOMAIN, [*verification, root_strings]) <= 512


def test_chain_names_are_content_addressed() -> None:
    resolver = zone({})
    many = " ".join(f"ip4:10.{i}.{j}.0/24" for i in range(0, 60, 2) for j in range(0, 40, 8))
    first = flatten(f"v=spf1 {many} -all", DOMAIN, resolver=resolver)
    again = flatten(f"v=spf1 {many} -all", DOMAIN, resolver=resolver)
    changed = flatten(f"v=spf1 {many} ip4:192.0.2.1 -all", DOMAIN, resolver=resolver)
    assert first.records == again.records
    assert set(first.records) - {DOMAIN} != set(changed.records) - {DOMAIN}


def test_lookup_budget_is_a_preference_within_the_limit() -> None:
    data = {f"k{i}.example": [{"TXT": f"v=spf1 ip4:192.0.2.{i} -all"}] for i in range(11)}
    kept = [f"include:k{i}.example" for i in range(11)]
    record = "v=spf1 " + " ".join(kept[:7]) + " -all"
    result = flatten(record, DOMAIN, resolver=zone(data), keep=kept, lookup_budget=6)
    assert result.lookups == 7
    assert any("over the lookup budget of 6" in w for w in result.warnings)
    with pytest.raises(FlattenError, match="over RFC 7208's limit of 10"):
        flatten("v=spf1 " + " ".join(kept) + " -all", DOMAIN, resolver=zone(data), keep=kept)


def test_each_name_queried_once_per_run() -> None:
    resolver = spfmanager.SnapshotResolver.from_file(DATA / "provider-snapshot.yaml")
    result = flatten(
        "v=spf1 include:mondialrelay.fr include:spf.protection.outlook.com -all",
        DOMAIN,
        resolver=resolver,
    )
    assert result.dns_queries == resolver.queries


@pytest.mark.parametrize(
    "name", ["mondialrelay.fr", "mailgun.org", "_spf.google.com", "spf.improvmx.com"]
)
def test_snapshot_customer_records_flatten_equivalently(name: str) -> None:
    resolver = spfmanager.SnapshotResolver.from_file(DATA / "provider-snapshot.yaml")
    (txt,) = resolver.query(name, spfmanager.RRType.TXT).texts()
    record = txt.data.decode()
    points = [
        str(ip_address(f"{a}.{b}.1.1"))
        for a in (40, 52, 104, 185, 198, 35, 172)
        for b in (0, 92, 100, 7, 41)
    ]
    assert_equivalent(record, resolver, points)


def test_github_missing_includes_refuse_to_flatten() -> None:
    resolver = spfmanager.SnapshotResolver.from_file(DATA / "provider-snapshot.yaml")
    (txt,) = resolver.query("github.com", spfmanager.RRType.TXT).texts()
    with pytest.raises(FlattenError, match=r"esp\.github\.com"):
        flatten(txt.data.decode(), "github.com", resolver=resolver)
