"""Targeted probes of the known departure points, as data: one small zone each.

Every :class:`Probe` names the RFC 7208 section at stake, its records, one query, and the
result of each real library and of the RFC's own reading (spfmanager with the rfc7208
profile). :data:`PROBES` share one zonedata (:func:`zonedata`), so each library answers
all of them in one batch. ``docs/receivers.md`` shows the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.conformance.receivers import Batch, Query

V4 = "192.0.2.1"
V6 = "2001:db8::1"
MAPPED = "::ffff:192.0.2.1"  # the IPv4-mapped form of V4
OUTSIDE = "198.51.100.1"  # matches nothing in any probe

COLUMNS = ("pyspf", "mailspf", "libspf2", "mailauth", "rfc7208")


@dataclass(frozen=True)
class Probe:
    """One query against a few records, and what each implementation answers."""

    id: str
    section: str  # RFC 7208
    question: str  # what it shows, for people
    domain: str  # the MAIL FROM domain; its record is the first of ``records``
    records: Mapping[str, list[dict[str, Any]]]
    ip: str
    # pyspf, mailspf, libspf2, mailauth, and the RFC's reading (spfmanager, rfc7208)
    expected: tuple[str, str, str, str, str]

    @property
    def query(self) -> Query:
        return Query(self.ip, f"probe@{self.domain}", "probe-helo.example")

    def result(self, column: str) -> str:
        return self.expected[COLUMNS.index(column)]

    @property
    def record(self) -> str:
        """The TXT record at ``domain``, for tables."""
        return str(self.records[self.domain][0]["TXT"])


def _txt(text: str) -> list[dict[str, Any]]:
    return [{"TXT": text}]


def _mx(*hosts: str) -> list[dict[str, Any]]:
    return [{"MX": [10 * (i + 1), host]} for i, host in enumerate(hosts)]


PROBES: tuple[Probe, ...] = (
    # (a) void lookups of MX hosts and PTR names
    Probe(
        "void-mx-hosts",
        "4.6.4",
        "3 MX hosts without any address: void lookups?",
        "mx3.void.example",
        {
            "mx3.void.example": _txt("v=spf1 mx -all")
            + _mx("h1.mx3.void.example", "h2.mx3.void.example", "h3.mx3.void.example")
        },
        OUTSIDE,
        ("permerror", "permerror", "fail", "permerror", "fail"),
    ),
    Probe(
        "void-mx-hosts-two",
        "4.6.4",
        "2 MX hosts without any address: within the void limit",
        "mx2.void.example",
        {
            "mx2.void.example": _txt("v=spf1 mx -all")
            + _mx("h1.mx2.void.example", "h2.mx2.void.example")
        },
        OUTSIDE,
        ("fail", "fail", "fail", "fail", "fail"),
    ),
    Probe(
        "void-mx-hosts-ipv6-only",
        "4.6.4",
        "3 MX hosts with only AAAA, IPv4 client: void when the A lookup is empty?",
        "mxv6.void.example",
        {
            "mxv6.void.example": _txt("v=spf1 mx -all")
            + _mx("h1.mxv6.void.example", "h2.mxv6.void.example", "h3.mxv6.void.example"),
            "h1.mxv6.void.example": [{"AAAA": "2001:db8::a"}],
            "h2.mxv6.void.example": [{"AAAA": "2001:db8::b"}],
            "h3.mxv6.void.example": [{"AAAA": "2001:db8::c"}],
        },
        OUTSIDE,
        ("permerror", "permerror", "fail", "fail", "fail"),
    ),
    Probe(
        "void-a-and-mx-host",
        "4.6.4",
        "2 void a: lookups and 1 addressless MX host: one counter or two?",
        "mix.void.example",
        {
            "mix.void.example": _txt("v=spf1 a:nx1.mix.void.example a:nx2.mix.void.example mx -all")
            + _mx("h1.mix.void.example"),
        },
        OUTSIDE,
        ("permerror", "permerror", "fail", "fail", "fail"),
    ),
    Probe(
        "void-a-ipv6-only",
        "4.6.4",
        "3 a: names with only AAAA, IPv4 client: 3 void A lookups",
        "av6.void.example",
        {
            "av6.void.example": _txt(
                "v=spf1 a:v6a.av6.void.example a:v6b.av6.void.example a:v6c.av6.void.example -all"
            ),
            "v6a.av6.void.example": [{"AAAA": "2001:db8::a"}],
            "v6b.av6.void.example": [{"AAAA": "2001:db8::b"}],
            "v6c.av6.void.example": [{"AAAA": "2001:db8::c"}],
        },
        V4,
        ("permerror", "permerror", "fail", "fail", "permerror"),
    ),
    Probe(
        "void-ptr-names",
        "4.6.4",
        "3 PTR names (inside the target) without an address: void lookups?",
        "ptr.void.example",
        {
            "ptr.void.example": _txt("v=spf1 ptr -all"),
            "1.2.0.192.in-addr.arpa": [
                {"PTR": "p1.ptr.void.example"},
                {"PTR": "p2.ptr.void.example"},
                {"PTR": "p3.ptr.void.example"},
            ],
        },
        V4,
        ("permerror", "permerror", "fail", "fail", "fail"),
    ),
    # (b) include: of the record's own domain
    Probe(
        "self-include-unreached",
        "5.2",
        "include: of its own domain, after a matching ip4:",
        "self.example",
        {"self.example": _txt("v=spf1 ip4:192.0.2.0/24 include:self.example -all")},
        V4,
        ("permerror", "pass", "pass", "pass", "pass"),
    ),
    Probe(
        "self-include-reached",
        "5.2",
        "include: of its own domain, reached: a loop, over the lookup limit",
        "self.example",
        {"self.example": _txt("v=spf1 ip4:192.0.2.0/24 include:self.example -all")},
        OUTSIDE,
        ("permerror", "permerror", "permerror", "permerror", "permerror"),
    ),
    Probe(
        "self-include-spelled-otherwise",
        "5.2",
        "include: of its own domain in capitals with a trailing dot, unreached",
        "self2.example",
        {"self2.example": _txt("v=spf1 ip4:192.0.2.0/24 ?include:SELF2.example. -all")},
        V4,
        ("pass", "pass", "pass", "pass", "pass"),
    ),
    Probe(
        "self-redirect-unreached",
        "6.1",
        "redirect= to its own domain, after a matching ip4:",
        "selfredir.example",
        {"selfredir.example": _txt("v=spf1 ip4:192.0.2.0/24 redirect=selfredir.example")},
        V4,
        ("pass", "pass", "pass", "pass", "pass"),
    ),
    # (c) an unreached redirect= and the lookup limit
    Probe(
        "redirect-unreached-10-lookups",
        "4.6.4",
        "10 a: lookups, the 10th matches, redirect= unreached: 10 lookups or 11?",
        "r10.example",
        {
            "r10.example": _txt(
                "v=spf1 "
                + " ".join(f"a:h{i}.r.example" for i in range(1, 11))
                + " redirect=other.example"
            )
        },
        "192.0.2.10",
        ("permerror", "permerror", "pass", "pass", "pass"),
    ),
    Probe(
        "redirect-unreached-1-lookup",
        "4.6.4",
        "the same record, the 1st a: matches",
        "r10.example",
        {
            "r10.example": _txt(
                "v=spf1 "
                + " ".join(f"a:h{i}.r.example" for i in range(1, 11))
                + " redirect=other.example"
            )
        },
        "192.0.2.1",
        ("pass", "pass", "pass", "pass", "pass"),
    ),
    Probe(
        "redirect-unreached-9-lookups",
        "4.6.4",
        "9 a: lookups, the 9th matches, redirect= unreached",
        "r9.example",
        {
            "r9.example": _txt(
                "v=spf1 "
                + " ".join(f"a:h{i}.r.example" for i in range(1, 10))
                + " redirect=other.example"
            )
        },
        "192.0.2.9",
        ("pass", "pass", "pass", "pass", "pass"),
    ),
    # (e) /0 prefixes
    Probe(
        "ip4-zero-v4",
        "5.6",
        "ip4:0.0.0.0/0 -all, IPv4 client",
        "z4.example",
        {"z4.example": _txt("v=spf1 ip4:0.0.0.0/0 -all")},
        V4,
        ("pass", "pass", "permerror", "pass", "pass"),
    ),
    Probe(
        "ip4-zero-v6",
        "5.6",
        "ip4:0.0.0.0/0 -all, IPv6 client",
        "z4.example",
        {"z4.example": _txt("v=spf1 ip4:0.0.0.0/0 -all")},
        V6,
        ("fail", "fail", "permerror", "fail", "fail"),
    ),
    Probe(
        "ip6-zero-v4",
        "5.6",
        "ip6:::/0 -all, IPv4 client",
        "z6.example",
        {"z6.example": _txt("v=spf1 ip6:::/0 -all")},
        V4,
        ("fail", "pass", "permerror", "fail", "fail"),
    ),
    Probe(
        "ip6-zero-v6",
        "5.6",
        "ip6:::/0 -all, IPv6 client",
        "z6.example",
        {"z6.example": _txt("v=spf1 ip6:::/0 -all")},
        V6,
        ("pass", "pass", "permerror", "fail", "pass"),
    ),
    Probe(
        "not-ip6-zero-v4",
        "5.6",
        "-ip6:::/0 +all, IPv4 client",
        "nz6.example",
        {"nz6.example": _txt("v=spf1 -ip6:::/0 +all")},
        V4,
        ("pass", "fail", "permerror", "pass", "pass"),
    ),
    Probe(
        "not-ip6-zero-v6",
        "5.6",
        "-ip6:::/0 +all, IPv6 client",
        "nz6.example",
        {"nz6.example": _txt("v=spf1 -ip6:::/0 +all")},
        V6,
        ("fail", "fail", "permerror", "pass", "fail"),
    ),
    Probe(
        "not-ip4-zero-v4",
        "5.6",
        "-ip4:0.0.0.0/0 +all, IPv4 client",
        "nz4.example",
        {"nz4.example": _txt("v=spf1 -ip4:0.0.0.0/0 +all")},
        V4,
        ("fail", "fail", "permerror", "fail", "fail"),
    ),
    Probe(
        "not-ip4-zero-v6",
        "5.6",
        "-ip4:0.0.0.0/0 +all, IPv6 client",
        "nz4.example",
        {"nz4.example": _txt("v=spf1 -ip4:0.0.0.0/0 +all")},
        V6,
        ("pass", "pass", "permerror", "pass", "pass"),
    ),
    Probe(
        "ip6-zero-same-address",
        "5.6",
        "ip6:2001:db8::1/0 -all, client 2001:db8::1 (the written address)",
        "z6same.example",
        {"z6same.example": _txt("v=spf1 ip6:2001:db8::1/0 -all")},
        V6,
        ("pass", "pass", "permerror", "pass", "pass"),
    ),
    Probe(
        "ip6-zero-other-address",
        "5.6",
        "ip6:2001:db8::1/0 -all, client 2001:db8::2",
        "z6same.example",
        {"z6same.example": _txt("v=spf1 ip6:2001:db8::1/0 -all")},
        "2001:db8::2",
        ("pass", "pass", "permerror", "fail", "pass"),
    ),
    Probe(
        "ip6-zero-embedded-ipv4",
        "5.6",
        "ip6:::1.1.1.1/0 -all (an IPv4-embedded address), IPv6 client",
        "z6emb.example",
        {"z6emb.example": _txt("v=spf1 ip6:::1.1.1.1/0 -all")},
        V6,
        ("pass", "pass", "permerror", "pass", "pass"),
    ),
    # (f) ip6 terms and IPv4 clients
    Probe(
        "ip6-covering-mapped-slash1",
        "5",
        "-ip6:::/1 +all (covers ::ffff:0:0/96), IPv4 client",
        "m1.example",
        {"m1.example": _txt("v=spf1 -ip6:::/1 +all")},
        V4,
        ("pass", "fail", "pass", "pass", "pass"),
    ),
    Probe(
        "ip6-mapped-slash96",
        "5",
        "-ip6:::ffff:0:0/96 +all, IPv4 client",
        "m96.example",
        {"m96.example": _txt("v=spf1 -ip6:::ffff:0:0/96 +all")},
        V4,
        ("pass", "fail", "pass", "pass", "pass"),
    ),
    Probe(
        "ip6-mapped-slash120",
        "5",
        "ip6:::ffff:192.0.2.0/120 -all, IPv4 client",
        "m120.example",
        {"m120.example": _txt("v=spf1 ip6:::ffff:192.0.2.0/120 -all")},
        V4,
        ("fail", "pass", "fail", "permerror", "fail"),
    ),
    Probe(
        "ip6-mapped-exact",
        "5",
        "ip6:::ffff:192.0.2.1 -all, IPv4 client",
        "mexact.example",
        {"mexact.example": _txt("v=spf1 ip6:::ffff:192.0.2.1 -all")},
        V4,
        ("fail", "pass", "fail", "fail", "fail"),
    ),
    Probe(
        "ip6-mapped-slash120-mapped-client",
        "5",
        "ip6:::ffff:192.0.2.0/120 -all, client ::ffff:192.0.2.1 (IPv4-mapped)",
        "m120.example",
        {"m120.example": _txt("v=spf1 ip6:::ffff:192.0.2.0/120 -all")},
        MAPPED,
        ("fail", "pass", "pass", "permerror", "fail"),
    ),
    Probe(
        "mapped-client-ip4",
        "5",
        "-ip4:192.0.2.1 +all, client ::ffff:192.0.2.1 (IPv4-mapped): treated as IPv4?",
        "mapped4.example",
        {"mapped4.example": _txt("v=spf1 -ip4:192.0.2.1 +all")},
        MAPPED,
        ("fail", "fail", "pass", "fail", "fail"),
    ),
)


# Records several probes use: the hosts of the redirect probes' a: terms, their target.
SHARED: dict[str, list[dict[str, Any]]] = {
    "other.example": _txt("v=spf1 -all"),
    **{f"h{i}.r.example": [{"A": f"192.0.2.{i}"}] for i in range(1, 11)},
}


def zonedata() -> dict[str, list[dict[str, Any]]]:
    """Every probe's records in one zonedata (a name used twice has the same records)."""
    data: dict[str, list[dict[str, Any]]] = dict(SHARED)
    for probe in PROBES:
        for name, entries in probe.records.items():
            if data.setdefault(name, entries) != entries:
                raise ValueError(f"probe {probe.id}: {name} differs from another probe's")
    return data


