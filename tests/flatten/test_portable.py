"""The portable published form: what real receiver libraries read as RFC 7208 does.

No ``/0`` prefix (libspf2 rejects it, mailauth misreads it), no ``ip6`` term overlapping
``::ffff:0:0/96`` (Mail::SPF matches IPv4 clients against ip6 terms as IPv4-mapped
addresses), and every record's compiled mechanisms within the strictest profile's
``max_mechanism_bytes`` (libspf2 drops what is past 511 bytes, its chain link included).
The coverer stays minimal under those rules (brute force on small spaces); verify checks
them structurally; a property test runs flattening end to end under every profile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import spfmanager
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import FlattenError, VerificationError
from spfmanager.flatten.cover import (
    EMITTABLE,
    IPV4_MAPPED,
    MIN_PREFIX,
    Cidr,
    Coverer,
    Target,
    cidr_mechanism,
    cover_part,
)
from spfmanager.flatten.decisions import Decisions
from spfmanager.flatten.pack import (
    STRICTEST_MECHANISM_BYTES,
    compiled_mechanism_bytes,
    pack,
    record_mechanism_bytes,
)
from spfmanager.flatten.verify import check_structure, verify
from spfmanager.spf.parser import parse_record, parse_term
from spfmanager.spf.profiles import LIBSPF2, MAILSPF, RECEIVER_PROFILES, RFC7208
from spfmanager.spf.ranges import Segment
from spfmanager.spf.results import Qualifier, Result
from spfmanager.spf.terms import IP4, IP6, Include, Mechanism, Record, Redirect
from tests.flatten.test_cover import DONT_CARE, Required, fewest_terms

DOMAIN = "example.com"
V4_ALL = (1 << 32) - 1
V6_ALL = (1 << 128) - 1


def emitted(terms: Sequence[Mechanism]) -> list[str]:
    return [t.render() for t in terms]


def assert_portable(terms: Sequence[Mechanism]) -> None:
    for term in terms:
        if isinstance(term, IP4 | IP6):
            assert term.prefix != 0, term.render()
        if isinstance(term, IP6):
            first, last = term.span()
            assert last < IPV4_MAPPED[0] or first > IPV4_MAPPED[1], term.render()


# -- the coverer --------------------------------------------------------------------------------


def test_the_whole_space_is_two_halves_never_a_zero_prefix() -> None:
    cost, cidrs = Coverer([Segment(0, V4_ALL, Result.PASS)], 32).cover(Result.FAIL)
    assert (cost, cidrs) == (2, [Cidr(0, 1, Result.PASS), Cidr(1 << 31, 1, Result.PASS)])
    # The unconstrained optimum is the /0 that libspf2 rejects.
    free = Coverer([Segment(0, V4_ALL, Result.PASS)], 32, min_prefix=0, forbidden=())
    assert free.cover(Result.FAIL) == (1, [Cidr(0, 0, Result.PASS)])
    assert MIN_PREFIX == 1


def test_all_of_ipv4_is_two_ip4_halves_not_a_cross_family_complement() -> None:
    """The unconstrained encoding of "every IPv4 address passes, IPv6 fails" is
    ``-ip6:::/0 +all``: libspf2 rejects it and Mail::SPF fails IPv4 clients with it."""
    part = Decisions(
        (Segment(0, V4_ALL, Result.PASS),), (Segment(0, V6_ALL, Result.FAIL),), total=True
    )
    terms = cover_part(part)
    assert emitted(terms) == ["ip4:0.0.0.0/1", "ip4:128.0.0.0/1", "-all"]
    assert_portable(terms)


def test_all_of_ipv6_is_the_all_and_ipv4_the_exceptions() -> None:
    part = Decisions(
        (Segment(0, V4_ALL, Result.FAIL),), (Segment(0, V6_ALL, Result.PASS),), total=True
    )
    assert emitted(cover_part(part)) == ["-ip4:0.0.0.0/1", "-ip4:128.0.0.0/1", "+all"]


def test_ip6_terms_stay_out_of_the_ipv4_mapped_range() -> None:
    """An upstream ``ip6:::/0`` (or any ip6 range over ::ffff:0:0/96) is re-encoded around
    the mapped range: its IPv6 clients are IPv4 (RFC 7208 5), nothing is lost."""
    part = Decisions((), (Segment(0, V6_ALL, Result.PASS),), total=False)
    terms = cover_part(part)
    assert_portable(terms)
    # ::/1 without ::ffff:0:0/96 takes one term per level down to the /96, and 8000::/1.
    assert len(terms) == 96
    covered = sorted(t.span() for t in terms if isinstance(t, IP6))
    position = 0
    for first, last in covered:
        if position == IPV4_MAPPED[0]:
            position = IPV4_MAPPED[1] + 1
        assert first == position
        position = last + 1
    assert position == 1 << 128


def test_a_range_inside_the_mapped_range_is_dropped_as_unobservable() -> None:
    low, high = IPV4_MAPPED
    part = Decisions(
        (Segment(0, V4_ALL, None),),
        (
            Segment(0, low - 1, None),
            Segment(low, high, Result.PASS),
            Segment(high + 1, V6_ALL, None),
        ),
        total=False,
    )
    assert cover_part(part) == []


def test_cidr_mechanism_writes_no_prefix_for_one_address() -> None:
    assert cidr_mechanism(Cidr(int(IPv4Address("192.0.2.1")), 32, Result.FAIL), 4).render() == (
        "-ip4:192.0.2.1"
    )
    assert cidr_mechanism(Cidr(1 << 127, 1, Result.SOFTFAIL), 6).render() == "~ip6:8000::/1"


@st.composite
def constrained_spaces(
    draw: st.DrawFn,
) -> tuple[list[Required], int, Target, tuple[int, int] | None]:
    bits = draw(st.integers(2, 3))
    values = st.sampled_from([*EMITTABLE, None, DONT_CARE])
    required = draw(st.lists(values, min_size=1 << bits, max_size=1 << bits))
    forbidden: tuple[int, int] | None = None
    if draw(st.booleans()):
        prefix = draw(st.integers(1, bits))
        first = draw(st.integers(0, (1 << prefix) - 1)) << (bits - prefix)
        forbidden = (first, first + (1 << (bits - prefix)) - 1)
    return required, bits, draw(st.sampled_from([None, *EMITTABLE])), forbidden


@settings(max_examples=200, deadline=None)
@given(constrained_spaces())
def test_the_portable_cover_is_exact_and_minimal_on_small_spaces(
    case: tuple[list[Required], int, Target, tuple[int, int] | None],
) -> None:
    required, bits, default, forbidden = case
    segments: list[Segment[Target]] = []
    for address, value in enumerate(required):
        if value == DONT_CARE:
            continue
        segments.append(Segment(address, address, None if value is None else Result(value)))
    holes = () if forbidden is None else (forbidden,)
    cost, cidrs = Coverer(segments, bits, forbidden=holes).cover(default)
    assert cost == fewest_terms(required, bits, default, min_prefix=MIN_PREFIX, forbidden=forbidden)
    if math.isinf(cost):
        return
    assert cost == len(cidrs)
    for cidr in cidrs:
        low, high = cidr.address, cidr.address + (1 << (bits - cidr.prefix)) - 1
        assert cidr.prefix >= MIN_PREFIX
        assert forbidden is None or high < forbidden[0] or low > forbidden[1]
    for address, want in enumerate(required):
        if want == DONT_CARE or (forbidden and forbidden[0] <= address <= forbidden[1]):
            continue
        spans = [c for c in cidrs if c.address <= address < c.address + (1 << (bits - c.prefix))]
        assert (spans[0].result if spans else default) == want


# -- the packer ---------------------------------------------------------------------------------


def test_compiled_mechanism_bytes_model() -> None:
    def size(text: str) -> int:
        term = parse_term(text)
        assert isinstance(term, Mechanism | Redirect)
        return compiled_mechanism_bytes(term)

    assert size("ip4:192.0.2.0/24") == 8
    assert size("-ip6:2001:db8::/32") == 20
    assert size("-all") == 4
    # header 4, then the literal: a 4-byte string header and 15 characters, aligned to 8
    assert size("include:_spf.google.com") == 4 + 24
    assert size("redirect=_spf.google.com") == 4 + 24
    assert size("a:mail.example.com/24") == 4 + 8 + 24  # a CIDR block too
    assert size("exists:%{i}.x.example") == 4 + 8 + 16  # a macro block and ".x.example"
    assert STRICTEST_MECHANISM_BYTES == LIBSPF2.max_mechanism_bytes == 511


def ip6_terms(count: int) -> list[Mechanism]:
    return [IP6(Qualifier.PASS, IPv6Address(f"2001:db8:{i:x}::"), 48) for i in range(count)]


def test_dense_records_are_chained_within_the_compiled_limit() -> None:
    """With a large answer limit (EDNS), the 511 compiled bytes bind first: libspf2 reads
    the terminating ``all``/``redirect=`` after at most 25 ip6 terms (docs/receivers.md),
    so the packer chains earlier (23 ip6 terms and the link, under the conservative model)."""
    terms = [*ip6_terms(60), parse_term("-all")]
    assert all(isinstance(t, Mechanism) for t in terms)
    mechanisms = [t for t in terms if isinstance(t, Mechanism)]
    records = pack(mechanisms, DOMAIN, max_answer=4096)
    assert len(records) == 3
    for record in records:
        parsed = parse_record(record.text)
        assert record_mechanism_bytes(parsed) <= 511
        assert sum(isinstance(m, IP6) for m in parsed.mechanisms) <= 25
    unbounded = pack(mechanisms, DOMAIN, max_answer=4096, max_mechanism_bytes=None)
    assert len(unbounded) == 1
    assert record_mechanism_bytes(parse_record(unbounded[0].text)) > 511


def test_the_chain_link_counts_toward_the_compiled_limit() -> None:
    records = pack([*ip6_terms(30)], DOMAIN, max_answer=4096)
    first = parse_record(records[0].text)
    assert first.redirect is not None
    assert record_mechanism_bytes(first) <= 511
    assert record_mechanism_bytes(first) + 20 > 511  # one more ip6 term would not fit


def test_a_term_that_cannot_fit_the_compiled_limit_is_an_error() -> None:
    with pytest.raises(FlattenError, match="compiled"):
        pack(ip6_terms(3), DOMAIN, max_answer=4096, max_mechanism_bytes=40)


# -- verify's structural checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "profile", "message"),
    [
        ("v=spf1 ip4:0.0.0.0/0 -all", LIBSPF2, "/0 prefix"),
        ("v=spf1 -ip6:::/0 +all", LIBSPF2, "/0 prefix"),
        ("v=spf1 a/0 -all", LIBSPF2, "/0 prefix"),
        ("v=spf1 ip6:::ffff:192.0.2.0/120 -all", MAILSPF, "::ffff:0:0/96"),
        ("v=spf1 -ip6:::/1 ip4:0.0.0.0/1 -all", MAILSPF, "::ffff:0:0/96"),
        ("v=spf1 " + " ".join(t.render() for t in ip6_terms(27)) + " -all", LIBSPF2, "511"),
    ],
)
def test_verify_refuses_shapes_a_profile_misreads(text: str, profile: Any, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        check_structure(DOMAIN, {DOMAIN: [text]}, [RFC7208, profile])
    check_structure(DOMAIN, {DOMAIN: [text]}, [RFC7208])  # RFC 7208 reads it fine


def test_terms_kept_from_the_intent_are_its_own() -> None:
    text = "v=spf1 a:mail.example.com/0 -all"
    check_structure(DOMAIN, {DOMAIN: [text]}, RECEIVER_PROFILES, kept={"a:mail.example.com/0"})


def test_verify_refuses_a_published_zero_prefix() -> None:
    resolver = spfmanager.SnapshotResolver({})
    intent = parse_record("v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all")
    proof = verify(
        intent, DOMAIN, {DOMAIN: ["v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all"]}, resolver
    )
    assert proof.profiles == ("rfc7208", *(p.name for p in RECEIVER_PROFILES))
    assert 0 < proof.mechanism_bytes <= 511
    with pytest.raises(VerificationError, match="/0"):
        verify(intent, DOMAIN, {DOMAIN: ["v=spf1 ip4:0.0.0.0/0 -all"]}, resolver)
    # Under RFC 7208 alone the two encodings are the same record.
    verify(intent, DOMAIN, {DOMAIN: ["v=spf1 ip4:0.0.0.0/0 -all"]}, resolver, profiles=())


# -- flattening end to end ----------------------------------------------------------------------


def test_an_upstream_zero_prefix_is_flattened_portably() -> None:
    resolver = spfmanager.SnapshotResolver(
        {"open.example": [{"TXT": "v=spf1 ip4:0.0.0.0/0 -ip6:::/0 -all"}]}
    )
    result = spfmanager.flatten("v=spf1 include:open.example ~all", DOMAIN, resolver=resolver)
    (text,) = result.texts.values()
    assert text == "v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 ~all"
    assert result.proof.profiles[0] == "rfc7208"


IPV4_CLIENTS = ("0.0.0.1", "192.0.2.1", "203.0.113.200", "255.255.255.254")


@pytest.mark.parametrize("profile", [RFC7208, *RECEIVER_PROFILES], ids=lambda p: p.name)
def test_ipv4_clients_read_alike_whatever_the_upstream_ip6_terms(profile: Any) -> None:
    """Upstream publishes ip6 ranges over ::ffff:0:0/96: Mail::SPF would apply them to IPv4
    clients. The flattened records give every IPv4 client the RFC result in every profile."""
    resolver = spfmanager.SnapshotResolver(
        {"v6.example": [{"TXT": "v=spf1 ip6:::/0 ip6:::ffff:0:0/96 -all"}]}
    )
    result = spfmanager.flatten(
        "v=spf1 include:v6.example ip4:192.0.2.0/24 -all", DOMAIN, resolver=resolver
    )
    for strings in result.records.values():
        for term in parse_record("".join(strings)).mechanisms:
            if isinstance(term, IP6):
                first, last = term.span()
                assert last < IPV4_MAPPED[0] or first > IPV4_MAPPED[1]
    served = OverlayResolver(resolver, {n: [s] for n, s in result.records.items()})
    for ip in IPV4_CLIENTS:
        got = spfmanager.evaluate(ip, f"a@{DOMAIN}", DOMAIN, resolver=served, profile=profile)
        expected = Result.PASS if ip == "192.0.2.1" else Result.FAIL
        assert got.result is expected, (ip, got.reason)
    assert spfmanager.evaluate("2001:db8::1", f"a@{DOMAIN}", DOMAIN, resolver=served).result is (
        Result.PASS
    )


# -- property: generated intents ----------------------------------------------------------------

QUALIFIERS = st.sampled_from(["", "-", "~", "?"])
IP6_BASES = (0, IPV4_MAPPED[0], int(IPv6Address("::ffff:192.0.2.0")), 1 << 127, 0x20010DB8 << 96)


@st.composite
def wide_ip4(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from([0, 1, 2, 8, 16, 24, 31, 32]))
    address = draw(st.sampled_from([0, int(IPv4Address("192.0.2.0")), 1 << 31, V4_ALL]))
    return f"{draw(QUALIFIERS)}ip4:{IPv4Network((address, prefix), strict=False)}"


@st.composite
def wide_ip6(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from([0, 1, 2, 64, 80, 95, 96, 97, 120, 128]))
    address = draw(st.sampled_from(IP6_BASES))
    return f"{draw(QUALIFIERS)}ip6:{IPv6Network((address, prefix), strict=False)}"


@st.composite
def intents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An intent including up to two vendors whose terms are wide, /0, and IPv4-mapped."""
    zone: dict[str, Any] = {}
    for name in ("v0.example", "v1.example"):
        terms = draw(st.lists(st.one_of(wide_ip4(), wide_ip6()), min_size=1, max_size=6))
        ending = draw(st.sampled_from(["-all", "~all", "+all", "?all", ""]))
        zone[name] = [{"TXT": " ".join(["v=spf1", *terms, ending]).strip()}]
    # A dense vendor: distinct /48s that no CIDR merges, to fill records to the byte limit.
    base = draw(st.integers(0, 0x7000))
    dense = range(base, base + draw(st.integers(10, 40)))
    zone["v2.example"] = [
        {"TXT": " ".join(["v=spf1", *(f"ip6:2001:db8:{n * 2:x}::/48" for n in dense), "-all"])}
    ]
    own = draw(st.lists(st.one_of(wide_ip4(), wide_ip6()), max_size=3))
    includes = draw(
        st.lists(
            st.sampled_from(
                [f"{q}include:v{i}.example" for q in ("", "~", "-") for i in (0, 1, 2)]
            ),
            min_size=1,
            max_size=3,
        )
    )
    body = draw(st.permutations([*includes, *own]))
    ending = draw(st.sampled_from(["-all", "~all", "?all", "+all", ""]))
    return " ".join(["v=spf1", *body, ending]).strip(), zone


