"""The proof evaluates every equivalence class of DNS behaviour, under every receiver profile.

A term kept verbatim (an include reaching ``exists:%{i}...``) can overflow the void-lookup
or the lookup limit for one address family, or for the clients whose macro expansions have
DNS data, only. The range edges the proof used to evaluate never meet those clients; the
classes (reach, listed, world) do. Where a receiver profile reads the intent itself
otherwise than RFC 7208, the proof records it instead of refusing.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest

import spfmanager
from spfmanager.dns.base import Answer, Resolver, RRType
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import VerificationError
from spfmanager.flatten.analyze import Analyzer
from spfmanager.flatten.cover import IPV4_MAPPED
from spfmanager.flatten.decisions import Decisions, NormalPart, normal_form
from spfmanager.flatten.program import Opaque
from spfmanager.flatten.verify import Proof, plan_probes, verify
from spfmanager.spf.parser import parse_record, parse_term
from spfmanager.spf.profiles import PYSPF, RECEIVER_PROFILES
from spfmanager.spf.ranges import Segment
from spfmanager.spf.results import Cause, Result
from spfmanager.spf.terms import Exists

DOMAIN = "example.com"
SENDER = f"postmaster@{DOMAIN}"
LISTED6 = [IPv6Address("2001:db8:5::") + n for n in range(8)]
LISTED4 = [IPv4Address("198.51.100.0") + n for n in range(8)]
# k1 fails the listed clients (so the intent goes on to k2) and passes everyone else; k2's
# a: hosts have no AAAA record: an IPv6 client reaching k2 spends 3 void lookups.
INTENT = "v=spf1 include:k1.example include:k2.example ?all"
ZONE: dict[str, Any] = {
    "k1.example": [{"TXT": "v=spf1 -exists:%{i}.e.k.example +all"}],
    "k2.example": [{"TXT": "v=spf1 a:v1.example a:v2.example exists:%{i}.z.example -all"}],
    "v1.example": [{"A": "192.0.2.1"}],
    "v2.example": [{"A": "192.0.2.2"}],
}


def expansion(address: IPv4Address | IPv6Address) -> str:
    """``%{i}`` as receivers expand it (RFC 7208 7.3: dotted nibbles for IPv6)."""
    if address.version == 4:
        return str(address)
    return ".".join(f"{int(address):032x}")


def zone(listed: list[IPv4Address] | list[IPv6Address]) -> spfmanager.SnapshotResolver:
    data = dict(ZONE)
    for address in listed:
        data[f"{expansion(address)}.e.k.example"] = [{"A": "127.0.0.2"}]
    return spfmanager.SnapshotResolver(data)


class Unlisted:
    """A resolver that cannot list its names (as live DNS cannot)."""

    def __init__(self, base: Resolver) -> None:
        self._base = base

    def query(self, name: str, rrtype: RRType) -> Answer:
        return self._base.query(name, rrtype)


def evaluate_both(address: IPv4Address | IPv6Address, resolver: Resolver) -> tuple[Result, Result]:
    """(the intent's meaning, without limits; the published record's, with them)."""
    served = OverlayResolver(resolver, {DOMAIN: [[INTENT]]})
    meaning = spfmanager.evaluate(
        address, SENDER, DOMAIN, resolver=served, max_lookups=10**6, max_void_lookups=10**6
    )
    published = spfmanager.evaluate(address, SENDER, DOMAIN, resolver=served)
    return meaning.result, published.result


def test_eight_ipv6_clients_get_permerror_where_the_intent_gives_neutral() -> None:
    resolver = zone(LISTED6)
    for address in LISTED6:
        assert evaluate_both(address, resolver) == (Result.NEUTRAL, Result.PERMERROR)
    assert evaluate_both(IPv6Address("2001:db8:6::"), resolver) == (Result.PASS, Result.PASS)
    # The probes the proof used to evaluate, the range edges, all agree: it passed.
    form = normal_form(Analyzer(resolver).analyze(parse_record(INTENT), DOMAIN))
    edges = [
        probe.address
        for probe_class, probes in plan_probes(form, form, resolver, DOMAIN)
        if probe_class.kind == "boundaries"
        for probe in probes
    ]
    assert {a.version for a in edges} == {4, 6}
    for edge in edges:
        meaning, published = evaluate_both(edge, resolver)
        assert meaning is published
    # The listed class finds the eight clients themselves.
    with pytest.raises(VerificationError, match=r"permerror for 2001:db8:5:: \(listed"):
        verify(parse_record(INTENT), DOMAIN, {DOMAIN: [INTENT]}, resolver)


def test_the_overflow_is_found_without_listing_any_name() -> None:
    """Live DNS cannot list names: the world class supposes the exists name answered."""
    resolver = Unlisted(zone([]))
    with pytest.raises(VerificationError, match=r"for :: \(world: exists:%\{i\}.e.k.example "):
        verify(parse_record(INTENT), DOMAIN, {DOMAIN: [INTENT]}, resolver)


def test_clients_with_no_overflow_pass_and_the_classes_say_which_were_checked() -> None:
    resolver = zone(LISTED4)
    # IPv4 clients reaching k2 spend no void lookup on its a: hosts (they have A records).
    for address in LISTED4:
        assert evaluate_both(address, resolver) == (Result.NEUTRAL, Result.NEUTRAL)
    with pytest.raises(VerificationError, match=r"for :: \(world"):
        verify(parse_record(INTENT), DOMAIN, {DOMAIN: [INTENT]}, resolver)  # IPv6 would not
    data = dict(ZONE)
    data["v1.example"] = [{"A": "192.0.2.1"}, {"AAAA": "2001:db8::1"}]
    data["v2.example"] = [{"A": "192.0.2.2"}, {"AAAA": "2001:db8::2"}]
    for address in LISTED4:
        data[f"{expansion(address)}.e.k.example"] = [{"A": "127.0.0.2"}]
    proof = verify(
        parse_record(INTENT), DOMAIN, {DOMAIN: [INTENT]}, spfmanager.SnapshotResolver(data)
    )
    kinds = {(c.family, c.kind) for c in proof.classes}
    assert {(4, "boundaries"), (6, "boundaries"), (4, "reach"), (6, "reach")} <= kinds
    listed = [c for c in proof.classes if c.kind == "listed"]
    assert len(listed) == 8 and {c.family for c in listed} == {4}
    assert all(c.detail.startswith("%{i}.e.k.example -> 198.51.100.") for c in listed)
    worlds = [c for c in proof.classes if c.kind == "world"]
    # two %{i} exists names: four worlds per family
    assert len(worlds) == 8 and {c.family for c in worlds} == {4, 6}
    assert proof.points_evaluated >= 4 + 8 + 2
    data = proof.data
    json.dumps(data)
    assert data["classes"][0] == {
        "family": 4,
        "kind": "boundaries",
        "detail": "range edges",
        "points": 2,
    }
    assert data["profiles"] == ["rfc7208", *(p.name for p in RECEIVER_PROFILES)]


def test_a_lookup_overflow_for_one_class_is_found() -> None:
    """The listed clients go on to k2, which reaches ten more lookups: over the limit."""
    data: dict[str, Any] = {
        "k1.example": [{"TXT": "v=spf1 -exists:%{i}.e.k.example +all"}],
        "k2.example": [{"TXT": "v=spf1 include:c1.example ?all"}],
        "c8.example": [{"TXT": "v=spf1 exists:%{i}.z.example -all"}],
    }
    for n in range(1, 8):
        data[f"c{n}.example"] = [{"TXT": f"v=spf1 include:c{n + 1}.example ?all"}]
    data[f"{expansion(LISTED4[0])}.e.k.example"] = [{"A": "127.0.0.2"}]
    resolver = spfmanager.SnapshotResolver(data)
    with pytest.raises(VerificationError, match=r"198.51.100.0 .*more than 10 DNS lookups"):
        verify(parse_record(INTENT), DOMAIN, {DOMAIN: [INTENT]}, resolver)


def test_reach_takes_the_first_ipv6_address_outside_the_mapped_range() -> None:
    """IPv6 clients in ::ffff:0:0/96 are IPv4 (RFC 7208 5): the IPv6 representative of a
    kept term is the first undecided address past them."""
    low, high = IPV4_MAPPED
    exists = parse_term("exists:%{i}.x.example")
    assert isinstance(exists, Exists)
    form: list[NormalPart] = [
        Decisions(
            (Segment(0, (1 << 31) - 1, Result.FAIL), Segment(1 << 31, (1 << 32) - 1, None)),
            (Segment(0, low - 1, Result.FAIL), Segment(low, (1 << 128) - 1, None)),
            total=False,
        ),
        Opaque(exists, "exists", 1),
        Decisions(
            (Segment(1 << 31, (1 << 32) - 1, Result.FAIL),),
            (Segment(low, (1 << 128) - 1, Result.FAIL),),
            total=True,
        ),
    ]
    reach = {
        probe_class.family: probes[0].address
        for probe_class, probes in plan_probes(form, form, spfmanager.SnapshotResolver({}), DOMAIN)
        if probe_class.kind == "reach"
    }
    assert reach == {4: IPv4Address("128.0.0.0"), 6: IPv6Address(high + 1)}


# -- receiver profiles ------------------------------------------------------------------------

MX_ZONE: dict[str, Any] = {
    "mail.example": [{"MX": [10, f"mx{n}.example"]} for n in (1, 2, 3)],
    **{f"mx{n}.example": [{"TXT": "no address"}] for n in (1, 2, 3)},
    "relay.example": [{"A": "192.0.2.25"}],
}


def differences(proof: Proof, profile: str) -> list[tuple[Result, Cause, Result, Result]]:
    return [
        (d.result, d.cause, d.rfc_result, d.published_result)
        for d in proof.profile_differences
        if profile in d.profiles
    ]


def test_a_profile_reading_the_intent_otherwise_is_recorded_not_refused() -> None:
    """pyspf counts each MX host without an address as a void lookup: three of them are a
    permerror for its receivers, for the intent as written. The flattened records hold
    the hosts' addresses (none): every receiver reads them as RFC 7208 reads the intent."""
    resolver = spfmanager.SnapshotResolver(MX_ZONE)
    intent = "v=spf1 mx:mail.example a:relay.example -all"
    result = spfmanager.flatten(intent, DOMAIN, resolver=resolver)
    assert result.texts == {DOMAIN: "v=spf1 ip4:192.0.2.25 -all"}
    found = differences(result.proof, PYSPF.name)
    assert (Result.PERMERROR, Cause.TOO_MANY_VOID_LOOKUPS, Result.FAIL, Result.FAIL) in found
    entry = next(d for d in result.proof.profile_differences if PYSPF.name in d.profiles)
    assert entry.addresses and entry.count >= 1
    json.dumps(result.proof.data)