def batch() -> Batch:
    return Batch(zonedata(), tuple(p.query for p in PROBES))


# -- libspf2's compiled-mechanism budget --------------------------------------------------

# libspf2 1.2.10 spf_compile.c SPF_c_mech_add(): a mechanism is compiled only when
# ``mech_len + sizeof(SPF_mech_t) <= SPF_MAX_MECH_LEN``, checked before its data is added.
SPF_MAX_MECH_LEN = 511
SPF_MECH_HEADER = 4
IP4_BYTES = SPF_MECH_HEADER + 4  # struct in_addr
IP6_BYTES = SPF_MECH_HEADER + 16  # struct in6_addr


def libspf2_kept(costs: list[int]) -> int:
    """How many of the mechanisms (compiled sizes ``costs``, in order) libspf2 keeps."""
    used = 0
    for kept, cost in enumerate(costs):
        if used + SPF_MECH_HEADER > SPF_MAX_MECH_LEN:
            return kept
        used += cost
    return len(costs)


IP4_COUNTS = (1, *range(56, 73))
IP6_COUNTS = (1, *range(20, 33))


def ip4_terms(count: int) -> str:
    return " ".join(f"ip4:10.0.{i}.0/24" for i in range(count))


def ip6_terms(count: int) -> str:
    return " ".join(f"ip6:2001:db8:{i:x}::/48" for i in range(count))


