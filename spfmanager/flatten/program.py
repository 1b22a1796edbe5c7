"""The flatten stage's intermediate values: what a record means, part by part.

A record is read (:mod:`spfmanager.flatten.analyze`) into a :class:`Program`: a sequence of
:class:`Block` parts (address-only terms as address ranges mapped to results) and
:class:`Opaque` parts (terms kept as written). A :class:`Failure` stands for an address range
at which receivers would get an error, and says why, for people and for programs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from spfmanager.errors import RefusalCause
from spfmanager.spf.ranges import Segment
from spfmanager.spf.results import Result
from spfmanager.spf.terms import Mechanism, Redirect


@dataclass(frozen=True, slots=True)
class Failure:
    """An address range for which receivers would get an error (e.g. a broken include).

    ``name`` is the DNS name at fault (a missing or broken upstream record, an unanswered
    query); ``via`` the ``include:``/``redirect=`` hops from the analysed record down to it.
    """

    result: Result
    reason: str
    cause: RefusalCause = RefusalCause.INTENT_ERROR
    name: str = ""
    via: tuple[str, ...] = ()

    def through(self, hop: str) -> Failure:
        """The same failure reached one ``include:``/``redirect=`` hop further up."""
        return replace(self, via=(hop, *self.via))

    @property
    def message(self) -> str:
        """The hops (each named once: a loop repeats them) and the reason."""
        return ": ".join((*dict.fromkeys(self.via), self.reason))


Value = Result | Failure
Interval = tuple[int, int, Value]


@dataclass(frozen=True)
class Block:
    """Address-only terms: per family, disjoint sorted segments; gaps fall through."""

    ipv4: tuple[Segment[Value], ...]
    ipv6: tuple[Segment[Value], ...]
    total: bool = False

    def segments(self, version: int) -> tuple[Segment[Value], ...]:
        return self.ipv4 if version == 4 else self.ipv6

    def failures(self) -> list[Failure]:
        found = [s.value for s in (*self.ipv4, *self.ipv6) if isinstance(s.value, Failure)]
        return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Opaque:
    """A term kept as written (with the current domain pinned), and why.

    ``failures`` are what makes it impossible to publish as it is: a loop or an unanswered
    query among the records it reaches (its worst-case ``lookups`` are then unknown).
    ``voids`` are the most void lookups (RFC 7208 4.6.4) it may cost an IPv4 and an IPv6
    client, including everything it reaches.
    """

    term: Mechanism | Redirect
    reason: str
    lookups: int  # worst case, including everything it reaches
    failures: tuple[Failure, ...] = ()
    voids: tuple[int, int] = (0, 0)


Part = Block | Opaque


@dataclass(frozen=True)
class Program:
    parts: tuple[Part, ...]
    notes: tuple[str, ...] = field(default=(), compare=False)  # e.g. void lookups inside
    # Terms that look dynamic but were resolved at build time (an ``exists:`` of a fixed name).
    resolved: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_static(self) -> bool:
        """True when the whole record is one total address-only block."""
        return len(self.parts) == 1 and isinstance(self.parts[0], Block)

    def failures(self) -> list[Failure]:
        return [f for p in self.parts if isinstance(p, Block) for f in p.failures()]
