"""The flatten stage's intermediate values: what a record means, part by part.

A record is read (:mod:`spfmanager.flatten.analyze`) into a :class:`Program`: a sequence of
:class:`Block` parts (address-only terms as address ranges mapped to results) and
:class:`Opaque` parts (terms kept as written). A :class:`Failure` stands for an address range
at which receivers would get an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spfmanager.spf.ranges import Segment
from spfmanager.spf.results import Result
from spfmanager.spf.terms import Mechanism, Redirect


@dataclass(frozen=True, slots=True)
class Failure:
    """An address range for which receivers would get an error (e.g. a broken include)."""

    result: Result
    reason: str


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
    """A term kept as written (with the current domain pinned), and why."""

    term: Mechanism | Redirect
    reason: str
    lookups: int  # worst case, including everything it reaches


Part = Block | Opaque


@dataclass(frozen=True)
class Program:
    parts: tuple[Part, ...]
    notes: tuple[str, ...] = field(default=(), compare=False)  # e.g. void lookups inside

    @property
    def is_static(self) -> bool:
        """True when the whole record is one total address-only block."""
        return len(self.parts) == 1 and isinstance(self.parts[0], Block)

    def failures(self) -> list[Failure]:
        return [f for p in self.parts if isinstance(p, Block) for f in p.failures()]