PROBES4 = ("0.0.0.0", "0.0.0.1", "127.255.255.255", "128.0.0.0", "192.0.2.1", "255.255.255.255")
PROBES6 = (
    "::",
    "::1",
    "::ffff:0:0",
    "::fffe:ffff:ffff",
    "::1:0:0:0",
    "8000::",
    "2001:db8::1",
    "2001:db8:1e::1",
    "2001:db8:1f::1",
)
MAPPED_PROBES = ("::ffff:0:0",)  # an IPv4 client, as libspf2's callers may hand it over


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(intents(), st.sampled_from([512, 1232, 4096]))
def test_flattened_output_is_portable_and_proven_under_every_profile(
    case: tuple[str, dict[str, Any]], max_answer: int
) -> None:
    """(A larger answer limit, as with EDNS, lets the compiled-bytes limit bind first.)"""
    text, zone = case
    resolver = spfmanager.SnapshotResolver(zone)
    try:
        result = spfmanager.flatten(text, DOMAIN, resolver=resolver, max_answer=max_answer)
    except FlattenError as exc:
        event(f"refused: {str(exc)[:40]}")
        return
    event(f"{len(result.records)} record(s)")
    for strings in result.records.values():
        record: Record = parse_record("".join(strings))
        assert_portable([m for m in record.mechanisms if not isinstance(m, Include)])
        assert record_mechanism_bytes(record) <= 511
    intent = parse_record(text)
    proof = verify(intent, DOMAIN, result.records, resolver, profiles=RECEIVER_PROFILES)
    assert proof.profiles == ("rfc7208", *(p.name for p in RECEIVER_PROFILES))
    # Independently of the proof: every probe, every profile, the intent's RFC result.
    as_intent = OverlayResolver(resolver, {DOMAIN: [[text]]})
    served = OverlayResolver(resolver, {n: [s] for n, s in result.records.items()})
    sender = f"a@{DOMAIN}"
    for ip in (*PROBES4, *PROBES6):
        want = spfmanager.evaluate(
            ip, sender, DOMAIN, resolver=as_intent, max_lookups=10**6, max_void_lookups=10**6
        ).result
        for profile in (RFC7208, *RECEIVER_PROFILES):
            if profile.mapped_client_is_ipv6 and ip in MAPPED_PROBES:
                continue  # reported in the proof: no portable record follows that reading
            got = spfmanager.evaluate(ip, sender, DOMAIN, resolver=served, profile=profile)
            assert got.result is want, (ip, profile.name, text, result.records, got.reason)


def test_libspf2_reads_the_packed_chain_whole() -> None:
    """One dense record loses its tail (and its ``-all``) in libspf2; the chain does not."""
    mechanisms = [*ip6_terms(60), IP4(Qualifier.PASS, IPv4Address("192.0.2.1"))]
    all_fail = parse_term("-all")
    assert isinstance(all_fail, Mechanism)
    mechanisms.append(all_fail)
    sender = f"a@{DOMAIN}"

    def results(records: Sequence[Any]) -> list[Result]:
        served = OverlayResolver(
            spfmanager.SnapshotResolver({}), {r.name: [list(r.strings)] for r in records}
        )
        return [
            spfmanager.evaluate(ip, sender, DOMAIN, resolver=served, profile=LIBSPF2).result
            for ip in ("2001:db8:3b::1", "192.0.2.1", "198.51.100.1")
        ]

    chained = pack(mechanisms, DOMAIN, max_answer=4096)
    assert results(chained) == [Result.PASS, Result.PASS, Result.FAIL]
    whole = pack(mechanisms, DOMAIN, max_answer=4096, max_mechanism_bytes=None)
    assert len(whole) == 1
    assert results(whole) == [Result.NEUTRAL, Result.NEUTRAL, Result.NEUTRAL]
