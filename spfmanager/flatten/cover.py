"""Minimal first-match CIDR lists for an address partition, in a form every receiver reads alike.

Given, for one address family, which result every address must get (or "falls through"),
find the shortest list of ``[qualifier]ip4:``/``ip6:`` terms that, read first-match, gives
exactly that. Dynamic programming over the binary prefix trie: a node either splits into its
halves, or is covered by one term of some class placed *after* the more specific terms of
its halves (which then only need to express their exceptions to that class). This is exact
for prefix lists and lets ``-ip4:192.0.2.7 ip4:192.0.2.0/24`` replace eight CIDRs.

The terms are *portable*: real receivers misread two shapes the RFC allows, so a node of
either shape may only split, never be one term (the optimum is taken under that rule):

* a ``/0`` prefix (``ip4:0.0.0.0/0``, ``ip6:::/0``): libspf2 rejects it, mailauth mishandles
  it. :data:`MIN_PREFIX` is 1: the whole space is two ``/1`` terms, or the final ``all``.
* an ``ip6`` term overlapping ``::ffff:0:0/96`` (:data:`IPV4_MAPPED`): Mail::SPF matches
  IPv4 clients against ip6 terms as ``::ffff:a.b.c.d``. Those addresses are "don't care"
  for IPv6 results anyway (RFC 7208 5: an IPv4-mapped client is evaluated as IPv4), so no
  emitted ip6 term covers any of them and every receiver reads the same IPv4 results.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from spfmanager.errors import FlattenError
from spfmanager.flatten.decisions import BITS, Decisions
from spfmanager.spf.ranges import Segment, subtract_ranges
from spfmanager.spf.results import Qualifier, Result
from spfmanager.spf.terms import IP4, IP6, All, Mechanism

EMITTABLE = (Result.PASS, Result.FAIL, Result.SOFTFAIL, Result.NEUTRAL)
MIN_PREFIX = 1  # no /0: libspf2 rejects it (a syntax error, permerror), mailauth misreads it
IPV4_MAPPED = ((0xFFFF << 32), (0xFFFF << 32) | 0xFFFFFFFF)  # ::ffff:0:0/96 (RFC 4291 2.5.5.2)
FORBIDDEN: dict[int, tuple[tuple[int, int], ...]] = {128: (IPV4_MAPPED,)}  # by address width
_INFINITY = float("inf")
_MIXED = object()
_DONT_CARE = object()
_UNKNOWN = object()


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
    No term shorter than ``min_prefix`` is emitted, nor any term overlapping a ``forbidden``
    range (inclusive bounds; default :data:`FORBIDDEN` for the width, the IPv4-mapped
    range for IPv6), whose addresses become "don't care". ``min_prefix=0, forbidden=()``
    gives the unconstrained optimum.
    """

    def __init__(
        self,
        segments: Sequence[Segment[Any]],
        bits: int,
        *,
        min_prefix: int = MIN_PREFIX,
        forbidden: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        self.bits = bits
        self.min_prefix = min(min_prefix, bits)
        self.forbidden = tuple(FORBIDDEN.get(bits, ()) if forbidden is None else forbidden)
        self.segments = _cut(segments, self.forbidden) if self.forbidden else segments
        self._starts = [s.first for s in self.segments]
        self._memo: dict[tuple[int, int, Target], tuple[float, tuple[Cidr, ...]]] = {}
        self._around_memo: dict[tuple[int, int, Result], tuple[float, tuple[Cidr, ...]]] = {}
        self._values: dict[tuple[int, int], object] = {}

    def cover(self, default: Target) -> tuple[float, list[Cidr]]:
        """(cost, terms in emission order) when unmatched addresses get ``default``.

        The cost is infinite when ``default`` cannot express the partition (a fall-through
        range under a covering term).
        """
        cost, terms = self._solve(0, 0, default)
        return cost, list(terms)

    def _uniform(self, first: int, last: int) -> object:
        """The single value over [first, last], _DONT_CARE, or _MIXED (shared by defaults)."""
        key = (first, last)
        value = self._values.get(key, _UNKNOWN)
        if value is _UNKNOWN:
            value = self._values[key] = self._scan(first, last)
        return value

    def _scan(self, first: int, last: int) -> object:
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

    def _blocked(self, first: int, last: int, prefix: int) -> bool:
        """True when no single term may cover the node (too short, or overlapping)."""
        if prefix < self.min_prefix:
            return True
        if not self.forbidden:  # IPv4: no generator per node
            return False
        return any(low <= last and first <= high for low, high in self.forbidden)

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
        elif self._blocked(first, last, prefix):
            # A leaf is never blocked: it is either forbidden (don't care) or too long.
            if value is _MIXED:
                best = self._split(first, prefix, default, covering=False)
            else:
                assert isinstance(value, Result)
                best = self._around(first, prefix, value)
        elif value is not _MIXED:
            assert isinstance(value, Result)
            best = (1, (Cidr(first, prefix, value),))
        else:
            best = self._split(first, prefix, default, covering=True)
        self._memo[key] = best
        return best

    def _around(self, first: int, prefix: int, value: Result) -> tuple[float, tuple[Cidr, ...]]:
        """A blocked node whose addresses all get ``value`` (not the default): one term per
        largest block around what blocks it, whatever the default (so shared by all)."""
        key = (first, prefix, value)
        known = self._around_memo.get(key)
        if known is not None:
            return known
        half = 1 << (self.bits - prefix - 1)
        cost: float = 0
        terms: tuple[Cidr, ...] = ()
        for start in (first, first + half):
            last = start + half - 1
            if self._uniform(start, last) is _DONT_CARE:
                continue
            if self._blocked(start, last, prefix + 1):
                inner_cost, inner = self._around(start, prefix + 1, value)
            else:
                inner_cost, inner = 1, (Cidr(start, prefix + 1, value),)
            cost, terms = cost + inner_cost, terms + inner
        self._around_memo[key] = (cost, terms)
        return cost, terms

    def _split(
        self, first: int, prefix: int, default: Target, *, covering: bool
    ) -> tuple[float, tuple[Cidr, ...]]:
        half = 1 << (self.bits - prefix - 1)
        left_cost, left = self._solve(first, prefix + 1, default)
        right_cost, right = self._solve(first + half, prefix + 1, default)
        best_cost, best = left_cost + right_cost, left + right
        if not covering:
            return best_cost, best
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
    segments: Sequence[Segment[Target]],
    bits: int,
    default: Target,
    *,
    min_prefix: int = MIN_PREFIX,
    forbidden: Sequence[tuple[int, int]] | None = None,
) -> tuple[float, list[Cidr]]:
    """Shorthand for ``Coverer(segments, bits, ...).cover(default)``."""
    return Coverer(segments, bits, min_prefix=min_prefix, forbidden=forbidden).cover(default)


