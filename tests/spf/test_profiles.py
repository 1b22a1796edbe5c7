"""Receiver profiles: each departure, on a small zone, gives the real library's result.

Every case below was run against the real libraries (pyspf 2.0.14, Mail::SPF 2.009,
libspf2 1.2.10's ``spfquery``, mailauth 5.0.3); ``results`` pins what each returned, and
RFC 7208 (the default profile) keeps the RFC's reading (``rfc``). The tests check:

* the default profile gives ``rfc`` and each receiver profile its library's result;
* pyspf, installed with the test dependencies, gives its pinned result here and now;
* with ``-m conformance`` (BIND, Perl, node and root: ``tests/conformance``), every library
  gives its pinned result on the cases BIND can serve (not TIMEOUT; not where the order of
  an RRset, which BIND shuffles, decides).

Each :class:`~spfmanager.spf.profiles.Departure`'s evidence names the cases pinning it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import spf

import spfmanager
from benchmarks.pyspf_zone import PyspfZone, serve
from spfmanager.spf.chain import SlowPath, evaluate_chain
from spfmanager.spf.limits import MAX_DEPTH
from spfmanager.spf.parser import parse_term
from spfmanager.spf.profiles import PROFILES, RECEIVER_PROFILES, RFC7208
from spfmanager.spf.profiles.libspf2 import SPF_MAX_MECH_LEN, mechanism_bytes
from spfmanager.spf.results import Cause, Result
from tests.conformance.receivers import Batch, Query, ReceiverLab, require
from tests.integration.bind import require_named

IP = "192.0.2.1"
R = "1.2.0.192.in-addr.arpa"  # IP's reverse name
IMPLS = ("pyspf", "mailspf", "libspf2", "mailauth")
Zone = dict[str, list[Any]]


@dataclass(frozen=True)
class Case:
    id: str
    zone: Zone
    rfc: str  # the RFC 7208 reading (the default profile)
    results: dict[str, str]  # each library's result, where it is not ``rfc``
    ip: str = IP
    sender: str = "alice@example.com"
    servable: bool = True  # BIND can serve it (no TIMEOUT)
    order_dependent: tuple[str, ...] = ()  # libraries whose result depends on RRset order
    departs: tuple[str, ...] = field(default=())

    def result(self, impl: str) -> str:
        return self.results.get(impl, self.rfc)


def _ip4s(count: int, *, start: int = 1) -> str:
    return " ".join(f"ip4:198.51.100.{i}" for i in range(start, start + count))


def _chain(records: int) -> Zone:
    """example.com includes c0, which includes c1, ...; the last one passes everyone."""
    zone: Zone = {
        f"c{i}.example.com": [{"TXT": f"v=spf1 include:c{i + 1}.example.com -all"}]
        for i in range(records - 1)
    }
    zone[f"c{records - 1}.example.com"] = [{"TXT": "v=spf1 +all"}]
    zone["example.com"] = [{"TXT": "v=spf1 include:c0.example.com -all"}]
    return zone


_TEN_INCLUDES = {
    "example.com": [{"TXT": "v=spf1 include:c0.example.com redirect=other.example.com"}],
    "other.example.com": [{"TXT": "v=spf1 -all"}],
    **{
        f"c{i}.example.com": [{"TXT": f"v=spf1 include:c{i + 1}.example.com -all"}]
        for i in range(9)
    },
    "c9.example.com": [{"TXT": "v=spf1 +all"}],
}
_ELEVEN_A = {f"h{j}.example.com": [{"A": "203.0.113.9"}] for j in range(10)} | {
    "h10.example.com": [{"A": IP}]
}
_ELEVEN_A_TERMS = " ".join(f"a:h{j}.example.com" for j in range(11))
_MX11 = {
    "example.com": [{"TXT": "v=spf1 mx -all"}]
    + [{"MX": [j, f"m{j}.example.com"]} for j in range(11)],
    **{f"m{j}.example.com": [{"A": f"203.0.113.{j + 1}"}] for j in range(11)},
}
_PER_INCLUDE = {
    "example.com": [
        {
            "TXT": "v=spf1 include:i1.example.com include:i2.example.com include:i3.example.com "
            "ip4:192.0.2.1 -all"
        }
    ],
    **{
        f"i{k}.example.com": [
            {"TXT": " ".join(["v=spf1", *(f"a:h{j}.example.com" for j in range(5)), "-all"])}
        ]
        for k in (1, 2, 3)
    },
    **{f"h{j}.example.com": [{"A": "203.0.113.9"}] for j in range(5)},
}

CASES = [
    # -- void lookups (4.6.4) ------------------------------------------------------------------
    Case(
        "void-mx-hosts",
        {
            "example.com": [{"TXT": "v=spf1 mx ?all"}]
            + [{"MX": [10 * j, f"g{j}.example.com"]} for j in (1, 2, 3)]
        },
        "neutral",
        {"pyspf": "permerror", "mailspf": "permerror", "mailauth": "permerror"},
    ),
    Case(
        "void-mx-hosts-and-a",
        {
            "example.com": [
                {"TXT": "v=spf1 mx a:n1.example.com ?all"},
                {"MX": [10, "g1.example.com"]},
                {"MX": [20, "g2.example.com"]},
            ]
        },
        "neutral",
        {"pyspf": "permerror", "mailspf": "permerror"},  # mailauth: MX hosts counted apart
    ),
    Case(
        "void-mx-hosts-aaaa-only",
        {
            "example.com": [{"TXT": "v=spf1 mx ?all"}]
            + [{"MX": [10 * j, f"g{j}.example.com"]} for j in (1, 2, 3)],
            **{f"g{j}.example.com": [{"AAAA": "2001:db8::5"}] for j in (1, 2, 3)},
        },
        "neutral",
        {"pyspf": "permerror", "mailspf": "permerror"},  # mailauth: not void, AAAA exists
    ),
    Case(
        "void-both-families",
        {
            "example.com": [
                {"TXT": "v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com ?all"}
            ],
            **{f"n{j}.example.com": [{"AAAA": "2001:db8::5"}] for j in (1, 2, 3)},
        },
        "permerror",
        {"libspf2": "neutral", "mailauth": "neutral"},
    ),
    Case(
        "no-void-limit",
        {
            "example.com": [
                {"TXT": "v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com ?all"}
            ]
        },
        "permerror",
        {"libspf2": "neutral"},
    ),
    Case(
        "void-ptr-names",
        {
            "example.com": [{"TXT": "v=spf1 ptr ?all"}],
            R: [{"PTR": f"p{j}.example.com"} for j in (1, 2, 3)],
        },
        "neutral",
        {"pyspf": "permerror", "mailspf": "permerror"},
    ),
    Case(
        "void-ptr-foreign-names",
        {
            "example.com": [{"TXT": "v=spf1 ptr a:nx1.example.com ?all"}],
            R: [{"PTR": f"p{j}.other.test"} for j in (1, 2, 3)],
        },
        "neutral",
        {"pyspf": "permerror"},  # Mail::SPF looks up only the names within example.com
    ),
    # -- the lookup limit (4.6.4) --------------------------------------------------------------
    Case(
        "unreached-redirect", _TEN_INCLUDES, "pass", {"pyspf": "permerror", "mailspf": "permerror"}
    ),
    Case(
        "unreached-redirect-with-all",
        {
            **_TEN_INCLUDES,
            "example.com": [
                {"TXT": "v=spf1 include:c0.example.com -all redirect=other.example.com"}
            ],
        },
        "pass",
        {"pyspf": "permerror", "mailspf": "permerror"},
    ),
    Case("lookups-per-include", _PER_INCLUDE, "permerror", {"libspf2": "pass"}),
    Case(
        "eleventh-lookup-matches-last",
        {"example.com": [{"TXT": f"v=spf1 {_ELEVEN_A_TERMS}"}], **_ELEVEN_A},
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "eleventh-lookup-matches-before-all",
        {"example.com": [{"TXT": f"v=spf1 {_ELEVEN_A_TERMS} -all"}], **_ELEVEN_A},
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "eleven-lookups-then-all",
        {"example.com": [{"TXT": f"v=spf1 {_ELEVEN_A_TERMS} -all"}], **_ELEVEN_A},
        "permerror",
        {},
        ip="192.0.2.99",
    ),
    Case(
        "eleven-lookups-at-end",
        {"example.com": [{"TXT": f"v=spf1 {_ELEVEN_A_TERMS}"}], **_ELEVEN_A},
        "permerror",
        {"libspf2": "neutral"},
        ip="192.0.2.99",
    ),
    Case("nesting-20", _chain(20), "permerror", {"libspf2": "pass"}),
    Case("nesting-21", _chain(21), "permerror", {}),
    # -- mx (5.4) and ptr (5.5) --------------------------------------------------------------
    Case(
        "excess-mx-first-matches",
        _MX11,
        "permerror",
        {"mailspf": "pass", "libspf2": "pass", "mailauth": "pass"},
        ip="203.0.113.1",
        order_dependent=("mailspf", "libspf2"),
    ),
    Case(
        "excess-mx-eleventh-matches",
        _MX11,
        "permerror",
        {"mailspf": "fail"},
        ip="203.0.113.11",
        order_dependent=("mailspf", "libspf2"),
    ),
    Case(
        "excess-mx-none-matches",
        _MX11,
        "permerror",
        {"mailspf": "fail"},
        order_dependent=("mailspf",),
    ),
    Case(
        "excess-ptr-none-matches",
        {
            "example.com": [{"TXT": "v=spf1 ptr -all"}],
            R: [{"PTR": f"p{j}.other.test"} for j in range(11)],
            **{f"p{j}.other.test": [{"A": "203.0.113.7"}] for j in range(11)},
        },
        "fail",
        {"libspf2": "permerror"},
    ),
    Case(
        "excess-ptr-first-matches",
        {
            "example.com": [{"TXT": "v=spf1 ptr -all"}],
            R: [{"PTR": "ok.example.com"}] + [{"PTR": f"p{j}.other.test"} for j in range(10)],
            "ok.example.com": [{"A": IP}],
            **{f"p{j}.other.test": [{"A": "203.0.113.7"}] for j in range(10)},
        },
        "pass",
        {},
        order_dependent=IMPLS,  # each checks the first 10 PTR names in answer order
    ),
    Case(
        "ptr-query-error",
        {"example.com": [{"TXT": "v=spf1 ptr ip4:192.0.2.1 -all"}], R: ["TIMEOUT"]},
        "pass",
        dict.fromkeys(IMPLS, "temperror"),
        servable=False,
    ),
    Case(
        "ptr-name-error",
        {
            "example.com": [{"TXT": "v=spf1 ptr ip4:192.0.2.1 -all"}],
            R: [{"PTR": "slow.example.com"}],
            "slow.example.com": ["TIMEOUT"],
        },
        "pass",
        {"pyspf": "temperror", "libspf2": "temperror"},
        servable=False,
    ),
    Case(
        "ptr-name-error-then-valid",
        {
            "example.com": [{"TXT": "v=spf1 ptr -all"}],
            R: [{"PTR": "slow.example.com"}, {"PTR": "ok.example.com"}],
            "slow.example.com": ["TIMEOUT"],
            "ok.example.com": [{"A": IP}],
        },
        "pass",
        {"pyspf": "temperror", "libspf2": "temperror"},
        servable=False,
    ),
    # -- the record ----------------------------------------------------------------------------
    Case(
        "self-include",
        {"example.com": [{"TXT": "v=spf1 +all include:example.com"}]},
        "pass",
        {"pyspf": "permerror"},
    ),
    Case(
        "self-include-macro",
        {"example.com": [{"TXT": "v=spf1 +all include:%{d}"}]},
        "pass",
        {"pyspf": "permerror"},
    ),
    Case(
        "self-include-other-case",
        {"example.com": [{"TXT": "v=spf1 +all include:EXAMPLE.com"}]},
        "pass",
        {},
    ),
    Case(
        "redirect-before-all",
        {
            "example.com": [{"TXT": "v=spf1 redirect=other.example.com -all"}],
            "other.example.com": [{"TXT": "v=spf1 +all"}],
        },
        "fail",
        {"libspf2": "pass"},
    ),
    Case(
        "redirect-before-ip4",
        {
            "example.com": [{"TXT": "v=spf1 redirect=other.example.com ip4:192.0.2.1"}],
            "other.example.com": [{"TXT": "v=spf1 -all"}],
        },
        "pass",
        {"libspf2": "fail"},
    ),
    # 64 ip4 terms are 512 bytes: the 64th starts at 504 (504 + 4 <= 511), the 65th is dropped
    Case(
        "mechanism-bytes-64th",
        {"example.com": [{"TXT": f"v=spf1 {_ip4s(70)} -all"}]},
        "pass",
        {},
        ip="198.51.100.64",
    ),
    Case(
        "mechanism-bytes-65th",
        {"example.com": [{"TXT": f"v=spf1 {_ip4s(70)} -all"}]},
        "pass",
        {"libspf2": "neutral"},
        ip="198.51.100.65",
    ),
    Case(
        "mechanism-bytes-all-dropped",
        {"example.com": [{"TXT": f"v=spf1 {_ip4s(70)} -all"}]},
        "fail",
        {"libspf2": "neutral"},
    ),
    Case(
        "mechanism-bytes-redirect-dropped",
        {
            "example.com": [{"TXT": f"v=spf1 {_ip4s(64)} redirect=other.example.com"}],
            "other.example.com": [{"TXT": "v=spf1 ip4:192.0.2.1 -all"}],
        },
        "pass",
        {"libspf2": "neutral"},
    ),
    Case(
        "mechanism-bytes-redirect-kept",
        {
            "example.com": [{"TXT": f"v=spf1 {_ip4s(63)} redirect=other.example.com"}],
            "other.example.com": [{"TXT": "v=spf1 ip4:192.0.2.1 -all"}],
        },
        "pass",
        {},
    ),
    Case(
        "zero-prefix-ip4",
        {"example.com": [{"TXT": "v=spf1 ip4:0.0.0.0/0 -all"}]},
        "pass",
        {"libspf2": "permerror"},
    ),
    Case(
        "zero-prefix-a",
        {"example.com": [{"TXT": "v=spf1 a/0 -all"}, {"A": "203.0.113.1"}]},
        "pass",
        {"libspf2": "permerror"},
    ),
    Case(
        "zero-prefix-a-ip6",
        {"example.com": [{"TXT": "v=spf1 a//0 -all"}, {"A": "203.0.113.1"}]},
        "fail",
        {"libspf2": "permerror"},
    ),
    # -- addresses (5, 5.6) --------------------------------------------------------------------
    Case(
        "ip6-matches-mapped-ipv4",
        {"example.com": [{"TXT": "v=spf1 ip6:::ffff:0:0/96 -all"}]},
        "fail",
        {"mailspf": "pass"},
    ),
    Case(
        "ip6-zero-prefix-ipv4-client",
        {"example.com": [{"TXT": "v=spf1 ip6:::/0 -all"}]},
        "fail",
        {"mailspf": "pass", "libspf2": "permerror"},
    ),
    Case(
        "ip6-zero-prefix-is-exact",
        {"example.com": [{"TXT": "v=spf1 ip6:::/0 -all"}]},
        "pass",
        {"mailauth": "fail", "libspf2": "permerror"},
        ip="2001:db8::1",
    ),
    Case(
        "mapped-client-is-ipv6",
        {"example.com": [{"TXT": "v=spf1 -ip4:1.2.3.4 ip6:::ffff:1.2.3.4"}]},
        "fail",
        {"libspf2": "pass"},
        ip="::ffff:1.2.3.4",
    ),
    Case(
        "mapped-client-ip4-term",
        {"example.com": [{"TXT": "v=spf1 ip4:1.2.3.4 -all"}]},
        "pass",
        {"libspf2": "fail"},
        ip="::ffff:1.2.3.4",
    ),
    # -- macros (7.3) --------------------------------------------------------------------------
    # libspf2 drops the first character of a truncation keeping every part: the zone lists
    # only that off-by-one name (tests/conformance/test_generated.py found it).
    Case(
        "truncation-to-every-label",
        {
            "example.com": [{"TXT": "v=spf1 exists:%{d2}.t.example.com -all"}],
            "xample.com.t.example.com": [{"A": "127.0.0.2"}],
        },
        "fail",
        {"libspf2": "pass"},
    ),
    Case(
        "truncation-past-every-label",
        {
            "example.com": [{"TXT": "v=spf1 exists:%{d5r}.t.example.com -all"}],
            "om.example.t.example.com": [{"A": "127.0.0.2"}],  # com.example, less its c
        },
        "fail",
        {"libspf2": "pass"},
    ),
    Case(
        "truncation-of-ip",
        {
            "example.com": [{"TXT": "v=spf1 exists:%{i4}.t.example.com -all"}],
            "92.0.2.1.t.example.com": [{"A": "127.0.0.2"}],
        },
        "fail",
        {"libspf2": "pass"},
    ),
    Case(
        "p-macro-is-sender-domain",
        {
            "example.com": [{"TXT": "v=spf1 exists:%{p}.wl.example.org -all"}],
            "example.com.wl.example.org": [{"A": "127.0.0.2"}],
        },
        "fail",
        {"mailauth": "pass"},
    ),
    # -- libspf2's grammar (spf_compile.c; spfmanager/spf/profiles/libspf2_grammar.py) -----
    Case(
        "no-top-label",
        {"example.com": [{"TXT": "v=spf1 a:foo.1 -all"}], "foo.1": [{"A": IP}]},
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "empty-domain-is-current",
        {"example.com": [{"TXT": "v=spf1 a: -all"}, {"A": IP}]},
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "exists-cidr-is-name",
        {
            "example.com": [{"TXT": f"v=spf1 exists:x.example.com/24 ip4:{IP}"}],
            "x.example.com": [{"A": "127.0.0.2"}],
        },
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "nul-ends-record",
        {"example.com": [{"TXT": f"v=spf1 ip4:{IP}\x00 -all"}]},
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "redirect-mechanism",
        {
            "example.com": [{"TXT": "v=spf1 redirect:other.example.com"}],
            "other.example.com": [{"TXT": f"v=spf1 ip4:{IP} -all"}],
        },
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "redirect-twice",
        {
            "example.com": [
                {"TXT": "v=spf1 redirect=other.example.com -all redirect=third.example.com"}
            ],
            "other.example.com": [{"TXT": f"v=spf1 ip4:{IP} -all"}],
            "third.example.com": [{"TXT": "v=spf1 -all"}],
        },
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "leading-zero-prefix",
        {"example.com": [{"TXT": f"v=spf1 ip4:{IP}/032 -all"}]},
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "stray-percent",
        {"example.com": [{"TXT": f"v=spf1 ip4:{IP} foo=%abc"}]},
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "modifier-name-dot",
        {"example.com": [{"TXT": f"v=spf1 ip4:{IP} moo.cow=x"}]},
        "pass",
        {"libspf2": "permerror"},
    ),
    Case(
        "delimiter-comma",
        {"example.com": [{"TXT": f"v=spf1 exists:%{{d,}}.x.example.com ip4:{IP}"}]},
        "pass",
        {"libspf2": "permerror"},
    ),
    Case(
        "digits-over-128",
        {"example.com": [{"TXT": f"v=spf1 exists:%{{d129}}.x.example.com ip4:{IP}"}]},
        "pass",
        {"libspf2": "permerror"},
    ),
    Case(
        "long-address-dropped",  # over INET6_ADDRSTRLEN - 1: not compiled, and no error
        {"example.com": [{"TXT": f"v=spf1 ip4:{'1' * 46} ip4:{IP} -all"}]},
        "permerror",
        {"libspf2": "pass"},
    ),
    # -- mailauth 4.13's names (4.3) and its reading of terms (4.6, 5.6) -----------------------
    Case(
        "a-trailing-dot",
        {
            "example.com": [{"TXT": "v=spf1 a:mail.example.com. -all"}],
            "mail.example.com": [{"A": IP}],
        },
        "pass",
        {"mailauth": "permerror"},  # "Invalid domain": its pattern wants a last label
    ),
    Case(
        "redirect-upper-tld",
        {
            "example.com": [{"TXT": "v=spf1 redirect=other.EXAMPLE.COM"}],
            "other.example.com": [{"TXT": "v=spf1 ip4:192.0.2.1 -all"}],
        },
        "pass",
        {"mailauth": "permerror"},  # "Invalid redirect target": a lower-case last label
    ),
    Case(
        "sender-underscore",
        {"_x.example.com": [{"TXT": "v=spf1 ip4:192.0.2.1 -all"}]},
        "pass",
        {"mailauth": "none"},  # Joi's domain(): no underscore
        sender="alice@_x.example.com",
    ),
    Case(
        "a-name-refused",
        {"example.com": [{"TXT": "v=spf1 a:foo:bar.example.com -all"}]},
        "fail",
        {"mailauth": "temperror"},  # node's resolver: EBADNAME
    ),
    Case(
        "include-name-refused",
        {"example.com": [{"TXT": "v=spf1 include:foo:bar.example.com ip4:192.0.2.1 -all"}]},
        "permerror",
        {"mailauth": "pass"},  # the include drops the EBADNAME: no match
    ),
    Case(
        "redirect-name-refused",
        {"example.com": [{"TXT": "v=spf1 -ip4:203.0.113.1 redirect=foo:bar.example.com"}]},
        "permerror",
        {"mailauth": "neutral"},  # redirect= drops the EBADNAME: nothing matched
    ),
    Case(
        "ptr-name-refused",
        {
            "example.com": [{"TXT": "v=spf1 ptr -all"}],
            R: [{"PTR": "a:b.example.com"}],
            "a:b.example.com": [{"A": IP}],
        },
        "pass",
        {"mailauth": "fail"},  # the PTR name's lookup fails: not validated
    ),
    Case(
        "term-checked-when-reached",
        {"example.com": [{"TXT": "v=spf1 ip4:192.0.2.1 ip6 -all"}]},
        "permerror",
        {"mailauth": "pass"},
    ),
    Case(
        "exp-letters-anywhere",
        {"example.com": [{"TXT": "v=spf1 a:%{r}.example.com ip4:192.0.2.1 -all"}]},
        "permerror",
        {"mailauth": "pass"},  # macro.js expands %{r} outside exp= too
    ),
    Case(
        "ip4-mapped-text",
        {"example.com": [{"TXT": "v=spf1 ip4:::ffff:192.0.2.1 -all"}]},
        "permerror",
        {"mailauth": "pass"},  # the IPv4 tail is the address
    ),
    Case(
        "ip4-wrong-family",
        {"example.com": [{"TXT": "v=spf1 ip4:2001:db8::1 ip4:192.0.2.1 -all"}]},
        "permerror",
        {"mailauth": "pass"},  # an IPv6 address in ip4: matches no client
    ),
    Case(
        "ip6-ipv4-tail-with-prefix",
        {"example.com": [{"TXT": "v=spf1 ip6:::1.2.3.0/120 -all"}]},
        "fail",
        {"mailauth": "permerror"},  # "invalid CIDR for IP"
        ip="2001:db8::1",
    ),
]
BY_ID = {case.id: case for case in CASES}

# libspf2's readings where another library departs too, in a way its profile does not model
# (yet): checked for RFC 7208 and libspf2 only, against spfquery with -m conformance.
LIBSPF2_ONLY = [
    Case(
        "delimiter-bar",  # pyspf and mailauth accept '|' too
        {"example.com": [{"TXT": f"v=spf1 exists:%{{d|}}.x.example.com ip4:{IP}"}]},
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "uppercase-reverse",  # Mail::SPF refuses 'R' too
        {"example.com": [{"TXT": f"v=spf1 exists:%{{dR}}.x.example.com ip4:{IP}"}]},
        "pass",
        {"libspf2": "permerror"},
    ),
    Case(
        "exp-twice-libspf2",  # mailauth reads modifiers only when reached
        {"example.com": [{"TXT": f"v=spf1 ip4:{IP} exp=a.example.com exp=b.example.com"}]},
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "modifier-macro-r",  # mailauth as well
        {"example.com": [{"TXT": f"v=spf1 ip4:{IP} exp=%{{r}}.example.com"}]},
        "permerror",
        {"libspf2": "pass"},
    ),
    Case(
        "uncarried-domain",  # Mail::SPF raises (Net::DNS refuses the name)
        {},
        "none",
        {"libspf2": "permerror"},
        sender="alice@a..example.com",
    ),
    Case(
        "uncarried-include",  # Mail::SPF raises
        {"example.com": [{"TXT": f"v=spf1 include:a..example.com ip4:{IP}"}]},
        "permerror",
        {"libspf2": "temperror"},
    ),
    Case(
        "single-label-sender",  # pyspf and Mail::SPF query it too
        {"museum": [{"TXT": f"v=spf1 ip4:{IP} -all"}]},
        "none",
        {"libspf2": "pass"},
        sender="alice@museum",
    ),
]


def evaluate(case: Case, profile: str = "rfc7208") -> spfmanager.SPFResult:
    resolver = spfmanager.SnapshotResolver(case.zone)
    return spfmanager.evaluate(
        case.ip, case.sender, "helo.example.com", resolver=resolver, profile=PROFILES[profile]
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rfc7208_reading(case: Case) -> None:
    resolver = spfmanager.SnapshotResolver(case.zone)
    default = spfmanager.evaluate(case.ip, case.sender, "helo.example.com", resolver=resolver)
    assert default.result.value == case.rfc, default.reason
    assert evaluate(case).result.value == case.rfc


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_profile_gives_library_result(case: Case, impl: str) -> None:
    outcome = evaluate(case, impl)
    assert outcome.result.value == case.result(impl), outcome.reason


@pytest.mark.parametrize(("ip", "result"), [("2001:db8::1", "pass"), (IP, "fail")])
def test_mailauth_ip6_ipv4_tail_zero_prefix_matches_every_ipv6_client(ip: str, result: str) -> None:
    """ip6:::1.1.1.1/0 (an IPv4 tail): mailauth 4.13.3 matches every IPv6 client, as the
    RFC does, unlike ip6:X/0 (X only); tests/conformance probe ip6-zero-embedded-ipv4."""
    zone = {"example.com": [{"TXT": "v=spf1 ip6:::1.1.1.1/0 -all"}]}
    outcome = spfmanager.evaluate(
        ip,
        "alice@example.com",
        "helo.example.com",
        resolver=spfmanager.SnapshotResolver(zone),
        profile=PROFILES["mailauth"],
    )
    assert outcome.result.value == result, outcome.reason


def _pyspf(case: Case) -> str:
    with serve(PyspfZone(case.zone)):
        result = str(spf.query(i=case.ip, s=case.sender, h="helo.example.com").check()[0])
    return {"error": "temperror", "unknown": "permerror"}.get(result, result)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_pyspf_gives_its_pinned_result(case: Case) -> None:
    assert _pyspf(case) == case.result("pyspf")


# -- the real libraries, through tests/conformance (-m conformance) --------------------------


@pytest.fixture(scope="module")
def lab() -> Iterator[ReceiverLab]:
    require_named()
    with ReceiverLab() as started:
        yield started


@pytest.mark.conformance
@pytest.mark.parametrize("impl", IMPLS)
def test_library_gives_its_pinned_results(impl: str, lab: ReceiverLab) -> None:
    require(impl)
    cases = [c for c in CASES if c.servable and impl not in c.order_dependent]
    batches = [Batch(c.zone, (Query(c.ip, c.sender, "helo.example.com"),)) for c in cases]
    outcomes = lab.run_many(impl, batches)
    got = {c.id: o[0].name for c, o in zip(cases, outcomes, strict=True)}
    assert got == {c.id: c.result(impl) for c in cases}


@pytest.mark.parametrize("case", LIBSPF2_ONLY, ids=[c.id for c in LIBSPF2_ONLY])
def test_libspf2_only_cases(case: Case) -> None:
    assert evaluate(case).result.value == case.rfc
    outcome = evaluate(case, "libspf2")
    assert outcome.result.value == case.result("libspf2"), outcome.reason


@pytest.mark.parametrize("case", CASES + LIBSPF2_ONLY, ids=[c.id for c in CASES + LIBSPF2_ONLY])
def test_libspf2_chain_table_reads_as_libspf2(case: Case) -> None:
    """The interval table (spf/chain.py) is built from the RFC reading: under libspf2 it
    declines every chain libspf2 reads otherwise, and gives the reference result elsewhere."""
    profile = PROFILES["libspf2"]
    for ip in (case.ip, "192.0.2.2", "198.51.100.3"):
        resolver = spfmanager.SnapshotResolver(case.zone)
        fast = evaluate_chain(
            ip, case.sender, "helo.example.com", resolver=resolver, profile=profile, warmup=0
        )
        slow = spfmanager.evaluate(
            ip, case.sender, "helo.example.com", resolver=SlowPath(resolver), profile=profile
        )
        if fast is not None:
            assert (fast.result, fast.reason) == (slow.result, slow.reason), ip


@pytest.mark.conformance
def test_libspf2_gives_its_pinned_results_on_its_own_cases(lab: ReceiverLab) -> None:
    require("libspf2")
    batches = [Batch(c.zone, (Query(c.ip, c.sender, "helo.example.com"),)) for c in LIBSPF2_ONLY]
    outcomes = lab.run_many("libspf2", batches)
    got = {c.id: o[0].name for c, o in zip(LIBSPF2_ONLY, outcomes, strict=True)}
    assert got == {c.id: c.result("libspf2") for c in LIBSPF2_ONLY}


# -- libspf2's compiled sizes (spf_compile.c SPF_c_mech_add, aligned to 4) -----------------


@pytest.mark.parametrize(
    ("term", "size"),
    [
        ("ip4:192.0.2.1", 8),  # header + struct in_addr
        ("ip4:192.0.2.0/24", 8),
        ("ip6:2001:db8::/32", 20),  # header + struct in6_addr
        ("-all", 4),
        ("a", 4),
        ("mx/32", 4),  # /32 is stored as 0: no SPF_data_cidr_t
        ("a/24", 8),
        ("mx//64", 8),
        ("a:example.com", 20),  # 4 + align(4 + 11)
        ("a:example.com/24//64", 24),
        ("include:spf.example.net", 24),  # 4 + align(4 + 15)
        ("include:_spf.google.com", 24),
        ("exists:%{ir}.%{v}.bl.example.com", 40),  # 4 + 4 + 8 + 4 + align(4 + 15)
        ("exists:%{l}%{d}", 12),
        ("exists:%%%_%-x.example.com", 28),  # "% %20x.example.com", 18: 4 + align(4 + 18)
        ("redirect=_spf.example.com", 24),
        ("ptr:example.com", 20),
    ],
)
def test_libspf2_mechanism_bytes(term: str, size: int) -> None:
    assert mechanism_bytes(parse_term(term)) == size  # type: ignore[arg-type]


def test_libspf2_drops_at_the_header_check() -> None:
    """The 64th ip4 starts at 504 bytes (504 + 4 <= 511) and ends past 511: kept. The 65th
    starts at 512: dropped with all that follows, though the record's text is short."""
    assert 63 * 8 + 4 <= SPF_MAX_MECH_LEN < 64 * 8 + 4
    outcome = evaluate(BY_ID["mechanism-bytes-65th"], "libspf2")
    kinds = [step.message for step in outcome.trace if "drops" in step.message]
    assert kinds and "7 terms" in kinds[0]  # 6 ip4 and -all


