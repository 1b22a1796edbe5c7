"""The chain table path against the term-by-term path: the same results, field by field.

``evaluate(..., resolver=SlowPath(resolver))`` is the reference (it never takes the table);
every comparison covers each SPFResult field, equality both ways, the explanation, the
JSON form and the trace text, under every receiver profile.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import itertools
from dataclasses import dataclass, fields
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from spfmanager.dns.base import Answer, Resolver, RRType, TXTRecord
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.spf import chain
from spfmanager.spf.chain import ChainResult, SlowPath, chain_table, evaluate_chain
from spfmanager.spf.evaluate import SPFResult, evaluate
from spfmanager.spf.profiles import PROFILES, RFC7208, Profile
from spfmanager.spf.results import Cause, Result
from tests.spf.strategies import Scenario, scenarios

ROOT = "r.test"
NAMES = (ROOT, "a.test", "b.test", "c.test")
LONG = tuple(f"l{n}.test" for n in range(12))  # an include chain over 10 lookups
MISSING = "nx.test"
TIMEOUT = "t.test"
EXPLAIN = "explain.test"
V4_NETS = (
    "192.0.2.0/24",
    "192.0.2.128/25",
    "192.0.2.7",
    "198.51.100.0/22",
    "10.0.0.0/8",
    "203.0.113.64/26",
    "0.0.0.0/0",
)
V6_NETS = (
    "2001:db8::/32",
    "2001:db8:1::/48",
    "2001:db8::1",
    "2001:db8:ffff::/64",
    "::ffff:192.0.2.0/120",
    "::ffff:0:0/96",
    "::/0",
)
UNSUPPORTED = ("a", "mx:a.test", "exists:%{i}.e.test", "ptr", "include:%{d}.x.test")
HELO = "helo.test"
# %{p} in explanations: a validated name, a name without addresses, PTR timeouts
PTR_ZONE: dict[str, list[Any]] = {
    "7.2.0.192.in-addr.arpa": [{"PTR": "mail.r.test"}, {"PTR": "ghost.r.test"}],
    "mail.r.test": [{"A": "192.0.2.7"}],
    "1.2.0.192.in-addr.arpa": ["TIMEOUT"],
    "0.2.0.192.in-addr.arpa": [{"PTR": "ghost.r.test"}],
    "255.2.0.192.in-addr.arpa": [{"PTR": "mail.r.test"}],
}


# -- strategies ---------------------------------------------------------------------------------


def _network_text(network: str) -> str:
    return network[:-3] if network.endswith(("/32", "/128")) else network


@st.composite
def chain_terms(draw: st.DrawFn, own: str) -> str:
    qualifier = draw(st.sampled_from(("", "+", "-", "~", "?")))
    kind = draw(
        st.sampled_from(("ip4",) * 6 + ("ip6",) * 5 + ("include",) * 3 + ("all", "unsupported"))
    )
    if kind == "ip4":
        return f"{qualifier}ip4:{_network_text(draw(st.sampled_from(V4_NETS)))}"
    if kind == "ip6":
        return f"{qualifier}ip6:{_network_text(draw(st.sampled_from(V6_NETS)))}"
    if kind == "include":
        targets = (*NAMES, MISSING, TIMEOUT, LONG[0])
        return f"{qualifier}include:{draw(st.sampled_from(targets))}"
    if kind == "unsupported" and draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(UNSUPPORTED))
    return f"{qualifier}all"


@st.composite
def chain_records(draw: st.DrawFn, own: str) -> str:
    terms = draw(st.lists(chain_terms(own), max_size=7))
    if draw(st.integers(0, 3)) == 0:
        terms.append(f"redirect={draw(st.sampled_from((*NAMES, MISSING, LONG[0])))}")
    if draw(st.integers(0, 5)) == 0:
        terms.append(f"exp={EXPLAIN}")
    if draw(st.integers(0, 9)) == 0:
        terms.append("moo=%{d}")
    return " ".join(["v=spf1", *draw(st.permutations(terms))])


@st.composite
def split_strings(draw: st.DrawFn, text: str) -> list[str]:
    """The record as one TXT record of several strings, cut anywhere (mid-token too)."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=3)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if a < b]