def cover_part(part: Decisions) -> list[Mechanism]:
    """The fewest portable terms for one address-only part; a total part ends with its
    best ``all`` (the default chosen for both families together)."""
    coverers = {v: Coverer(part.segments(v), BITS[v]) for v in (4, 6)}
    defaults: tuple[Target, ...] = EMITTABLE if part.total else (None,)
    best: tuple[float, list[Mechanism]] | None = None
    for default in defaults:
        solutions = {v: coverers[v].cover(default) for v in (4, 6)}
        cost = solutions[4][0] + solutions[6][0]
        if best is not None and cost >= best[0]:
            continue
        if cost == _INFINITY:
            raise FlattenError("internal error: a fall-through range cannot be expressed")
        terms = [cidr_mechanism(c, v) for v in (4, 6) for c in solutions[v][1]]
        if default is not None:
            terms.append(All(Qualifier.for_result(default)))
        best = (cost, terms)
    assert best is not None
    return best[1]


def cidr_mechanism(cidr: Cidr, version: int) -> Mechanism:
    """The ``ip4``/``ip6`` term for ``cidr`` (no prefix written for a single address)."""
    qualifier = Qualifier.for_result(cidr.result)
    if version == 4:
        prefix4 = None if cidr.prefix == 32 else cidr.prefix
        return IP4(qualifier, IPv4Address(cidr.address), prefix4)
    prefix6 = None if cidr.prefix == 128 else cidr.prefix
    return IP6(qualifier, IPv6Address(cidr.address), prefix6)


def _cut(segments: Sequence[Segment[Any]], ranges: Sequence[tuple[int, int]]) -> list[Segment[Any]]:
    """``segments`` without the addresses of ``ranges`` (which become "don't care")."""
    out: list[Segment[Any]] = []
    for segment in segments:
        pieces = subtract_ranges([(segment.first, segment.last)], ranges)
        out.extend(Segment(first, last, segment.value) for first, last in pieces)
    return out
