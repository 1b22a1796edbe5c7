"""The normal form of a :class:`~spfmanager.flatten.analyze.Program`: what each part still decides.

Two records are equivalent exactly when their normal forms are equal: the same kept terms
in the same order, and between them the same result for every address not already decided
by an earlier part. Flattening encodes this form; verification compares it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spfmanager.flatten.program import Failure, Opaque, Program, Value
from spfmanager.spf.ranges import Segment, merge_adjacent, merge_ranges
from spfmanager.spf.results import Result

BITS = {4: 32, 6: 128}

Decided = Value | None  # None: falls through to the next part


@dataclass(frozen=True)
class Decisions:
    """Per family, sorted disjoint segments over the addresses still undecided at this point.

    Addresses decided by earlier parts are absent ("don't care").
    """

    ipv4: tuple[Segment[Decided], ...]
    ipv6: tuple[Segment[Decided], ...]
    total: bool

    def segments(self, version: int) -> tuple[Segment[Decided], ...]:
        return self.ipv4 if version == 4 else self.ipv6

    def failures(self) -> list[Failure]:
        values = [s.value for s in (*self.ipv4, *self.ipv6)]
        return list(dict.fromkeys(v for v in values if isinstance(v, Failure)))


NormalPart = Decisions | Opaque


def normal_form(program: Program) -> list[NormalPart]:
    """Drop unreachable and empty parts, merge adjacent address-only parts.

    Once every address is decided the form ends (its last part is total): no address
    reaches a later part, kept terms included.
    """
    everything = {v: [(0, (1 << BITS[v]) - 1)] for v in (4, 6)}
    decided: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    out: list[NormalPart] = []
    for part in program.parts:
        if isinstance(part, Opaque):
            out.append(part)
            continue
        current = {v: _undecided(_fill(part.segments(v), BITS[v]), decided[v]) for v in (4, 6)}
        if not any(s.value is not None for v in (4, 6) for s in current[v]):
            continue
        previous = out[-1] if out else None
        if isinstance(previous, Decisions):
            out.pop()
            current = {v: _combine(previous.segments(v), current[v]) for v in (4, 6)}
        for v in (4, 6):
            newly = [(s.first, s.last) for s in current[v] if s.value is not None]
            decided[v] = merge_ranges([*decided[v], *newly])
        total = part.total or decided == everything
        out.append(Decisions(tuple(current[4]), tuple(current[6]), total))
        if total:
            break
    return out


def _fill(segments: Sequence[Segment[Value]], bits: int) -> list[Segment[Decided]]:
    """Make gaps explicit as fall-through segments over the whole family."""
    out: list[Segment[Decided]] = []
    position = 0
    for segment in segments:
        if segment.first > position:
            out.append(Segment(position, segment.first - 1, None))
        out.append(Segment(segment.first, segment.last, segment.value))
        position = segment.last + 1
    end = (1 << bits) - 1
    if position <= end:
        out.append(Segment(position, end, None))
    return out


def _undecided(
    segments: list[Segment[Decided]], decided: list[tuple[int, int]]
) -> list[Segment[Decided]]:
    """The parts of ``segments`` outside the (merged, sorted) ``decided`` ranges."""
    out: list[Segment[Decided]] = []
    index = 0
    for segment in segments:
        first = segment.first
        while index < len(decided) and decided[index][1] < first:
            index += 1
        probe = index
        while first <= segment.last:
            if probe < len(decided) and decided[probe][0] <= first:
                first = max(first, decided[probe][1] + 1)
                probe += 1
                continue
            stop = segment.last
            if probe < len(decided) and decided[probe][0] <= segment.last:
                stop = decided[probe][0] - 1
            out.append(Segment(first, stop, segment.value))
            first = stop + 1
    return merge_adjacent(out)


def _combine(
    earlier: Sequence[Segment[Decided]], later: Sequence[Segment[Decided]]
) -> list[Segment[Decided]]:
    """Merge consecutive address-only parts: earlier decisions win, later fill its gaps."""
    kept = [s for s in earlier if s.value is not None]
    return merge_adjacent(sorted([*kept, *later], key=lambda s: s.first))


def passing_ranges(form: Sequence[NormalPart], version: int) -> list[tuple[int, int]]:
    """The inclusive integer ranges of one family that the address-only parts give ``pass``."""
    return [
        (s.first, s.last)
        for part in form
        if isinstance(part, Decisions)
        for s in part.segments(version)
        if s.value is Result.PASS
    ]


def passing_addresses(form: Sequence[NormalPart]) -> dict[int, int]:
    """Per address family, how many addresses the address-only parts give ``pass``."""
    counts = {4: 0, 6: 0}
    for part in form:
        if isinstance(part, Decisions):
            for version in (4, 6):
                counts[version] += sum(
                    s.last - s.first + 1 for s in part.segments(version) if s.value is Result.PASS
                )
    return counts
