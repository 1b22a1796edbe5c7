"""Property tests of the parser, the macro-string parser and the compiled ip4/ip6 fast path."""

from __future__ import annotations

import contextlib
from ipaddress import IPv4Address, IPv6Address, ip_address

from hypothesis import example, given, settings
from hypothesis import strategies as st

import spfmanager
from spfmanager.spf.compiled import AddressRun, compile_record
from spfmanager.spf.macros import parse_macro_string
from spfmanager.spf.ranges import network_range
from spfmanager.spf.terms import IP4, IP6, All, Mechanism, Record
from tests.spf.strategies import address_records, adversarial_records, macro_strings, records

IPAddress = IPv4Address | IPv6Address


# -- the parser never fails in an unexpected way -------------------------------------------------


@given(adversarial_records())
@example("v=spf1 a:%{d\u00b2}.example.com")  # a digit str.isdigit() accepts but int() rejects
@example("v=spf1 ip4:1.2.3.4/\u0663")
@example("v=spf1 a:example.com/\u0663")
@example("v=spf1 exists:%{\u0130}.example.com")  # 'İ'.lower() is two characters
@settings(max_examples=1500)
def test_parse_raises_only_syntax_errors(text: str) -> None:
    try:
        record = spfmanager.parse_record(text)
    except spfmanager.SPFSyntaxError as exc:
        assert 0 <= exc.position <= max(len(exc.text), len(text))
        return
    assert record.render().startswith("v=spf1")


@given(st.text(), st.booleans())
def test_macro_parse_raises_only_syntax_errors(text: str, explanation: bool) -> None:
    with contextlib.suppress(spfmanager.SPFSyntaxError):
        parse_macro_string(text, explanation=explanation)


# -- parse -> render -> parse ----------------------------------------------------------------------


@given(records())
@settings(max_examples=500)
def test_valid_records_round_trip(text: str) -> None:
    record = spfmanager.parse_record(text)
    rendered = record.render()
    again = spfmanager.parse_record(rendered)
    assert again == record
    assert again.render() == rendered


@given(records())
def test_render_is_canonical(text: str) -> None:
    rendered = spfmanager.parse_record(text).render()
    assert "  " not in rendered
    assert not rendered.endswith(" ")
    assert rendered.split(" ")[0] == "v=spf1"


@given(macro_strings())
@settings(max_examples=500)
def test_macro_strings_round_trip(text: str) -> None:
    macro = parse_macro_string(text)
    rendered = macro.render()
    assert parse_macro_string(rendered) == macro
    assert parse_macro_string(rendered).render() == rendered


@given(macro_strings(explanation=True))
def test_explanation_macro_strings_round_trip(text: str) -> None:
    macro = parse_macro_string(text, explanation=True)
    rendered = macro.render()
    assert parse_macro_string(rendered, explanation=True) == macro
    assert parse_macro_string(rendered, explanation=True).render() == rendered


@given(macro_strings(explanation=True).filter(lambda t: " " in t or "%{c" in t.lower()))
def test_explanation_only_syntax_is_rejected_in_domain_specs(text: str) -> None:
    try:
        parse_macro_string(text)
    except spfmanager.SPFSyntaxError:
        return
    raise AssertionError(f"{text!r} parsed as a domain-spec macro-string")


# -- the compiled fast path agrees with a term-by-term scan ---------------------------------


def _contains(mechanism: IP4 | IP6, ip: IPAddress) -> bool:
    return ip.version == mechanism.network.version and ip in mechanism.network


def first_match(record: Record, ip: IPAddress) -> Mechanism | None:
    """The naive reading of RFC 7208 4.6.2: the first mechanism that matches, in order."""
    for mechanism in record.mechanisms:
        if isinstance(mechanism, All):
            return mechanism
        if isinstance(mechanism, IP4 | IP6) and _contains(mechanism, ip):
            return mechanism
    return None


