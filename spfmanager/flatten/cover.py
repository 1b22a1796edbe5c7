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

Each trie node is solved once for every default together, keeping only its choices; the
terms are rebuilt for the chosen default alone. Solved nodes holding few segments are kept
in a bounded process-wide memo keyed by their content, so the subtrees that many domains'
partitions share (the same upstream ranges) are solved once; :func:`forget_covers` empties it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
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
MEMO_SEGMENTS = 8  # nodes over at most this many segments are memoized (cheap keys)
MEMO_NODES = 1 << 14  # solved nodes kept in the process-wide memo
_INFINITY = float("inf")


@dataclass(frozen=True, slots=True)
class Cidr:
    """One emitted term: ``prefix`` bits of ``address`` get ``result``."""

    address: int
    prefix: int
    result: Result


Target = Result | None  # None: falls through to later terms
TARGETS: tuple[Target, ...] = (None, *EMITTABLE)  # the defaults a Coverer solves for
_INDEX = {target: index for index, target in enumerate(TARGETS)}
_SPLIT = -1  # a node's choice: its halves, each for the same default
_SPLITS = (_SPLIT,) * len(TARGETS)


class _Mark(Enum):
    DONT_CARE = "don't care"  # a node without any segment


_DONT_CARE = _Mark.DONT_CARE
# A uniform node that may be one term is its value (a Result), None (falls through) or
# _DONT_CARE, not a _Node: most nodes are leaves, and their terms follow from their place.
_Leaf = Result | None | _Mark
_LEAF_COSTS: dict[_Leaf, tuple[float, ...]] = {
    _DONT_CARE: (0,) * len(TARGETS),
    None: (0,) + (_INFINITY,) * len(EMITTABLE),
    **{value: tuple(0 if t == value else 1 for t in TARGETS) for value in Result},
}


class _Node:
    """A solved node: per default (indexed as :data:`TARGETS`), its cost and its choice,
    :data:`_SPLIT` or the index of the result of the one term placed after its halves."""

    __slots__ = ("choices", "costs", "first", "left", "mid", "prefix", "right", "terms")

    def __init__(
        self,
        costs: tuple[float, ...],
        choices: tuple[int, ...],
        first: int,
        mid: int,
        prefix: int,
        left: _Node | _Leaf,
        right: _Node | _Leaf,
    ) -> None:
        self.costs = costs
        self.choices = choices
        self.first = first
        self.mid = mid  # where the right half starts
        self.prefix = prefix
        self.left = left
        self.right = right
        self.terms: list[tuple[Cidr, ...] | None] = [None] * len(TARGETS)  # built on demand


_memo: dict[tuple[Any, ...], _Node] = {}  # content key -> solved node (shared by all coverers)


def forget_covers() -> None:
    """Empty the process-wide memo of solved nodes, as the daemon does after a pass so
    that rotating upstream ranges do not accumulate in memory."""
    _memo.clear()


def _recall(key: tuple[Any, ...]) -> _Node | None:
    known = _memo.pop(key, None)
    if known is not None:
        _memo[key] = known  # now the most recently used
    return known