# -- recursion is bounded whatever the lookup limit (issue 10, point 5) ---------------------

LOOP = {
    "a.test": [{"TXT": "v=spf1 include:loop.test -all"}],
    "loop.test": [{"TXT": "v=spf1 include:loop.test -all"}],
}
CYCLE = {
    "a.test": [{"TXT": "v=spf1 include:l1.test -all"}],
    "l1.test": [{"TXT": "v=spf1 include:l2.test -all"}],
    "l2.test": [{"TXT": "v=spf1 include:l1.test -all"}],
}


@pytest.mark.parametrize("zone", [LOOP, CYCLE], ids=["self", "cycle"])
@pytest.mark.parametrize("profile", list(PROFILES))
def test_include_loop_with_a_raised_limit_is_a_permerror(profile: str, zone: Zone) -> None:
    outcome = spfmanager.evaluate(
        IP,
        "x@a.test",
        "helo.test",
        resolver=spfmanager.SnapshotResolver(zone),
        max_lookups=1_000_000,
        max_void_lookups=1_000_000,
        profile=PROFILES[profile],
    )
    assert outcome.result is Result.PERMERROR
    assert outcome.cause is Cause.RECURSION
    if profile == "pyspf" and zone is LOOP:  # rejected when read, before any recursion
        assert outcome.cause_target == "loop.test"
        assert "own domain" in outcome.reason
    else:
        assert outcome.cause_target in zone
        assert f"deeper than {MAX_DEPTH}" in outcome.reason


