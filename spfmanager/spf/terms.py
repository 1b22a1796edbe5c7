"""The typed, immutable terms of an SPF record (RFC 7208 sections 5 and 6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from spfmanager.spf.macros import MacroString
from spfmanager.spf.results import Qualifier

VERSION = "v=spf1"  # RFC 7208 4.5


def _qualifier_prefix(qualifier: Qualifier) -> str:
    return "" if qualifier is Qualifier.PASS else qualifier.value


def _span(address: int, bits: int, prefix: int | None) -> tuple[int, int]:
    size = 1 << (bits - (bits if prefix is None else prefix))
    first = address & ~(size - 1)
    return first, first + size - 1


def _render_host(
    name: str,
    qualifier: Qualifier,
    domain: MacroString | None,
    cidr4: int | None,
    cidr6: int | None,
) -> str:
    """``a`` and ``mx``: ``[q]name[:domain][/cidr4][//cidr6]``."""
    target = "" if domain is None else f":{domain.render()}"
    cidr = ("" if cidr4 is None else f"/{cidr4}") + ("" if cidr6 is None else f"//{cidr6}")
    return f"{_qualifier_prefix(qualifier)}{name}{target}{cidr}"


@dataclass(frozen=True, slots=True)
class All:
    """``all``: always matches (5.1)."""

    qualifier: Qualifier = Qualifier.PASS
    lookups = 0

    def render(self) -> str:
        return f"{self.qualifier.value}all"  # "+all" spelled out: it authorizes everyone


@dataclass(frozen=True, slots=True)
class Include:
    """``include:domain``: matches when the target evaluates to pass (5.2)."""

    qualifier: Qualifier
    domain: MacroString
    lookups = 1

    def render(self) -> str:
        return f"{_qualifier_prefix(self.qualifier)}include:{self.domain.render()}"


@dataclass(frozen=True, slots=True)
class A:
    """``a[:domain][/cidr4][//cidr6]`` (5.3)."""

    qualifier: Qualifier = Qualifier.PASS
    domain: MacroString | None = None
    cidr4: int | None = None
    cidr6: int | None = None
    lookups = 1

    def render(self) -> str:
        return _render_host("a", self.qualifier, self.domain, self.cidr4, self.cidr6)


@dataclass(frozen=True, slots=True)
class MX:
    """``mx[:domain][/cidr4][//cidr6]`` (5.4)."""

    qualifier: Qualifier = Qualifier.PASS
    domain: MacroString | None = None
    cidr4: int | None = None
    cidr6: int | None = None
    lookups = 1

    def render(self) -> str:
        return _render_host("mx", self.qualifier, self.domain, self.cidr4, self.cidr6)


@dataclass(frozen=True, slots=True)
class Ptr:
    """``ptr[:domain]`` (5.5), deprecated: "SHOULD NOT be used"."""

    qualifier: Qualifier = Qualifier.PASS
    domain: MacroString | None = None
    lookups = 1

    def render(self) -> str:
        target = "" if self.domain is None else f":{self.domain.render()}"
        return f"{_qualifier_prefix(self.qualifier)}ptr{target}"


@dataclass(frozen=True, slots=True)
class IP4:
    """``ip4:address[/prefix]`` (5.6). ``address`` keeps any host bits as written."""

    qualifier: Qualifier
    address: IPv4Address
    prefix: int | None = None
    lookups = 0

    @property
    def network(self) -> IPv4Network:
        return IPv4Network((self.address, 32 if self.prefix is None else self.prefix), False)

    def span(self) -> tuple[int, int]:
        """The inclusive integer range covered (no network object: this is a hot path)."""
        return _span(int(self.address), 32, self.prefix)

    def render(self) -> str:
        cidr = "" if self.prefix is None else f"/{self.prefix}"
        return f"{_qualifier_prefix(self.qualifier)}ip4:{self.address}{cidr}"


@dataclass(frozen=True, slots=True)
class IP6:
    """``ip6:address[/prefix]`` (5.6)."""

    qualifier: Qualifier
    address: IPv6Address
    prefix: int | None = None
    lookups = 0

    @property
    def network(self) -> IPv6Network:
        return IPv6Network((self.address, 128 if self.prefix is None else self.prefix), False)

    def span(self) -> tuple[int, int]:
        """The inclusive integer range covered."""
        return _span(int(self.address), 128, self.prefix)

    def render(self) -> str:
        cidr = "" if self.prefix is None else f"/{self.prefix}"
        return f"{_qualifier_prefix(self.qualifier)}ip6:{self.address.compressed}{cidr}"


@dataclass(frozen=True, slots=True)
class Exists:
    """``exists:domain``: matches when the name has an A record (5.7)."""

    qualifier: Qualifier
    domain: MacroString
    lookups = 1

    def render(self) -> str:
        return f"{_qualifier_prefix(self.qualifier)}exists:{self.domain.render()}"


Mechanism = All | Include | A | MX | Ptr | IP4 | IP6 | Exists
IPMechanism = IP4 | IP6


@dataclass(frozen=True, slots=True)
class Redirect:
    """``redirect=domain`` (6.1)."""

    domain: MacroString
    lookups = 1

    def render(self) -> str:
        return f"redirect={self.domain.render()}"


@dataclass(frozen=True, slots=True)
class Explanation:
    """``exp=domain`` (6.2)."""

    domain: MacroString
    lookups = 0

    def render(self) -> str:
        return f"exp={self.domain.render()}"


@dataclass(frozen=True, slots=True)
class UnknownModifier:
    """Any other ``name=value``: ignored by evaluation (6)."""

    name: str
    value: MacroString
    lookups = 0

    def render(self) -> str:
        return f"{self.name}={self.value.render()}"


Modifier = Redirect | Explanation | UnknownModifier
Term = Mechanism | Modifier
MECHANISM_TYPES = (All, Include, A, MX, Ptr, IP4, IP6, Exists)


@dataclass(frozen=True)
class Record:
    """A parsed SPF record: its terms in the order written."""

    terms: tuple[Term, ...]
    source: str = field(default="", compare=False)

    @cached_property
    def mechanisms(self) -> tuple[Mechanism, ...]:
        return tuple(t for t in self.terms if isinstance(t, MECHANISM_TYPES))

    @cached_property
    def redirect(self) -> Redirect | None:
        return next((t for t in self.terms if isinstance(t, Redirect)), None)

    @cached_property
    def explanation(self) -> Explanation | None:
        return next((t for t in self.terms if isinstance(t, Explanation)), None)

    @property
    def lookups(self) -> int:
        """DNS-querying terms of this record alone (not counting what they reach)."""
        redirect = 0 if self.redirect is None or self.has_all else 1
        return sum(m.lookups for m in self.mechanisms) + redirect

    @property
    def has_all(self) -> bool:
        return any(isinstance(m, All) for m in self.mechanisms)

    def render(self) -> str:
        """Canonical text: ``v=spf1`` and the terms separated by single spaces."""
        return " ".join((VERSION, *(t.render() for t in self.terms)))

    def __str__(self) -> str:
        return self.render()