@st.composite
def chain_zones(draw: st.DrawFn) -> dict[str, list[Any]]:
    zone: dict[str, list[Any]] = {}
    for name in NAMES:
        weights = ("spf",) * (20 if name == ROOT else 8) + ("two", "txt", "absent", "bad")
        shape = draw(st.sampled_from(weights))
        if shape == "absent":
            continue
        if shape == "txt":
            zone[name] = [{"TXT": "google-site-verification=abc"}]
        elif shape == "bad":
            zone[name] = [{"TXT": "v=spf1 ip4:192.0.2 -all"}]
        else:
            record = draw(chain_records(name))
            entries: list[Any] = [{"TXT": draw(split_strings(record))}]
            if shape == "two":
                entries.append({"TXT": draw(chain_records(name))})
            entries.append({"TXT": "some other text"})
            zone[name] = entries
    end = draw(st.integers(5, len(LONG) - 1))
    for n in range(end):
        zone[LONG[n]] = [{"TXT": f"v=spf1 ip4:198.51.100.{n} include:{LONG[n + 1]} ?all"}]
    zone[LONG[end]] = [{"TXT": "v=spf1 ip6:2001:db8::/32 -all"}]
    zone[TIMEOUT] = ["TIMEOUT"]
    zone[EXPLAIN] = [{"TXT": "%{i} (%{p}) is not one of %{d}'s senders"}]
    zone.update(PTR_ZONE)
    return zone


