"""Parsing into typed terms, and syntax errors that point at the problem."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from spfmanager import SPFSyntaxError, parse_record
from spfmanager.spf.macros import MacroExpand
from spfmanager.spf.results import Qualifier
from spfmanager.spf.terms import IP4, IP6, MX, A, All, Explanation, Include, Redirect


def test_terms_are_typed() -> None:
    record = parse_record(
        "v=spf1 -ip4:192.0.2.1/24 ip6:2001:DB8::/32 ~a:%{d}.example.com/24//64 mx "
        "?include:_spf.example.net redirect=r.example exp=e.example -all"
    )
    ip4, ip6, a, mx, include, redirect, exp, all_ = record.terms
    assert ip4 == IP4(Qualifier.FAIL, IPv4Address("192.0.2.1"), 24)
    assert ip6 == IP6(Qualifier.PASS, IPv6Address("2001:db8::"), 32)
    assert isinstance(a, A) and a.cidr4 == 24 and a.cidr6 == 64
    assert a.domain is not None and isinstance(a.domain.parts[0], MacroExpand)
    assert mx == MX()
    assert isinstance(include, Include) and include.qualifier is Qualifier.NEUTRAL
    assert isinstance(redirect, Redirect) and isinstance(exp, Explanation)
    assert all_ == All(Qualifier.FAIL)
    assert record.lookups == 3  # a, mx, include; redirect ignored beside all


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("v=spf1 ip4:1.2.3.4/33", 19, "prefix length"),
        ("v=spf1 ip4:1.2.3", 11, "invalid IPv4 address"),
        ("v=spf1 ip6:2001:db8::/129", 22, "prefix length"),
        ("v=spf1 a:example", 15, "top-level label"),
        ("v=spf1 include", 14, "needs ':domain'"),
        ("v=spf1 foo:bar", 7, "unknown mechanism"),
        ("v=spf1 exists:%{z}.example.com", 16, "unknown macro letter"),
        ("v=spf1 redirect=a.example redirect=b.example", 26, "more than once"),
        ("v=spf1 a:%{d", 9, "unterminated"),
        ("v=spf1 all/24", 10, "takes no argument"),
    ],
)
def test_syntax_errors_carry_the_position(text: str, position: int, message: str) -> None:
    with pytest.raises(SPFSyntaxError, match=message) as caught:
        parse_record(text)
    assert caught.value.position == position
    assert caught.value.pointer().splitlines()[1] == " " * position + "^"


def test_render_is_canonical() -> None:
    record = parse_record("V=SPF1   IP4:192.0.2.0/24   +A  ALL")
    assert record.render() == "v=spf1 ip4:192.0.2.0/24 a +all"
    assert parse_record(record.render()) == record
