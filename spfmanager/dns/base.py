"""The resolver interface the evaluator and the flattener use, and its answer types."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Protocol, runtime_checkable


class RRType(StrEnum):
    """The record types SPF processing asks for."""

    A = "A"
    AAAA = "AAAA"
    MX = "MX"
    TXT = "TXT"
    PTR = "PTR"
    CNAME = "CNAME"


@dataclass(frozen=True, slots=True)
class MXRecord:
    preference: int
    exchange: str


@dataclass(frozen=True, slots=True)
class TXTRecord:
    """One TXT record: its character-strings as received (each at most 255 bytes on the wire)."""

    strings: tuple[bytes, ...]
    data: bytes = field(init=False, compare=False, repr=False)  # joined (RFC 7208 3.3)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", b"".join(self.strings))


RData = IPv4Address | IPv6Address | MXRecord | TXTRecord | str


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to one query. Empty ``records`` is NODATA, or NXDOMAIN when ``nxdomain``."""

    name: str
    rrtype: RRType
    records: tuple[RData, ...] = ()
    nxdomain: bool = False
    ttl: int = 0

    @property
    def is_void(self) -> bool:
        """No records: a "void lookup" in RFC 7208 4.6.4 terms."""
        return not self.records

    def addresses(self) -> list[IPv4Address | IPv6Address]:
        return [r for r in self.records if isinstance(r, IPv4Address | IPv6Address)]

    def exchanges(self) -> list[MXRecord]:
        return [r for r in self.records if isinstance(r, MXRecord)]

    def texts(self) -> list[TXTRecord]:
        return [r for r in self.records if isinstance(r, TXTRecord)]

    def names(self) -> list[str]:
        return [r for r in self.records if isinstance(r, str)]


@runtime_checkable
class Resolver(Protocol):
    """Answers DNS queries; raises DNSTemporaryError for timeouts and server failures."""

    def query(self, name: str, rrtype: RRType) -> Answer: ...


@runtime_checkable
class TimedResolver(Resolver, Protocol):
    """A resolver that can bound the time of one query (the live resolver can)."""

    def query_within(self, name: str, rrtype: RRType, seconds: float) -> Answer:
        """Like ``query``, raising DNSTemporaryError after at most ``seconds``."""
        ...


def query_within(resolver: Resolver, name: str, rrtype: RRType, seconds: float) -> Answer:
    """``resolver.query(name, rrtype)``, given at most ``seconds`` when ``resolver`` can
    bound its queries (others answer from memory, or bound themselves)."""
    if isinstance(resolver, TimedResolver):
        return resolver.query_within(name, rrtype, seconds)
    return resolver.query(name, rrtype)


def normalize_name(name: str) -> str:
    """Lower-case, without the trailing dot: the form names are compared in."""
    return name.rstrip(".").lower()


def in_zone(name: str, zone: str) -> bool:
    """``name`` is ``zone`` or a name beneath it (both in :func:`normalize_name` form)."""
    return name == zone or name.endswith(f".{zone}")