def test_a_kept_term_carries_its_profile_reading_into_the_published_records() -> None:
    """Kept verbatim, the mx term reads in the published records as in the intent: pyspf
    receivers get permerror from both, which the proof records and accepts."""
    resolver = spfmanager.SnapshotResolver(MX_ZONE)
    intent = "v=spf1 mx:mail.example a:relay.example -all"
    result = spfmanager.flatten(intent, DOMAIN, resolver=resolver, keep=["mx:mail.example"])
    assert result.texts[DOMAIN].startswith("v=spf1 mx:mail.example ")
    found = differences(result.proof, PYSPF.name)
    assert (Result.PERMERROR, Cause.TOO_MANY_VOID_LOOKUPS, Result.FAIL, Result.PERMERROR) in found


def test_published_records_a_profile_alone_misreads_are_refused() -> None:
    """A stray include of the domain itself after -all: never reached, so RFC 7208 reads
    the record as the intent; pyspf rejects any record that holds it."""
    resolver = spfmanager.SnapshotResolver({})
    intent = parse_record("v=spf1 ip4:192.0.2.0/24 -all")
    published = {DOMAIN: ["v=spf1 ip4:192.0.2.0/24 -all include:example.com"]}
    verify(intent, DOMAIN, published, resolver, profiles=())
    with pytest.raises(VerificationError, match="receivers using pyspf"):
        verify(intent, DOMAIN, published, resolver)


def test_ipv4_mapped_clients_read_as_ipv6_are_reported_not_refused() -> None:
    """libspf2 evaluates a client handed over as ::ffff:a.b.c.d as IPv6: ip4 terms do not
    match it. Following it would need ip6 terms over ::ffff:0:0/96, which Mail::SPF applies
    to every IPv4 client: the proof reports that reading and accepts the portable form."""
    resolver = spfmanager.SnapshotResolver({})
    intent = parse_record("v=spf1 ip4:192.0.2.0/24 -all")
    proof = verify(intent, DOMAIN, {DOMAIN: ["v=spf1 ip4:192.0.2.0/24 -all"]}, resolver)
    (mapped,) = [c for c in proof.classes if c.kind == "mapped"]
    assert mapped.family == 6 and mapped.points == 2
    found = [d for d in proof.profile_differences if d.mapped_clients]
    assert [(d.profiles, d.result, d.rfc_result, d.published_result) for d in found] == [
        (("libspf2",), Result.FAIL, Result.PASS, Result.FAIL)
    ]
    assert found[0].addresses == ("::ffff:c000:200",)
    assert proof.data["profile_differences"][0]["mapped_clients"] is True