def _edges(network: IPv4Network | IPv6Network) -> list[int]:
    first, last = int(network.network_address), int(network.broadcast_address)
    top = (1 << network.max_prefixlen) - 1
    return [max(first - 1, 0), first, (first + last) // 2, last, min(last + 1, top)]


@st.composite
def clients(draw: st.DrawFn) -> str:
    """An address at, next to or inside a pool network, anywhere, or IPv4-mapped."""
    kind = draw(st.sampled_from(("v4", "v4", "v6", "v6", "random4", "random6", "mapped")))
    if kind in ("v4", "mapped"):
        network = ip_network(draw(st.sampled_from(V4_NETS)))
        address: IPv4Address | IPv6Address = IPv4Address(draw(st.sampled_from(_edges(network))))
        return f"::ffff:{address}" if kind == "mapped" else str(address)
    if kind == "v6":
        network6 = ip_network(draw(st.sampled_from(V6_NETS)))
        return str(IPv6Address(draw(st.sampled_from(_edges(network6)))))
    if kind == "random4":
        return str(IPv4Address(draw(st.integers(0, 2**32 - 1))))
    return str(IPv6Address(draw(st.integers(0, 2**128 - 1))))


@dataclass(frozen=True)
class Case:
    zone: dict[str, list[Any]]
    ips: tuple[str, ...]
    mailfrom: str
    helo: str


cases = st.builds(
    Case,
    chain_zones(),
    st.lists(clients(), min_size=1, max_size=4).map(tuple),
    st.sampled_from((f"user@{ROOT}", f"user@{ROOT}", "", ROOT, f"first.last@{ROOT}")),
    st.sampled_from((ROOT, HELO)),
)


# -- comparison -------------------------------------------------------------------------------


def assert_same(fast: SPFResult, slow: SPFResult) -> None:
    """Every field, equality both ways, the hash, the explanation, the data and the trace."""
    assert type(slow) is SPFResult
    for f in fields(SPFResult):
        if f.name != "steps":
            assert getattr(fast, f.name) == getattr(slow, f.name), f.name
    assert fast == slow
    assert slow == fast
    assert hash(fast) == hash(slow)
    assert [str(step) for step in fast.trace] == [str(step) for step in slow.trace]
    assert [(s.lookups, s.void_lookups) for s in fast.trace] == [
        (s.lookups, s.void_lookups) for s in slow.trace
    ]
    assert fast.data == slow.data


def check(
    ip: str,
    mailfrom: str,
    resolver: Resolver,
    *,
    helo: str = HELO,
    profile: Profile = RFC7208,
    max_lookups: int | None = None,
    default_explanation: str | None = None,
) -> SPFResult | None:
    """The fast result (table built on first use) after asserting it equals the slow one."""
    options: dict[str, Any] = {
        "resolver": resolver,
        "profile": profile,
        "max_lookups": max_lookups,
        "default_explanation": default_explanation,
    }
    fast = evaluate_chain(ip, mailfrom, helo, warmup=0, **options)
    options["resolver"] = SlowPath(resolver)
    slow = evaluate(ip, mailfrom, helo, **options)
    if fast is not None:
        assert isinstance(fast, ChainResult)
        assert_same(fast, slow)
    return fast


def zone_resolver(zone: dict[str, Any]) -> SnapshotResolver:
    return SnapshotResolver(zone)


# -- differential -----------------------------------------------------------------------------


@given(cases)
@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_chains_match_the_term_by_term_path(case: Case) -> None:
    resolver = zone_resolver(case.zone)
    for profile in PROFILES.values():
        for max_lookups in (None, 3):
            for ip in case.ips:
                fast = check(
                    ip,
                    case.mailfrom,
                    resolver,
                    helo=case.helo,
                    profile=profile,
                    max_lookups=max_lookups,
                )
                event("table" if fast is not None else "declined")
                if fast is not None:
                    event(f"{fast.result.value} ({fast.cause.value})")


@given(scenarios())
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_shared_scenarios_match_or_decline(scenario: Scenario) -> None:
    """The evaluator's differential scenarios (a, mx, exists, macros, loops, timeouts):
    the table path declines what it cannot table and matches where it answers."""
    resolver = SnapshotResolver(scenario.zonedata)
    for profile in PROFILES.values():
        fast = check(scenario.ip, scenario.mailfrom, resolver, helo=scenario.helo, profile=profile)
        event("table" if fast is not None else "declined")


def test_most_generated_chains_take_the_table() -> None:
    """The strategy exercises the table, not only the declines."""
    taken = declined = 0

    @given(cases)
    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    def count(case: Case) -> None:
        nonlocal taken, declined
        resolver = zone_resolver(case.zone)
        for ip in case.ips:
            if check(ip, case.mailfrom, resolver, helo=case.helo) is None:
                declined += 1
            else:
                taken += 1

    count()
    assert taken > 2 * declined


# -- targeted cases ---------------------------------------------------------------------------

FLAT = " ".join(
    ["v=spf1"]
    + [f"ip4:198.51.{n}.0/24" for n in range(40)]
    + [f"ip6:2001:db8:{n:x}::/48" for n in range(20)]
    + ["include:inc.r.test", "redirect=red.r.test"]
)


def published(**extra: list[Any]) -> dict[str, list[Any]]:
    """A 60-term root in 255-byte strings, an include with ~all, a redirect with exp=."""
    strings = [FLAT[i : i + 255] for i in range(0, len(FLAT), 255)]
    assert len(strings) > 2
    zone: dict[str, list[Any]] = {
        ROOT: [{"TXT": strings}, {"TXT": "verification=1"}],
        "inc.r.test": [{"TXT": "v=spf1 ip4:192.0.2.0/25 ip6:2001:db8:ff::/48 ~all"}],
        "red.r.test": [{"TXT": "v=spf1 ip4:203.0.113.0/24 ?ip4:192.0.2.0/24 exp=x.r.test -all"}],
        "x.r.test": [{"TXT": "%{i} is not allowed to send for %{o}"}],
        **PTR_ZONE,
    }
    zone.update(extra)
    return zone


@pytest.mark.parametrize(
    ("ip", "result", "mechanism", "lookups"),
    [
        ("198.51.0.1", Result.PASS, "ip4:198.51.0.0/24", 0),
        ("198.51.39.255", Result.PASS, "ip4:198.51.39.0/24", 0),
        ("2001:db8:13::1", Result.PASS, "ip6:2001:db8:13::/48", 0),
        ("192.0.2.1", Result.PASS, "include:inc.r.test", 1),
        ("2001:db8:ff::7", Result.PASS, "include:inc.r.test", 1),
        ("192.0.2.200", Result.NEUTRAL, "?ip4:192.0.2.0/24", 2),  # inc's ~all: no match
        ("203.0.113.9", Result.PASS, "ip4:203.0.113.0/24", 2),
        ("192.0.2.128", Result.NEUTRAL, "?ip4:192.0.2.0/24", 2),
        ("8.8.8.8", Result.FAIL, "-all", 2),
        ("2001:db9::1", Result.FAIL, "-all", 2),
        ("::ffff:198.51.7.7", Result.PASS, "ip4:198.51.7.0/24", 0),  # mapped: as IPv4
    ],
)
def test_published_chain(ip: str, result: Result, mechanism: str, lookups: int) -> None:
    resolver = SnapshotResolver(published())
    fast = check(ip, f"user@{ROOT}", resolver)
    assert fast is not None
    assert (fast.result, fast.mechanism, fast.lookups) == (result, mechanism, lookups)


def test_mapped_client_is_checked_as_ipv4() -> None:
    resolver = SnapshotResolver(published())
    fast = check("::ffff:8.8.8.8", f"user@{ROOT}", resolver)
    assert fast is not None
    assert fast.ip == IPv4Address("8.8.8.8")
    assert fast.explanation == f"8.8.8.8 is not allowed to send for {ROOT}"


def test_explanation_and_trace_are_read_lazily() -> None:
    counted = Counting(SnapshotResolver(published()))
    chain_table(ROOT, resolver=counted)  # build first: its evaluations make queries too
    counted.names.clear()
    fast = evaluate_chain("8.8.8.8", f"user@{ROOT}", HELO, resolver=counted, warmup=0)
    assert fast is not None
    assert fast.result is Result.FAIL
    assert "x.r.test" not in counted.names  # the exp= record is read with the explanation
    assert "explanation" not in fast.__dict__
    assert fast.explanation == f"8.8.8.8 is not allowed to send for {ROOT}"
    assert "x.r.test" in counted.names
    slow = evaluate("8.8.8.8", f"user@{ROOT}", HELO, resolver=SlowPath(counted))
    assert_same(fast, slow)
    passing = evaluate_chain("198.51.0.1", f"user@{ROOT}", HELO, resolver=counted)
    assert passing is not None
    assert passing.__dict__["explanation"] is None  # nothing to compute for a pass


def test_default_explanation_and_receiver() -> None:
    resolver = SnapshotResolver(published(**{"red.r.test": [{"TXT": "v=spf1 -all"}]}))
    fast = check("8.8.8.8", "", resolver, helo=ROOT, default_explanation="%{c} via %{h} %{r}")
    assert fast is not None
    assert fast.explanation == f"8.8.8.8 via {ROOT} unknown"


def test_missing_include_target_is_permerror() -> None:
    zone = {ROOT: [{"TXT": "v=spf1 ip4:192.0.2.0/24 include:gone.test -all"}]}
    resolver = SnapshotResolver(zone)
    fast = check("203.0.113.1", f"user@{ROOT}", resolver)
    assert fast is not None
    assert (fast.result, fast.cause, fast.cause_target) == (
        Result.PERMERROR,
        Cause.INCLUDE_MISSING,
        "gone.test",
    )
    inside = check("192.0.2.1", f"user@{ROOT}", resolver)  # matched before the include
    assert inside is not None
    assert inside.result is Result.PASS


def test_missing_redirect_target_and_multiple_records() -> None:
    zone = {
        ROOT: [{"TXT": "v=spf1 ip4:192.0.2.0/24 include:two.test redirect=gone.test"}],
        "two.test": [{"TXT": "v=spf1 -all"}, {"TXT": "v=spf1 +all"}],
    }
    resolver = SnapshotResolver(zone)
    fast = check("203.0.113.1", f"user@{ROOT}", resolver)
    assert fast is not None
    assert (fast.result, fast.cause) == (Result.PERMERROR, Cause.MULTIPLE_RECORDS)
    zone[ROOT] = [{"TXT": "v=spf1 ip4:192.0.2.0/24 redirect=gone.test"}]
    fast = check("203.0.113.1", f"user@{ROOT}", SnapshotResolver(zone))
    assert fast is not None
    assert (fast.result, fast.cause) == (Result.PERMERROR, Cause.REDIRECT_MISSING)


def test_too_many_lookups_at_some_segments_only() -> None:
    zone: dict[str, list[Any]] = {ROOT: [{"TXT": f"v=spf1 include:{LONG[0]} -all"}]}
    for n in range(11):
        zone[LONG[n]] = [{"TXT": f"v=spf1 ip4:198.51.100.{n} include:{LONG[n + 1]} ?all"}]
    zone[LONG[11]] = [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}]
    resolver = SnapshotResolver(zone)
    early = check("198.51.100.3", f"user@{ROOT}", resolver)
    assert early is not None
    assert (early.result, early.lookups) == (Result.PASS, 4)
    late = check("192.0.2.1", f"user@{ROOT}", resolver)
    assert late is not None
    assert (late.result, late.cause, late.lookups) == (
        Result.PERMERROR,
        Cause.TOO_MANY_LOOKUPS,
        11,
    )
    raised = check("192.0.2.1", f"user@{ROOT}", resolver, max_lookups=20)
    assert raised is not None
    assert (raised.result, raised.lookups) == (Result.PASS, 12)  # l11's own ip4 term