def _remember(key: tuple[Any, ...], node: _Node) -> None:
    _memo[key] = node
    if len(_memo) > MEMO_NODES:  # drop the least recently used half (amortized O(1))
        kept = list(_memo.items())[len(_memo) // 2 :]
        _memo.clear()
        _memo.update(kept)


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
        self._root: _Node | _Leaf | None = None
        self._solved = False

    def cover(self, default: Target) -> tuple[float, list[Cidr]]:
        """(cost, terms in emission order) when unmatched addresses get ``default``
        (None or one of :data:`EMITTABLE`).

        The cost is infinite when ``default`` cannot express the partition (a fall-through
        range under a covering term).
        """
        return self.cost(default), self.terms(default)

    def cost(self, default: Target) -> float:
        """The number of terms :meth:`cover` gives (infinite: ``default`` cannot do)."""
        root, target = self._root_node(), _INDEX[default]
        return root.costs[target] if isinstance(root, _Node) else _LEAF_COSTS[root][target]

    def terms(self, default: Target) -> list[Cidr]:
        """The terms :meth:`cover` gives, in emission order."""
        root, target = self._root_node(), _INDEX[default]
        if isinstance(root, _Node):
            return list(_terms(root, target))
        return list(_leaf_terms(root, 0, 0, target))

    def _root_node(self) -> _Node | _Leaf:
        if not self._solved:
            self._root = _Solver(self).solve()
            self._solved = True
        return self._root


class _Solver:
    """One depth-first pass over a coverer's trie, solving each node for every default at once."""

    def __init__(self, coverer: Coverer) -> None:
        segments = coverer.segments
        self.bits = coverer.bits
        self.min_prefix = coverer.min_prefix
        self.forbidden = coverer.forbidden
        self.context = (coverer.bits, coverer.min_prefix, coverer.forbidden)
        self.firsts = [s.first for s in segments]
        self.lasts = [s.last for s in segments]
        self.values = tuple(s.value for s in segments)
        self.bounds = tuple(b for s in segments for b in (s.first, s.last))
        # run[i]: the last index of the run of equal values starting at segment i.
        run = list(range(len(segments)))
        for index in range(len(segments) - 2, -1, -1):
            if self.values[index] == self.values[index + 1]:
                run[index] = run[index + 1]
        self.run = run

    def solve(self) -> _Node | _Leaf:
        return self._child(0, 0, 0, len(self.firsts))

    def _blocked(self, first: int, prefix: int) -> bool:
        """True when no single term may cover the node (too short, or overlapping)."""
        if prefix < self.min_prefix:
            return True
        if not self.forbidden:
            return False
        last = first + (1 << (self.bits - prefix)) - 1
        return any(low <= last and first <= high for low, high in self.forbidden)

    def _key(self, first: int, prefix: int, low: int, high: int) -> tuple[Any, ...] | None:
        """The node's content (its segments, clipped to it), or None when it has too many."""
        if high - low > MEMO_SEGMENTS:
            return None
        last = first + (1 << (self.bits - prefix)) - 1
        return (
            self.context,
            first,
            prefix,
            max(self.firsts[low], first),
            min(self.lasts[high - 1], last),
            self.bounds[2 * low + 1 : 2 * high - 1],
            self.values[low:high],
        )

    def _child(self, first: int, prefix: int, low: int, high: int) -> _Node | _Leaf:
        """The node over segments[low:high] (those it meets), solved."""
        if low == high:
            return _DONT_CARE
        if self.run[low] < high - 1:
            return self._mixed(first, prefix, low, high)
        value = self.values[low]
        if value is None:
            return None
        assert isinstance(value, Result)
        if self._blocked(first, prefix):
            # A leaf is never blocked: it is either forbidden (don't care) or too long.
            return self._around_node(first, prefix, low, high, value)
        return value

    def _halves(self, first: int, prefix: int, low: int, high: int) -> tuple[int, int, int]:
        """Where the right half starts, and the end and start of the halves' segments."""
        mid = first + (1 << (self.bits - prefix - 1))
        return (
            mid,
            bisect_left(self.firsts, mid, low, high),
            bisect_left(self.lasts, mid, low, high),
        )

    def _mixed(self, first: int, prefix: int, low: int, high: int) -> _Node:
        key = self._key(first, prefix, low, high)
        known = None if key is None else _recall(key)
        if known is not None:
            return known
        mid, left_high, right_low = self._halves(first, prefix, low, high)
        left = self._child(first, prefix + 1, low, left_high)
        right = self._child(mid, prefix + 1, right_low, high)
        l0, l1, l2, l3, l4 = left.costs if isinstance(left, _Node) else _LEAF_COSTS[left]
        r0, r1, r2, r3, r4 = right.costs if isinstance(right, _Node) else _LEAF_COSTS[right]
        s0, s1, s2, s3, s4 = l0 + r0, l1 + r1, l2 + r2, l3 + r3, l4 + r4
        if self._blocked(first, prefix):
            node = _Node((s0, s1, s2, s3, s4), _SPLITS, first, mid, prefix, left, right)
        else:
            # One term of the cheapest class (the first in EMITTABLE order on ties) after
            # the halves solved for that class; only worth it below a default's own split
            # (never for that class itself: its split costs one less).
            best, choice = s1, 1
            if s2 < best:  # in EMITTABLE order: PASS, FAIL, SOFTFAIL, NEUTRAL
                best, choice = s2, 2
            if s3 < best:
                best, choice = s3, 3
            if s4 < best:
                best, choice = s4, 4
            cost = best + 1
            if cost < s0 or cost < s1 or cost < s2 or cost < s3 or cost < s4:
                sums = (s0, s1, s2, s3, s4)
                costs = tuple([cost if cost < s else s for s in sums])
                choices = tuple([choice if cost < s else _SPLIT for s in sums])
                node = _Node(costs, choices, first, mid, prefix, left, right)
            else:
                node = _Node((s0, s1, s2, s3, s4), _SPLITS, first, mid, prefix, left, right)
        if key is not None:
            _remember(key, node)
        return node

    def _around_node(self, first: int, prefix: int, low: int, high: int, value: Result) -> _Node:
        """A blocked node whose addresses all get ``value``: for any other default, one
        term per largest block around what blocks it."""
        key = self._key(first, prefix, low, high)
        known = None if key is None else _recall(key)
        if known is not None:
            return known
        cost, terms = self._around(first, prefix, low, high, value)
        node = _Node(
            tuple(0 if t == value else cost for t in TARGETS),
            _SPLITS,
            first,
            first,
            prefix,
            _DONT_CARE,
            _DONT_CARE,
        )
        node.terms = [() if t == value else terms for t in TARGETS]
        if key is not None:
            _remember(key, node)
        return node

    def _around(
        self, first: int, prefix: int, low: int, high: int, value: Result
    ) -> tuple[float, tuple[Cidr, ...]]:
        mid, left_high, right_low = self._halves(first, prefix, low, high)
        cost: float = 0
        terms: tuple[Cidr, ...] = ()
        for start, start_low, start_high in ((first, low, left_high), (mid, right_low, high)):
            if start_low == start_high:  # don't care
                continue
            if self._blocked(start, prefix + 1):
                inner_cost, inner = self._around(start, prefix + 1, start_low, start_high, value)
            else:
                inner_cost, inner = 1, (Cidr(start, prefix + 1, value),)
            cost, terms = cost + inner_cost, terms + inner
        return cost, terms


def _terms(node: _Node, target: int) -> tuple[Cidr, ...]:
    """The terms of ``node``'s solution for the default ``TARGETS[target]``."""
    known = node.terms[target]
    if known is not None:
        return known
    choice = node.choices[target]
    inner = target if choice == _SPLIT else choice
    left, right, prefix = node.left, node.right, node.prefix + 1
    terms = (
        _terms(left, inner)
        if isinstance(left, _Node)
        else _leaf_terms(left, node.first, prefix, inner)
    )
    terms += (
        _terms(right, inner)
        if isinstance(right, _Node)
        else _leaf_terms(right, node.mid, prefix, inner)
    )
    if choice != _SPLIT:
        result = TARGETS[choice]
        assert result is not None
        terms += (Cidr(node.first, node.prefix, result),)
    node.terms[target] = terms
    return terms


def _leaf_terms(leaf: _Leaf, first: int, prefix: int, target: int) -> tuple[Cidr, ...]:
    if leaf is None or leaf is _DONT_CARE or leaf == TARGETS[target]:
        return ()
    assert isinstance(leaf, Result)
    return (Cidr(first, prefix, leaf),)


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
    best: tuple[float, Target] | None = None
    for default in defaults:
        cost = coverers[4].cost(default) + coverers[6].cost(default)
        if best is not None and cost >= best[0]:
            continue
        if cost == _INFINITY:
            raise FlattenError("internal error: a fall-through range cannot be expressed")
        best = (cost, default)
    assert best is not None
    chosen = best[1]
    terms = [cidr_mechanism(c, v) for v in (4, 6) for c in coverers[v].terms(chosen)]
    if chosen is not None:
        terms.append(All(Qualifier.for_result(chosen)))
    return terms


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
