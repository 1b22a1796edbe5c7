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
from functools import lru_cache

from spfmanager.ranges import Segment
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


def cover(
    segments: Sequence[Segment[Target]], bits: int, default: Target
) -> tuple[float, list[Cidr]]:
    """Terms (in emission order) realizing ``segments`` when unmatched addresses get ``default``.

    Addresses outside every segment are "don't care" (already decided earlier).
    Returns (cost, terms); cost is infinite when ``default`` cannot express the partition
    (a fall-through range under a covering term).
    """
    starts = [s.first for s in segments]

    def uniform(first: int, last: int) -> object:
        """The single value over [first, last], _DONT_CARE, or _MIXED."""
        index = bisect_right(starts, first) - 1
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

    @lru_cache(maxsize=None)
    def solve(first: int, prefix: int, default: Target) -> tuple[float, tuple[Cidr, ...]]:
        last = first + (1 << (bits - prefix)) - 1
        value = uniform(first, last)
        if value is _DONT_CARE or value == default:
            return 0, ()
        if value is not _MIXED:
            if value is None:
                return _INFINITY, ()
            assert isinstance(value, Result)
            return 1, (Cidr(first, prefix, value),)
        half = 1 << (bits - prefix - 1)
        left_cost, left = solve(first, prefix + 1, default)
        right_cost, right = solve(first + half, prefix + 1, default)
        best_cost, best = left_cost + right_cost, left + right
        for result in EMITTABLE:
            if result == default:
                continue
            inner_left_cost, inner_left = solve(first, prefix + 1, result)
            if 1 + inner_left_cost >= best_cost:
                continue
            inner_right_cost, inner_right = solve(first + half, prefix + 1, result)
            cost = 1 + inner_left_cost + inner_right_cost
            if cost < best_cost:
                best_cost = cost
                best = (*inner_left, *inner_right, Cidr(first, prefix, result))
        return best_cost, best

    cost, terms = solve(0, 0, default)
    solve.cache_clear()
    return cost, list(terms)