def test_loops_and_syntax_errors() -> None:
    zone = {
        ROOT: [{"TXT": "v=spf1 ip4:192.0.2.0/24 include:a.test -all"}],
        "a.test": [{"TXT": "v=spf1 ip6:2001:db8::/32 include:r.test"}],
        "b.test": [{"TXT": "v=spf1 ip4:192.0.2 -all"}],
    }
    resolver = SnapshotResolver(zone)
    for ip in ("192.0.2.1", "2001:db8::1", "203.0.113.1", "::1"):
        assert check(ip, f"user@{ROOT}", resolver) is not None
    fast = check("203.0.113.1", "user@b.test", resolver)
    assert fast is not None
    assert (fast.result, fast.cause) == (Result.PERMERROR, Cause.SYNTAX_ERROR)


@pytest.mark.parametrize("term", UNSUPPORTED)
def test_chains_needing_more_dns_decline(term: str) -> None:
    zone = {
        ROOT: [{"TXT": "v=spf1 ip4:192.0.2.0/24 include:a.test -all"}],
        "a.test": [{"TXT": f"v=spf1 {term} ~all"}, {"A": "192.0.2.9"}],
    }
    assert check("203.0.113.1", f"user@{ROOT}", SnapshotResolver(zone)) is None


def test_dns_error_in_the_chain_declines() -> None:
    zone = {
        ROOT: [{"TXT": f"v=spf1 ip4:192.0.2.0/24 include:{TIMEOUT} -all"}],
        TIMEOUT: ["TIMEOUT"],
    }
    resolver = SnapshotResolver(zone)
    assert check("203.0.113.1", f"user@{ROOT}", resolver) is None
    slow = evaluate("203.0.113.1", f"user@{ROOT}", HELO, resolver=resolver)
    assert slow.result is Result.TEMPERROR