def test_redirect_loop_with_a_raised_limit_is_a_permerror() -> None:
    zone = {
        "a.test": [{"TXT": "v=spf1 redirect=b.test"}],
        "b.test": [{"TXT": "v=spf1 redirect=a.test"}],
    }
    outcome = spfmanager.evaluate(
        IP, "x@a.test", "h.test", resolver=spfmanager.SnapshotResolver(zone), max_lookups=10**6
    )
    assert (outcome.result, outcome.cause) == (Result.PERMERROR, Cause.RECURSION)


def test_default_limit_still_stops_a_loop_first() -> None:
    outcome = spfmanager.evaluate(IP, "x@a.test", "h", resolver=spfmanager.SnapshotResolver(LOOP))
    assert (outcome.result, outcome.cause) == (Result.PERMERROR, Cause.TOO_MANY_LOOKUPS)


def test_nesting_up_to_max_depth_is_evaluated() -> None:
    outcome = spfmanager.evaluate(
        IP,
        "alice@example.com",
        "h",
        resolver=spfmanager.SnapshotResolver(_chain(MAX_DEPTH)),
        max_lookups=100,
    )
    assert outcome.result is Result.PASS


# -- the profiles as data ------------------------------------------------------------------


def test_every_departure_is_pinned_by_a_case() -> None:
    for profile in RECEIVER_PROFILES:
        assert profile.departures, profile.name
        for departure in profile.departures:
            cited = re.findall(r"test_profiles\.py::([\w-]+)", departure.evidence)
            assert cited, f"{profile.name} {departure.summary}: no case cited"
            for case_id in cited:
                case = BY_ID[case_id]
                assert case.result(profile.name) != case.rfc, (profile.name, case_id)


def test_every_receiver_result_is_some_profiles_departure() -> None:
    """A case where a library departs from the RFC is cited by that library's profile."""
    for profile in RECEIVER_PROFILES:
        cited = set(re.findall(r"::([\w-]+)", " ".join(d.evidence for d in profile.departures)))
        for case in CASES:
            if case.result(profile.name) != case.rfc:
                assert case.id in cited, (profile.name, case.id)


def test_rfc7208_profile_departs_nowhere() -> None:
    assert RFC7208.departures == ()
    assert type(RFC7208)(name="rfc7208", title=RFC7208.title) == RFC7208
