"""Evaluation classes: one evaluation per class stands for every address of the class.

The proof of a static chain evaluates one address per pair of classes
(:mod:`spfmanager.flatten.deciders`). That is sound only if the evaluator gives every
address of a class the same outcome, under every receiver profile: checked here at every
range edge of random include trees, and on the bundled example.
"""

from __future__ import annotations

import itertools
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spfmanager
from spfmanager.compile import compile_file
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.flatten import Flattener
from spfmanager.flatten.deciders import (
    Classes,
    Deciders,
    class_probes,
    deciders,
    reads_as_rfc7208,
    static_reading,
)
from spfmanager.spf.chain import SlowPath
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.profiles import PROFILES
from spfmanager.spf.ranges import Segment
from tests.flatten.test_flatten_properties import QUALIFIERS, ip4_term, ip6_term

EXAMPLES = Path(__file__).parents[2] / "examples"
DOMAIN = "example.com"


@st.composite
def static_zones(draw: st.DrawFn) -> dict[str, Any]:
    """Zonedata of an ip4/ip6/include/redirect/all tree under v0.example (and the intent)."""
    zone: dict[str, Any] = {}
    for index in range(3, -1, -1):
        terms = draw(st.lists(st.one_of(ip4_term(), ip6_term()), min_size=1, max_size=8))
        later = [f"v{j}.example" for j in range(index + 1, 4)]
        for _ in range(draw(st.integers(0, 3)) if later else 0):
            include = f"{draw(QUALIFIERS)}include:{draw(st.sampled_from(later))}"
            terms.insert(draw(st.integers(0, len(terms))), include)
        ending = draw(st.sampled_from(["-all", "~all", "?all", "", "redirect"]))
        if ending == "redirect" and later:
            terms.append(f"redirect={draw(st.sampled_from(later))}")
        elif ending and ending != "redirect":
            terms.append(ending)
        zone[f"v{index}.example"] = [{"TXT": "v=spf1 " + " ".join(terms)}]
    zone[DOMAIN] = [{"TXT": "v=spf1 include:v0.example ip4:192.0.2.0/28 -all"}]
    return zone


def edges(classes: Deciders) -> list[tuple[IPv4Address | IPv6Address, object]]:
    """Every segment's first and last address, with its label."""
    out: list[tuple[IPv4Address | IPv6Address, object]] = []
    for version, make in ((4, IPv4Address), (6, IPv6Address)):
        segment: Segment[Any]
        for segment in classes[version]:
            out += [(make(segment.first), segment.value), (make(segment.last), segment.value)]
    return out


def assert_uniform(classes: Deciders, resolver: Any) -> None:
    for profile in PROFILES.values():
        outcomes: dict[object, set[tuple[object, ...]]] = {}
        for address, label in edges(classes):
            if address.version == 6 and address.ipv4_mapped is not None:
                continue  # evaluated as IPv4 (RFC 7208 5): a class of their own in the proof
            got = evaluate(
                address, f"postmaster@{DOMAIN}", DOMAIN, resolver=resolver, profile=profile
            )
            key = (got.result, got.lookups, got.void_lookups, got.cause)
            outcomes.setdefault((address.version, label), set()).add(key)
        mixed = {label: seen for label, seen in outcomes.items() if len(seen) > 1}
        assert not mixed, f"{profile.name}: a class with several outcomes: {mixed}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(static_zones())
def test_every_address_of_a_class_is_evaluated_alike(zone: dict[str, Any]) -> None:
    resolver = SlowPath(spfmanager.SnapshotResolver(zone))
    found = deciders(DOMAIN, resolver)
    assert found is not None and found.plain_names
    classes = found.partition
    for version in (4, 6):  # the whole space, sorted, without gaps
        segments = classes[version]
        assert (
            segments[0].first == 0 and segments[-1].last == (1 << (32 if version == 4 else 128)) - 1
        )
        assert all(a.last + 1 == b.first for a, b in itertools.pairwise(segments))
    assert_uniform(classes, resolver)
    assert_grouped_alike(classes, resolver)
    assert_read_as_rfc7208_within_the_limits(found, resolver)