def test_sender_forms() -> None:
    resolver = SnapshotResolver(published())
    for mailfrom, helo in (("", ROOT), (ROOT, HELO), (f"@{ROOT}", HELO), ("a@b@r.test", HELO)):
        fast = check("198.51.0.1", mailfrom, resolver, helo=helo)
        assert fast is not None
    assert check("198.51.0.1", "user@nodots", resolver) is not None  # invalid domain: none
    assert check("198.51.0.1", "user@Unknown.TEST", resolver) is not None  # no record: none


# -- tables, caches and revalidation ----------------------------------------------------------


class Counting:
    """A resolver in front of another, noting the names asked."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.names: list[str] = []

    def query(self, name: str, rrtype: RRType) -> Answer:
        self.names.append(name)
        return self.resolver.query(name, rrtype)


class Switchable:
    """A resolver whose zone can be replaced, as a live cache's answers change."""

    def __init__(self, zone: dict[str, Any]) -> None:
        self.current = SnapshotResolver(zone)

    def query(self, name: str, rrtype: RRType) -> Answer:
        return self.current.query(name, rrtype)


class Fresh:
    """New but equal answer objects on every query (a cache refreshing after its TTL)."""

    __slots__ = ("resolver",)  # and no __weakref__: not remembered per resolver

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def query(self, name: str, rrtype: RRType) -> Answer:
        answer = self.resolver.query(name, rrtype)
        records = tuple(
            TXTRecord(tuple(r.strings)) if isinstance(r, TXTRecord) else r for r in answer.records
        )
        return Answer(answer.name, answer.rrtype, records, answer.nxdomain, answer.ttl)


def test_a_changed_answer_rebuilds() -> None:
    zone = published()
    resolver = Switchable(zone)
    before = check("192.0.2.1", f"user@{ROOT}", resolver)
    assert before is not None
    assert before.result is Result.PASS
    changed = dict(zone)
    changed["inc.r.test"] = [{"TXT": "v=spf1 ip4:10.0.0.0/8 -all"}]
    resolver.current = SnapshotResolver(changed)
    after = check("192.0.2.1", f"user@{ROOT}", resolver)
    assert after is not None
    assert after.result is Result.NEUTRAL
    assert after.mechanism == "?ip4:192.0.2.0/24"


def test_equal_answers_in_new_objects_keep_the_table() -> None:
    inner = SnapshotResolver(published())
    table = chain_table(ROOT, resolver=inner)
    assert table is not None
    assert chain_table(ROOT, resolver=Fresh(inner)) is table  # shared by content
    for ip in ("198.51.0.1", "192.0.2.1", "8.8.8.8", "2001:db8:ff::1"):
        assert check(ip, f"user@{ROOT}", Fresh(inner)) is not None
    switchable = Switchable(published())
    assert check("8.8.8.8", f"user@{ROOT}", switchable) is not None
    switchable.current = SnapshotResolver(published())  # equal answers, other objects
    assert check("8.8.8.8", f"user@{ROOT}", switchable) is not None


