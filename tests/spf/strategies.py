"""Hypothesis strategies: SPF record text, macro-strings, addresses and whole DNS scenarios.

The record strategies produce *valid* text (RFC 7208 section 12) in varied spellings
(case, qualifiers, spacing) for round-trip properties; :func:`adversarial_records` produces
mostly invalid text for robustness. :func:`scenarios` builds a zone (zonedata, the form
:class:`~spfmanager.SnapshotResolver` reads) together with a connection to check against it,
for differential tests against another implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from hypothesis import strategies as st

QUALIFIERS = ("", "+", "-", "~", "?")
MACRO_LETTERS = "slodiphv"  # usable in domain-specs (RFC 7208 7.2)
EXP_LETTERS = MACRO_LETTERS + "crt"  # explanation strings only add c, r and t
DELIMITERS = ".-+,/_="  # RFC 7208 7.1

qualifiers = st.sampled_from(QUALIFIERS)
_LABEL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
_label = st.one_of(
    st.sampled_from(("mail", "_spf", "spf", "x1", "0", "a-b", "relay")),
    st.text(alphabet=_LABEL_CHARS, min_size=1, max_size=8),
)
_toplabel = st.sampled_from(("com", "net", "org", "test", "xn--p1ai", "a1", "1a", "b-2"))


def _mixed_case(text: str) -> st.SearchStrategy[str]:
    """``text`` in one of a few spellings (names are case-insensitive)."""
    return st.sampled_from((text, text.upper(), text.capitalize(), text.swapcase().capitalize()))


# -- macro-strings (RFC 7208 7.1) -------------------------------------------------------------


def macro_expands(letters: str = MACRO_LETTERS) -> st.SearchStrategy[str]:
    """One ``%{...}`` expansion: letter (either case), digits, ``r`` and delimiters."""
    return st.builds(
        lambda letter, upper, digits, reverse, delimiters: (
            f"%{{{letter.upper() if upper else letter}{digits}{reverse}{delimiters}}}"
        ),
        st.sampled_from(letters),
        st.booleans(),
        st.one_of(st.just(""), st.integers(1, 130).map(str)),
        st.sampled_from(("", "r", "R")),
        st.text(alphabet=DELIMITERS, max_size=3),
    )


def _literal_chars(explanation: bool) -> st.SearchStrategy[str]:
    # visible ASCII except '%' (RFC 7208 7.1 macro-literal); explanations also allow space
    low = 0x20 if explanation else 0x21
    return st.text(
        alphabet=st.characters(min_codepoint=low, max_codepoint=0x7E, exclude_characters="%"),
        min_size=1,
        max_size=6,
    )


def macro_strings(*, explanation: bool = False) -> st.SearchStrategy[str]:
    """Valid macro-string text (possibly empty)."""
    part = st.one_of(
        _literal_chars(explanation),
        st.sampled_from(("%%", "%_", "%-")),
        macro_expands(EXP_LETTERS if explanation else MACRO_LETTERS),
    )
    return st.lists(part, max_size=6).map("".join)


def _literal_domain(labels: list[str], top: str, dot: bool) -> str:
    return ".".join([*labels, top]) + ("." if dot else "")


_literal_domain_specs = st.builds(
    _literal_domain, st.lists(_label, min_size=1, max_size=3), _toplabel, st.booleans()
)
_macro_domain_specs = st.builds(
    lambda head, end: ".".join(head) + end,
    st.lists(st.one_of(_label, macro_expands(), st.just("%-")), max_size=3),
    st.one_of(macro_expands(), _toplabel.map(lambda t: "." + t)),
)


def domain_specs() -> st.SearchStrategy[str]:
    """A domain-spec: a macro-string ending in ``.toplabel`` or in an expansion (7.1)."""
    return st.one_of(_literal_domain_specs, _literal_domain_specs, _macro_domain_specs)


# -- terms and records -----------------------------------------------------------------------

ipv4_addresses = st.integers(0, 2**32 - 1).map(IPv4Address)
ipv6_addresses = st.integers(0, 2**128 - 1).map(IPv6Address)


def _cidr(low: int, high: int, *, double: bool = False) -> st.SearchStrategy[str]:
    slashes = "//" if double else "/"
    return st.one_of(st.just(""), st.integers(low, high).map(lambda n: f"{slashes}{n}"))


def ip4_terms() -> st.SearchStrategy[str]:
    return st.builds(
        lambda q, name, a, c: f"{q}{name}:{a}{c}",
        qualifiers,
        _mixed_case("ip4"),
        ipv4_addresses,
        _cidr(0, 32),
    )


def ip6_terms() -> st.SearchStrategy[str]:
    spellings = st.builds(
        lambda a, full: a.exploded if full else a.compressed, ipv6_addresses, st.booleans()
    )
    return st.builds(
        lambda q, name, a, c: f"{q}{name}:{a}{c}",
        qualifiers,
        _mixed_case("ip6"),
        spellings,
        _cidr(0, 128),
    )


def all_terms() -> st.SearchStrategy[str]:
    return st.builds(lambda q, name: q + name, qualifiers, _mixed_case("all"))


def _dual_cidr() -> st.SearchStrategy[str]:
    return st.builds(lambda c4, c6: c4 + c6, _cidr(0, 32), _cidr(0, 128, double=True))


def _target(optional: bool) -> st.SearchStrategy[str]:
    spec = domain_specs().map(lambda d: ":" + d)
    return st.one_of(st.just(""), spec) if optional else spec


def mechanism_terms() -> st.SearchStrategy[str]:
    """Any valid mechanism, DNS-querying ones included."""
    return _MECHANISM_TERMS


def _mechanism_terms() -> st.SearchStrategy[str]:

    def term(name: str, target: st.SearchStrategy[str], cidr: st.SearchStrategy[str]) -> Any:
        return st.builds(
            lambda q, n, t, c: f"{q}{n}{t}{c}", qualifiers, _mixed_case(name), target, cidr
        )

    return st.one_of(
        ip4_terms(),
        ip6_terms(),
        all_terms(),
        term("a", _target(True), _dual_cidr()),
        term("mx", _target(True), _dual_cidr()),
        term("ptr", _target(True), st.just("")),
        term("include", _target(False), st.just("")),
        term("exists", _target(False), st.just("")),
    )


_MECHANISM_TERMS = _mechanism_terms()
_modifier_name = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("aBmXz"),
    st.text(alphabet="abcXYZ019_.-", max_size=8),
).filter(lambda n: n.lower() not in ("redirect", "exp"))


_SPACES = st.text(alphabet=" ", min_size=1, max_size=3)
_VERSIONS = _mixed_case("v=spf1")
_MODIFIER_NAMES = (_mixed_case("redirect"), _mixed_case("exp"))
_UNKNOWN_MODIFIERS = st.builds(lambda n, v: f"{n}={v}", _modifier_name, macro_strings())


@st.composite
def records(draw: st.DrawFn, mechanisms: st.SearchStrategy[str] | None = None) -> str:
    """Valid record text: ``v=spf1``, terms in any order, at most one redirect= and exp=."""
    terms = draw(st.lists(_MECHANISM_TERMS if mechanisms is None else mechanisms, max_size=8))
    terms += draw(st.lists(_UNKNOWN_MODIFIERS, max_size=2))
    for spellings in _MODIFIER_NAMES:
        if draw(st.booleans()):
            terms.append(f"{draw(spellings)}={draw(domain_specs())}")
    terms = draw(st.permutations(terms))
    text = draw(_VERSIONS) + "".join(draw(_SPACES) + term for term in terms)
    return text + draw(st.sampled_from(("", " ")))


_ADDRESS_TERMS = st.one_of(ip4_terms(), ip6_terms(), all_terms())
_ADDRESS_RECORDS = records(
    st.one_of(_ADDRESS_TERMS, _ADDRESS_TERMS.filter(lambda t: "all" not in t.lower()))
)


def address_records() -> st.SearchStrategy[str]:
    """Records made only of ip4, ip6 and all terms."""
    return _ADDRESS_RECORDS


_NASTY_TOKENS = (
    "%", "%{", "%{}", "%{x}", "%{d0}", "%{d2r.}", "%{c}", "%{d\u00b2}", "%{d\u0663}", ":",
    "/", "//", "/33", "//129", "=", "==", "a:", "ip4:", "ip6:", "ip4:1.2.3.4/", "ip6:::/",
    "ip6:fe80::1%eth0", "include:", "exists:", "redirect=", "exp=", "all:", "-", "+", "~",
    "?", "a/", "mx//", "a:b", "a:b.c", "a:b.c/1//2", "ip4:1.2.3.04", "\u00e9", "\x00",
    "\t", "\n", "\ud7ff", "v=spf1",
)  # fmt: skip


def adversarial_records() -> st.SearchStrategy[str]:
    """``v=spf1`` followed by near-miss and hostile tokens, and any text at all."""
    token = st.one_of(
        st.sampled_from(_NASTY_TOKENS),
        st.text(max_size=8),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=10),
    )
    glued = st.lists(token, max_size=4).map("".join)
    spf = st.builds(
        lambda words, sep: "v=spf1 " + sep.join(words),
        st.lists(glued, max_size=6),
        st.sampled_from((" ", "  ", "")),
    )
    return st.one_of(st.text(), spf, spf)


# -- differential scenarios ------------------------------------------------------------------

SENDER_DOMAIN = "d0.test"
POOL = tuple(f"d{n}.test" for n in range(6))  # names records refer to; d0 is the sender's
CHAIN = tuple(f"c{n}.test" for n in range(12))  # include chains long enough to pass 10 lookups
TIMEOUT_NAME = "t.test"
EXISTS_ZONE = "e.test"
CLIENTS_V4 = ("192.0.2.1", "192.0.2.130", "198.51.100.7")
CLIENTS_V6 = ("2001:db8::1", "2001:db8:1::80", "::ffff:192.0.2.1")
HOSTS_V4 = ("192.0.2.1", "192.0.2.2", "192.0.2.129", "198.51.100.7", "203.0.113.9")
HOSTS_V6 = ("2001:db8::1", "2001:db8::2", "2001:db8:1::80", "2001:db8:ffff::1")
# domain-specs with macros: (template, whether their expansion may be listed in the zone)
EXISTS_TEMPLATES = (
    "%{i}.e.test",
    "%{ir}.%{v}.e.test",
    "%{l}.e.test",
    "%{l1r-}.e.test",
    "%{o}",
    "%{h}",
    "%{d}",
    "%{d2}",
    "%{s}.e.test",
    "%{i2r}.e.test",
    "%{L}.e.test",
    "%{o1}.e.test",
)


@dataclass(frozen=True)
class Scenario:
    """A zone and one connection to check against it."""

    zonedata: dict[str, list[dict[str, Any]] | list[str]]
    ip: str
    mailfrom: str
    helo: str

    def __str__(self) -> str:
        lines = [f"ip={self.ip} mailfrom={self.mailfrom!r} helo={self.helo!r}"]
        lines += [f"  {name}: {entries}" for name, entries in sorted(self.zonedata.items())]
        return "\n".join(lines)


def _networks(draw: st.DrawFn, version: int) -> str:
    hosts = HOSTS_V4 + CLIENTS_V4 if version == 4 else HOSTS_V6 + CLIENTS_V6[:2]
    address = draw(st.sampled_from(hosts))
    top = 32 if version == 4 else 128
    prefix = draw(st.sampled_from((None, top, top - 1, top - 7, top - 8, top // 2, 0)))
    return address if prefix is None else f"{address}/{prefix}"


def _scenario_term(draw: st.DrawFn, own: str, names: tuple[str, ...]) -> str:
    kind = draw(
        st.sampled_from(("ip4", "ip6", "a", "mx", "include", "exists", "all", "bad", "chain"))
    )
    q = draw(qualifiers)
    others = tuple(n for n in names if n != own)  # include:<own name> is covered by loops
    target = st.sampled_from(names)
    if kind in ("ip4", "ip6"):
        return f"{q}{kind}:{_networks(draw, 4 if kind == 'ip4' else 6)}"
    if kind in ("a", "mx"):
        spec = draw(st.one_of(st.just(""), target.map(lambda n: ":" + n), st.just(":%{h}")))
        c4 = draw(st.sampled_from(("", "/32", "/31", "/24", "/16", "/0")))
        c6 = draw(st.sampled_from(("", "//128", "//64", "//48", "//0")))
        return f"{q}{kind}{spec}{c4}{c6}"
    if kind == "include":
        return f"{q}include:{draw(st.sampled_from((*others, TIMEOUT_NAME, 'nx.test')))}"
    if kind == "exists":
        choices = st.one_of(st.sampled_from(EXISTS_TEMPLATES), target)
        return f"{q}exists:{draw(choices)}"
    if kind == "chain":
        return f"{q}include:{draw(st.sampled_from(CHAIN[:4]))}"
    if kind == "bad":
        return draw(st.sampled_from(("ip4:192.0.2", "foo", "a:", "ip6:2001:db8::/129", "%{x}")))
    return f"{q}all"


def _record(draw: st.DrawFn, own: str, names: tuple[str, ...]) -> str:
    terms = draw(st.lists(st.just(None), max_size=5).map(len))
    body = [_scenario_term(draw, own, names) for _ in range(terms)]
    if draw(st.integers(0, 3)) == 0:
        body.append(f"redirect={draw(st.sampled_from(names))}")
    if draw(st.integers(0, 9)) == 0:
        body.append("exp=explain.test")
    return " ".join(["v=spf1", *body])


def _expansions(ip: str, local: str, domain: str, helo: str) -> list[str]:
    """Names the EXISTS_TEMPLATES expand to, for listing some of them in the zone."""
    address = ip_address(ip)
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.version == 4:
        i, v = str(address), "in-addr"
    else:
        i, v = ".".join(f"{int(address):032X}"), "ip6"
    reverse_i = ".".join(reversed(i.split(".")))
    return [
        f"{i}.e.test",
        f"{reverse_i}.{v}.e.test",
        f"{local}.e.test",
        f"{local.split('-', maxsplit=1)[0]}.e.test",
        domain,
        helo,
        f"{'.'.join(reverse_i.split('.')[-2:])}.e.test",
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A random zone over a small name pool, with loops, chains, voids and timeouts."""
    names = POOL
    zone: dict[str, list[Any]] = {}
    for name in names:
        # the names a check starts at (sender domain, HELO names) mostly publish a record
        shapes = ("spf",) * (12 if name in POOL[:3] else 3) + ("absent", "empty", "two", "txt")
        shape = draw(st.sampled_from(shapes))
        if shape == "absent":
            continue
        entries: list[Any] = []
        if shape in ("spf", "two"):
            entries.append({"TXT": _record(draw, name, names)})
        if shape == "two":
            entries.append({"TXT": _record(draw, name, names)})
        if shape == "txt":
            entries.append({"TXT": "google-site-verification=abc"})
        entries += [{"A": a} for a in draw(st.lists(st.sampled_from(HOSTS_V4), max_size=2))]
        entries += [{"AAAA": a} for a in draw(st.lists(st.sampled_from(HOSTS_V6), max_size=2))]
        mx_hosts = draw(st.lists(st.sampled_from(("mx1.test", "mx2.test")), max_size=2))
        entries += [{"MX": [10 * (n + 1), h]} for n, h in enumerate(mx_hosts)]
        if shape == "empty" and not entries:
            entries.append({"TXT": "v=spf1x not an spf record"})
        zone[name] = entries
    # MX exchanges always resolve for both families: pyspf also counts void A/AAAA lookups
    # of MX exchanges, which RFC 7208 4.6.4 does not (see test_mx_host_voids_are_not_terms).
    for host in ("mx1.test", "mx2.test"):
        zone[host] = [
            {"A": draw(st.sampled_from(HOSTS_V4))},
            {"AAAA": draw(st.sampled_from(HOSTS_V6))},
        ]
    chain_end = draw(st.integers(6, len(CHAIN) - 1))
    for n in range(chain_end):
        zone[CHAIN[n]] = [{"TXT": f"v=spf1 include:{CHAIN[n + 1]} ?all"}]
    zone[CHAIN[chain_end]] = [{"TXT": f"v=spf1 {_scenario_term(draw, CHAIN[-1], names)} -all"}]
    zone[TIMEOUT_NAME] = ["TIMEOUT"]
    zone["explain.test"] = [{"TXT": "denied %{i}"}]

    ip = draw(st.sampled_from(CLIENTS_V4 + CLIENTS_V6))
    local = draw(st.sampled_from(("user", "first-last", "postmaster", "a.b")))
    helo = draw(st.sampled_from((*POOL[1:3], *POOL[1:3], "helo.test")))
    mailfrom = draw(st.sampled_from((f"{local}@{SENDER_DOMAIN}", "")))
    domain = SENDER_DOMAIN if mailfrom else helo
    for name in draw(st.sets(st.sampled_from(_expansions(ip, local, domain, helo)), max_size=3)):
        zone.setdefault(name, []).append({"A": "127.0.0.2"})
    return Scenario(zone, ip, mailfrom, helo)