def compiled_match(text: str, ip: IPAddress) -> Mechanism | None:
    """The first match as the compiled record finds it."""
    for step in compile_record(text).steps:
        if isinstance(step, AddressRun):
            table = step.ipv4 if ip.version == 4 else step.ipv6
            index = table.lookup(int(ip))
            if index is not None:
                return step.mechanisms[index]
        elif isinstance(step, All) or (isinstance(step, IP4 | IP6) and _contains(step, ip)):
            return step
    return None


@st.composite
def records_and_addresses(draw: st.DrawFn) -> tuple[str, list[IPAddress]]:
    """An address-only record and client addresses at and around its range edges."""
    text = draw(address_records())
    record = spfmanager.parse_record(text)
    candidates: list[IPAddress] = []
    for mechanism in record.mechanisms:
        if isinstance(mechanism, IP4 | IP6):
            first, last = network_range(mechanism.network)
            top = 2**mechanism.network.max_prefixlen - 1
            kind = IPv4Address if isinstance(mechanism, IP4) else IPv6Address
            candidates += [kind(n) for n in (first - 1, first, last, last + 1) if 0 <= n <= top]
    picks = draw(st.lists(st.integers(0, max(len(candidates) - 1, 0)), max_size=8))
    chosen = [candidates[i] for i in picks] if candidates else []
    chosen += draw(_random_addresses)
    return text, chosen


_random_addresses = st.lists(
    st.one_of(
        st.integers(0, 2**32 - 1).map(IPv4Address), st.integers(0, 2**128 - 1).map(IPv6Address)
    ),
    min_size=2,
    max_size=4,
)


@given(records_and_addresses())
@settings(max_examples=500)
def test_compiled_record_matches_term_by_term(case: tuple[str, list[IPAddress]]) -> None:
    text, addresses = case
    record = spfmanager.parse_record(text)
    for ip in addresses:
        assert compiled_match(text, ip) == first_match(record, ip), str(ip)


@given(records_and_addresses())
@settings(max_examples=200)
def test_evaluate_gives_the_first_matching_term(case: tuple[str, list[IPAddress]]) -> None:
    text, addresses = case
    resolver = spfmanager.SnapshotResolver({"example.com": [{"TXT": text}]})
    record = spfmanager.parse_record(text)
    for address in addresses:
        ip = address
        if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # evaluate() treats IPv4-mapped addresses as IPv4 (RFC 7208 5)
        expected = first_match(record, ip)
        outcome = spfmanager.evaluate(ip, "user@example.com", "mail.example.com", resolver=resolver)
        if record.redirect is not None and expected is None:
            continue  # the redirect target is not in the zone: permerror, checked elsewhere
        if expected is None:
            assert outcome.result is spfmanager.Result.NEUTRAL, outcome.reason
            assert outcome.mechanism is None
        else:
            assert outcome.result is expected.qualifier.result, outcome.reason
            assert outcome.mechanism == expected.render()


def test_range_edges_of_a_known_record() -> None:
    text = "v=spf1 -ip4:192.0.2.128/25 ip4:192.0.2.0/24 ~ip6:2001:db8::/32 ip4:0.0.0.0/0 -all"
    record = spfmanager.parse_record(text)
    for address in ("192.0.2.127", "192.0.2.128", "192.0.2.255", "192.0.3.0", "0.0.0.0"):
        ip = ip_address(address)
        assert compiled_match(text, ip) == first_match(record, ip), address
    assert compiled_match(text, ip_address("192.0.2.128")) == record.mechanisms[0]
    assert compiled_match(text, ip_address("192.0.2.127")) == record.mechanisms[1]
    assert compiled_match(text, ip_address("2001:db9::")) == record.mechanisms[4]


def test_macro_digits_are_ascii_only() -> None:
    # found by test_parse_raises_only_syntax_errors: "%{d²}" raised ValueError, "%{d٣}" parsed
    for text in ("v=spf1 a:%{d\u00b2}.example.com", "v=spf1 a:%{d\u0663}.example.com"):
        try:
            spfmanager.parse_record(text)
        except spfmanager.SPFSyntaxError as exc:
            assert "delimiter" in exc.message
        else:
            raise AssertionError(f"{text!r} parsed")