def test_a_table_is_built_after_a_warm_up() -> None:
    chain.forget_chains()
    zone = published()
    resolver = SnapshotResolver(zone)
    results = [
        evaluate_chain("198.51.0.1", f"user@{ROOT}", HELO, resolver=resolver) for _ in range(80)
    ]
    declined = results.index(next(r for r in results if r is not None))
    assert 1 <= declined <= chain.MAX_WARMUP
    assert all(r is not None for r in results[declined:])
    table = chain_table(ROOT, resolver=resolver)
    assert table is not None
    assert table.evaluations < 3 * len(FLAT.split())
    assert len(table.ipv4) < 2 * 60  # merged: adjacent segments with one outcome


def test_resolvers_are_remembered_weakly() -> None:
    resolver = SnapshotResolver(published())
    assert check("198.51.0.1", f"user@{ROOT}", resolver) is not None
    key = id(resolver)
    assert key in chain._BY_RESOLVER
    del resolver
    gc.collect()
    assert key not in chain._BY_RESOLVER


def test_slow_path_wrapper_is_never_tabled() -> None:
    resolver = SnapshotResolver(published())
    check("198.51.0.1", f"user@{ROOT}", resolver)
    assert evaluate_chain("198.51.0.1", f"u@{ROOT}", HELO, resolver=SlowPath(resolver)) is None


def test_result_object_behaves_as_an_spf_result() -> None:
    resolver = SnapshotResolver(published())
    fast = check("192.0.2.130", f"user@{ROOT}", resolver)
    assert fast is not None
    slow = evaluate("192.0.2.130", f"user@{ROOT}", HELO, resolver=SlowPath(resolver))
    assert repr(fast) == repr(slow)
    assert copy.copy(fast) == slow
    assert type(copy.copy(fast)) is SPFResult
    assert {fast, slow} == {slow}
    as_dicts = [dataclasses.asdict(r) for r in (fast, slow)]
    for as_dict in as_dicts:
        del as_dict["steps"]  # their lambdas differ between any two evaluations
    assert as_dicts[0] == as_dicts[1]
    changed = dataclasses.replace(fast, reason="edited")
    assert changed == dataclasses.replace(slow, reason="edited")
    assert [str(step) for step in changed.trace] == [str(step) for step in slow.trace]


def test_every_profile_field_is_classified() -> None:
    """A new Profile field must be placed in chain.py (until then such profiles decline)."""
    names = {f.name for f in fields(Profile)}
    assert names <= chain.KNOWN_PROFILE_FIELDS, names - chain.KNOWN_PROFILE_FIELDS


def test_every_profile_takes_the_table() -> None:
    resolver = SnapshotResolver(published(**{"x.r.test": [{"TXT": "%{p} %{c}: no"}]}))
    for profile in PROFILES.values():
        for ip in ("198.51.0.1", "192.0.2.200", "8.8.8.8", "::ffff:192.0.2.1", "2001:db8:ff::"):
            assert check(ip, f"user@{ROOT}", resolver, profile=profile) is not None, profile.name


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
@pytest.mark.parametrize(
    "terms",
    [
        "ip6:::ffff:192.0.2.0/120 ip4:198.51.100.0/24 -all",  # mapped ip6 terms, IPv4 clients
        "ip6:2001:db8::1/0 ip4:0.0.0.0/0 ~all",  # /0 prefixes
        "ip4:192.0.2.0/24 include:r.test redirect=a.test",  # self include, unreached redirect
    ],
)
def test_profile_departures(profile: Profile, terms: str) -> None:
    zone = {
        ROOT: [{"TXT": f"v=spf1 {terms}"}],
        "a.test": [{"TXT": "v=spf1 ip4:203.0.113.0/24 -all"}],
    }
    resolver = SnapshotResolver(zone)
    for ip in ("192.0.2.1", "192.0.2.255", "198.51.100.1", "203.0.113.5", "8.8.8.8"):
        check(ip, f"user@{ROOT}", resolver, profile=profile)
    for ip in ("2001:db8::1", "2001:db8::2", "::ffff:192.0.2.1", "::1"):
        check(ip, f"user@{ROOT}", resolver, profile=profile)