def assert_read_as_rfc7208_within_the_limits(found: Classes, resolver: Any) -> None:
    """Where reads_as_rfc7208 says so, every profile gives RFC 7208's result."""
    for address, _label in edges(found.partition):
        if address.version == 6 and address.ipv4_mapped is not None:
            continue
        sender = f"postmaster@{DOMAIN}"
        rfc = evaluate(address, sender, DOMAIN, resolver=resolver, max_lookups=10**6)
        if not reads_as_rfc7208(found, rfc.lookups, rfc.void_lookups):
            continue
        for profile in PROFILES.values():
            got = evaluate(address, sender, DOMAIN, resolver=resolver, profile=profile)
            assert (got.result, got.cause) == (rfc.result, rfc.cause), (profile.name, address)


def assert_grouped_alike(classes: Deciders, resolver: Any) -> None:
    """Profiles with the same static reading give every edge the same outcome."""
    groups: dict[object, list[Any]] = {}
    for profile in PROFILES.values():
        groups.setdefault(static_reading(profile, plain_names=True), []).append(profile)
    assert len(groups) < len(PROFILES)  # some are merged, or this proves nothing
    for members in groups.values():
        for address, _label in edges(classes):
            outcomes = {
                (got.result, got.cause, got.lookups, got.void_lookups)
                for got in (
                    evaluate(address, f"postmaster@{DOMAIN}", DOMAIN, resolver=resolver, profile=p)
                    for p in members
                )
            }
            assert len(outcomes) == 1, f"{[p.name for p in members]} at {address}: {outcomes}"


def test_static_readings_merge_the_profiles_that_differ_only_elsewhere() -> None:
    names = {p.name: static_reading(p, plain_names=True) for p in PROFILES.values()}
    assert names["mailauth"] == names["rfc7208"]
    assert names["pyspf"] == names["mailspf"] != names["rfc7208"]
    assert names["libspf2"] not in (names["rfc7208"], names["pyspf"])
    unplain = static_reading(PROFILES["mailauth"], plain_names=False)
    assert unplain != static_reading(PROFILES["rfc7208"], plain_names=False)


def test_the_example_proof_evaluates_one_address_per_class_pair() -> None:
    _config, intents = compile_file(EXAMPLES / "over-limit" / "spfmanager.yaml")
    intent = intents[0]
    resolver = spfmanager.SnapshotResolver.from_file(EXAMPLES / "over-limit" / "dns-snapshot.yaml")
    result = Flattener(resolver).flatten(intent.record, intent.domain)
    as_intent = SlowPath(OverlayResolver(resolver, {intent.domain: [[intent.record.render()]]}))
    published = SlowPath(OverlayResolver(resolver, {n: [s] for n, s in result.records.items()}))
    mine, theirs = deciders(intent.domain, as_intent), deciders(intent.domain, published)
    assert mine is not None and theirs is not None
    probes = class_probes(mine.partition, theirs.partition)
    kinds = {c.kind: c.points for c in result.proof.classes if c.family == 4}
    assert kinds["classes"] == len(probes[4])
    # Far fewer than the range edges the proof used to evaluate (twice the segments).
    segments = result.proof.ranges_compared
    assert len(probes[4]) + len(probes[6]) < segments / 3


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1 a -all",
        "v=spf1 mx -all",
        "v=spf1 ptr -all",
        "v=spf1 exists:%{i}.x.example -all",
        "v=spf1 include:%{d}.x.example -all",
        "v=spf1 include:missing.example -all",
        "v=spf1 include:loop.example -all",
        "v=spf1 ip4:0.0.0.0/0 -all",
        "v=spf1 ip6:::ffff:0:0/96 -all",
        "v=spf1 include:self.example -all",
    ],
)
def test_chains_the_classes_do_not_cover_are_probed_edge_by_edge(record: str) -> None:
    zone = {
        DOMAIN: [{"TXT": record}],
        "loop.example": [{"TXT": "v=spf1 include:loop.example"}],
        "self.example": [{"TXT": "v=spf1 -all include:self.example"}],
    }
    assert deciders(DOMAIN, spfmanager.SnapshotResolver(zone)) is None


def test_a_record_over_a_receivers_byte_budget_is_not_classed() -> None:
    terms = " ".join(f"ip4:10.0.{i}.0/24" for i in range(80))
    zone = {DOMAIN: [{"TXT": f"v=spf1 {terms} -all"}]}
    resolver = spfmanager.SnapshotResolver(zone)
    assert deciders(DOMAIN, resolver) is not None
    assert deciders(DOMAIN, resolver, max_mechanism_bytes=511) is None
