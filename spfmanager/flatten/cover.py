"""Minimal first-match CIDR lists for an address partition.

Given, for one address family, which result every address must get (or "falls through"),
find the shortest list of ``[qualifier]ip4:``/``ip6:`` terms that, read first-match, gives
exactly that. Dynamic programming over the binary prefix trie: a node either splits into its
halves, or is covered by one term of some class placed *after* the more specific terms of
its halves (which then only need to express their exceptions to that class). This is exact
for prefix lists and lets ``-ip4:192.0.2.7 ip4:192.0.2.0/24`` replace eight CIDRs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spfmanager.spf.ranges import Segment
from spfmanager.spf.results import Result

EMITTABLE = (Result.PASS, Result.FAIL, Result.SOFTFAIL, Result.NEUTRAL)
_INFINITY = float("inf")
_MIXED = object()
_DONT_CARE = object()


@dataclass(frozen=True, slots=True)
class Cidr:
    """One emitted term: ``prefix`` bits of ``address`` get ``result``."""

    address: int
    prefix: int
    result: Result


Target = Result | None  # None: falls through to later terms


class Coverer:
    """Solves one family's partition for any default; subproblems are shared between defaults.

    ``segments`` are sorted and disjoint; addresses outside every segment are "don't care"
    (already decided earlier). A segment whose value is None falls through to later terms.
    """

    def __init__(self, segments: Sequence[Segment[Any]], bits: int) -> None:
        self.segments = segments
        self.bits = bits
        self._starts = [s.first for s in segments]
        self._memo: dict[tuple[int, int, Target], tuple[float, tuple[Cidr, ...]]] = {}

    def cover(self, default: Target) -> tuple[float, list[Cidr]]:
        """(cost, terms in emission order) when unmatched addresses get ``default``.

        The cost is infinite when ``default`` cannot express the partition (a fall-through
        range under a covering term).
        """
        cost, terms = self._solve(0, 0, default)
        return cost, list(terms)

    def _uniform(self, first: int, last: int) -> object:
        """The single value over [first, last], _DONT_CARE, or _MIXED."""
        segments = self.segments
        index = bisect_right(self._starts, first) - 1
        if index < 0 or segments[index].last < first:
            index += 1
        value: object = _DONT_CARE
        while index < len(segments) and segments[index].first <= last:
            seg_value: object = segments[index].value
            if value is _DONT_CARE:
                value = seg_value
            elif seg_value != value:
                return _MIXED
            index += 1
        return value

    def _solve(self, first: int, prefix: int, default: Target) -> tuple[float, tuple[Cidr, ...]]:
        key = (first, prefix, default)
        known = self._memo.get(key)
        if known is not None:
            return known
        last = first + (1 << (self.bits - prefix)) - 1
        value = self._uniform(first, last)
        best: tuple[float, tuple[Cidr, ...]]
        if value is _DONT_CARE or value == default:
            best = (0, ())
        elif value is None:
            best = (_INFINITY, ())
        elif value is not _MIXED:
            assert isinstance(value, Result)
            best = (1, (Cidr(first, prefix, value),))
        else:
            best = self._split(first, prefix, default)
        self._memo[key] = best
        return best

    def _split(self, first: int, prefix: int, default: Target) -> tuple[float, tuple[Cidr, ...]]:
        half = 1 << (self.bits - prefix - 1)
        left_cost, left = self._solve(first, prefix + 1, default)
        right_cost, right = self._solve(first + half, prefix + 1, default)
        best_cost, best = left_cost + right_cost, left + right
        for result in EMITTABLE:
            if result == default:
                continue
            inner_left_cost, inner_left = self._solve(first, prefix + 1, result)
            if 1 + inner_left_cost >= best_cost:
                continue
            inner_right_cost, inner_right = self._solve(first + half, prefix + 1, result)
            cost = 1 + inner_left_cost + inner_right_cost
            if cost < best_cost:
                best_cost = cost
                best = (*inner_left, *inner_right, Cidr(first, prefix, result))
        return best_cost, best


def cover(
    segments: Sequence[Segment[Target]], bits: int, default: Target
) -> tuple[float, list[Cidr]]:
    """Shorthand for ``Coverer(segments, bits).cover(default)``."""
    return Coverer(segments, bits).cover(default)