@dataclass(frozen=True)
class LengthProbe:
    """A record of ``count`` ip4 (or ip6) terms then ``-all`` or ``redirect=``; a query."""

    label: str
    record: str
    query: Query
    costs: list[int]  # the compiled size of each mechanism, in order
    matches_at: int | None  # the index of the mechanism that matches the client, if any

    def libspf2_result(self) -> str:
        """What the budget rule predicts: the match if kept, else -all if kept, else none."""
        kept = libspf2_kept(self.costs)
        if self.matches_at is not None and self.matches_at < kept:
            return "pass"
        return "fail" if kept == len(self.costs) else "neutral"

    def full_result(self) -> str:
        """The result with every term read (every other implementation)."""
        return "pass" if self.matches_at is not None else "fail"


def length_probes() -> tuple[Batch, list[LengthProbe]]:
    """Records around libspf2's budget, in one zonedata: the last term matching the client,
    and a client matching nothing (does ``-all``, or ``redirect=`` to a ``-all``, survive?)."""
    data: dict[str, list[dict[str, Any]]] = {"fail.length.example": _txt("v=spf1 -all")}
    probes: list[LengthProbe] = []

    def add(label: str, record: str, ip: str, costs: list[int], at: int | None) -> None:
        domain = f"{label}.length.example"
        data[domain] = _txt(record)
        probes.append(
            LengthProbe(label, record, Query(ip, f"probe@{domain}", "h.example"), costs, at)
        )

    for n in IP4_COUNTS:
        terms, costs = ip4_terms(n), [IP4_BYTES] * n
        add(f"ip4-{n}-last", f"v=spf1 {terms} -all", f"10.0.{n - 1}.1", [*costs, 4], n - 1)
        add(f"ip4-{n}-all", f"v=spf1 {terms} -all", OUTSIDE, [*costs, 4], None)
        # redirect= is a mechanism to libspf2; its own size does not matter (the check
        # comes before it), so its header stands for it.
        add(
            f"ip4-{n}-redirect",
            f"v=spf1 {terms} redirect=fail.length.example",
            OUTSIDE,
            [*costs, SPF_MECH_HEADER],
            None,
        )
    for n in IP6_COUNTS:
        terms, costs = ip6_terms(n), [IP6_BYTES] * n
        add(f"ip6-{n}-last", f"v=spf1 {terms} -all", f"2001:db8:{n - 1:x}::1", [*costs, 4], n - 1)
        add(f"ip6-{n}-all", f"v=spf1 {terms} -all", "2001:db8:ffff::1", [*costs, 4], None)
    # A big term still fits while the budget is not spent: 62 ip4 (496 bytes), then an ip6
    # (500 <= 507, kept whole: 516), then -all is dropped.
    mixed = f"v=spf1 {ip4_terms(62)} ip6:2001:db8::/32 -all"
    mixed_costs = [IP4_BYTES] * 62 + [IP6_BYTES, 4]
    add("mixed-ip6", mixed, V6, mixed_costs, 62)
    add("mixed-all", mixed, OUTSIDE, mixed_costs, None)
    return Batch(data, tuple(p.query for p in probes)), probes
