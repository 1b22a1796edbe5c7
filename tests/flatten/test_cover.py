"""The coverer (:class:`spfmanager.flatten.cover.Coverer`): fewest first-match CIDR terms.

Every solution is checked by reading its terms back, first match first, into address ranges
and comparing them with the partition asked for; minimality against a brute-force search
over every term list on small address spaces, and on known cases at full width. These tests
exercise the unconstrained optimum (``min_prefix=0, forbidden=()``) where a /0 matters;
the portable rules (no /0, no ip6 term over ::ffff:0:0/96) are tested in test_portable.py.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from spfmanager.flatten.cover import EMITTABLE, Cidr, Coverer, Target, cover
from spfmanager.spf.ranges import FirstMatchMap, Segment
from spfmanager.spf.results import Result

DONT_CARE = "don't care"
TARGETS: tuple[Target, ...] = (None, *EMITTABLE)
Required = Target | str  # a result, None (falls through) or DONT_CARE
UNCONSTRAINED: dict[str, Any] = {"min_prefix": 0, "forbidden": ()}  # /0 allowed, no holes


def span(cidr: Cidr, bits: int) -> tuple[int, int]:
    return cidr.address, cidr.address + (1 << (bits - cidr.prefix)) - 1


def read_back(
    cidrs: Sequence[Cidr], bits: int, default: Target, first: int, last: int
) -> set[Target]:
    """The values receivers get over [first, last] from ``cidrs`` then ``default``."""
    found: set[Target] = set()
    position = first
    for segment in FirstMatchMap((*span(c, bits), c.result) for c in cidrs).segments():
        if segment.last < first or segment.first > last:
            continue
        if segment.first > position:
            found.add(default)  # a gap no term matches
        found.add(segment.value)
        position = segment.last + 1
    if position <= last:
        found.add(default)
    return found


def check_exact(
    segments: Sequence[Segment[Target]], bits: int, default: Target, cost: float, cidrs: list[Cidr]
) -> None:
    """``cidrs`` then ``default`` give every segment exactly its value."""
    if math.isinf(cost):
        return  # inexpressible: the terms mean nothing (the flattener refuses)
    assert cost == len(cidrs)
    for cidr in cidrs:
        assert 0 <= cidr.prefix <= bits and cidr.result in EMITTABLE
        assert cidr.address % (1 << (bits - cidr.prefix)) == 0  # a real prefix
    for segment in segments:
        assert read_back(cidrs, bits, default, segment.first, segment.last) == {segment.value}


def cidr_count(first: int, last: int, bits: int) -> int:
    """How many CIDR blocks cover exactly [first, last] (the naive encoding)."""
    count = 0
    while first <= last:
        size = first & -first if first else 1 << bits
        while first + size - 1 > last:
            size >>= 1
        first += size
        count += 1
    return count


def segments_of(required: Sequence[Required]) -> list[Segment[Target]]:
    """Per-address requirements as sorted disjoint segments (runs merged, don't-cares left out)."""
    out: list[Segment[Target]] = []
    for address, value in enumerate(required):
        if value == DONT_CARE:
            continue
        if out and out[-1].last == address - 1 and out[-1].value == value:
            out[-1] = Segment(out[-1].first, address, out[-1].value)
        else:
            out.append(Segment(address, address, value))
    return out


def fewest_terms(
    required: Sequence[Required],
    bits: int,
    default: Target,
    *,
    min_prefix: int = 0,
    forbidden: tuple[int, int] | None = None,
) -> float:
    """Breadth-first search over every first-match list of prefix terms: the true minimum.

    ``min_prefix`` and ``forbidden`` (addresses no term may cover, whose results do not
    matter) restrict the terms as the portable form does.
    """
    size = 1 << bits
    undecided = "undecided"
    nodes = [
        (first, first + (1 << (bits - prefix)) - 1)
        for prefix in range(min_prefix, bits + 1)
        for first in range(0, size, 1 << (bits - prefix))
    ]
    if forbidden is not None:
        nodes = [(lo, hi) for lo, hi in nodes if hi < forbidden[0] or lo > forbidden[1]]
    hole = set() if forbidden is None else set(range(forbidden[0], forbidden[1] + 1))

    def accepted(state: tuple[Any, ...]) -> bool:
        return all(
            address in hole or want in (DONT_CARE, default if got == undecided else got)
            for address, (got, want) in enumerate(zip(state, required, strict=True))
        )

    start = (undecided,) * size
    seen = {start}
    queue = deque([(start, 0)])
    while queue:
        state, depth = queue.popleft()
        if accepted(state):
            return depth
        for low, high in nodes:
            for result in EMITTABLE:
                new = list(state)
                changed = False
                for address in range(low, high + 1):
                    if new[address] != undecided:
                        continue
                    if required[address] not in (DONT_CARE, result):
                        break  # first match: this address could never be put right
                    new[address] = result
                    changed = True
                else:
                    following = tuple(new)
                    if changed and following not in seen:
                        seen.add(following)
                        queue.append((following, depth + 1))
    return math.inf


# -- known cases ---------------------------------------------------------------------------------

BASE = (192 << 24) | (2 << 8)  # 192.0.2.0


def around_24(excluded: Required, rest: Required) -> list[Segment[Target]]:
    """192.0.2.0/24 passes except 192.0.2.7; ``rest`` of IPv4 outside it."""
    segments: list[Segment[Target]] = []
    if rest != DONT_CARE:
        segments.append(Segment(0, BASE - 1, rest))
    segments.append(Segment(BASE, BASE + 6, Result.PASS))
    if excluded != DONT_CARE:
        segments.append(Segment(BASE + 7, BASE + 7, excluded))
    segments.append(Segment(BASE + 8, BASE + 255, Result.PASS))
    if rest != DONT_CARE:
        segments.append(Segment(BASE + 256, (1 << 32) - 1, rest))
    return segments


def test_a_24_minus_one_failing_address_is_an_exclusion_before_the_24() -> None:
    segments = around_24(Result.FAIL, Result.FAIL)
    cost, cidrs = Coverer(segments, 32).cover(Result.FAIL)  # the record ends with -all
    assert (cost, cidrs) == (2, [Cidr(BASE + 7, 32, Result.FAIL), Cidr(BASE, 24, Result.PASS)])
    # Outside the /24 nothing is decided yet: the same two terms.
    segments = around_24(Result.FAIL, DONT_CARE)
    cost, cidrs = cover(segments, 32, None)
    assert (cost, cidrs) == (2, [Cidr(BASE + 7, 32, Result.FAIL), Cidr(BASE, 24, Result.PASS)])


def test_a_24_minus_one_falling_through_address_needs_every_block() -> None:
    segments = around_24(None, DONT_CARE)  # .7 must reach the later terms: no term may match it
    cost, cidrs = cover(segments, 32, None)
    assert cost == 8 == cidr_count(BASE, BASE + 6, 32) + cidr_count(BASE + 8, BASE + 255, 32)
    check_exact(segments, 32, None, cost, cidrs)
    assert all(not (c.address <= BASE + 7 <= span(c, 32)[1]) for c in cidrs)


def test_a_24_minus_an_address_nobody_cares_about_is_one_term() -> None:
    segments = around_24(DONT_CARE, DONT_CARE)
    cost, cidrs = cover(segments, 32, None)
    assert cost == 1  # the /24, or any block holding it: nothing else is asked for
    check_exact(segments, 32, None, cost, cidrs)
    segments = around_24(DONT_CARE, Result.FAIL)
    assert cover(segments, 32, Result.FAIL) == (1, [Cidr(BASE, 24, Result.PASS)])


def test_each_default_gives_its_own_cheapest_list() -> None:
    # 8-bit space: 0..15 neutral, the rest fail.
    segments = [Segment(0, 15, Result.NEUTRAL), Segment(16, 255, Result.FAIL)]
    coverer = Coverer(segments, 8, **UNCONSTRAINED)
    assert coverer.cover(Result.FAIL) == (1, [Cidr(0, 4, Result.NEUTRAL)])
    for default in (None, Result.PASS, Result.SOFTFAIL, Result.NEUTRAL):
        cost, cidrs = coverer.cover(default)
        assert (cost, cidrs) == (2, [Cidr(0, 4, Result.NEUTRAL), Cidr(0, 0, Result.FAIL)]), default
        check_exact(segments, 8, default, cost, cidrs)
    # Portable (the default): no /0, so the failing rest is two /1s around the exception.
    portable = Coverer(segments, 8)
    assert portable.cover(Result.FAIL) == (1, [Cidr(0, 4, Result.NEUTRAL)])
    for default in (None, Result.PASS, Result.SOFTFAIL, Result.NEUTRAL):
        cost, cidrs = portable.cover(default)
        expected = [Cidr(0, 4, Result.NEUTRAL), Cidr(0, 1, Result.FAIL), Cidr(128, 1, Result.FAIL)]
        assert (cost, cidrs) == (3, expected), default
        check_exact(segments, 8, default, cost, cidrs)


def test_a_fall_through_range_cannot_sit_under_a_default() -> None:
    segments = [Segment(0, 127, Result.PASS), Segment(128, 129, None)]
    coverer = Coverer(segments, 8)
    assert coverer.cover(None) == (1, [Cidr(0, 1, Result.PASS)])
    for default in EMITTABLE:
        assert coverer.cover(default)[0] == math.inf


def test_nothing_to_cover_costs_nothing() -> None:
    for default in TARGETS:
        assert cover([], 32, default) == (0, [])
    assert cover([Segment(0, 255, Result.SOFTFAIL)], 8, Result.SOFTFAIL) == (0, [])


def test_ipv6_exceptions_nest_inside_their_block() -> None:
    block = 0x20010DB8 << 96  # 2001:db8::/48
    inner = block | (0x1234 << 64)  # 2001:db8:0:1234::/64
    segments = [
        Segment(block, inner - 1, Result.FAIL),
        Segment(inner, inner + (1 << 64) - 1, Result.PASS),
        Segment(inner + (1 << 64), block + (1 << 80) - 1, Result.FAIL),
    ]
    cost, cidrs = cover(segments, 128, None)
    assert (cost, cidrs) == (2, [Cidr(inner, 64, Result.PASS), Cidr(block, 48, Result.FAIL)])


# -- properties ----------------------------------------------------------------------------------

REQUIRED = st.sampled_from([*EMITTABLE, None, DONT_CARE])


@st.composite
def small_spaces(draw: st.DrawFn) -> tuple[list[Required], int, Target]:
    bits = draw(st.integers(1, 3))
    required = draw(st.lists(REQUIRED, min_size=1 << bits, max_size=1 << bits))
    return required, bits, draw(st.sampled_from(TARGETS))


@settings(max_examples=300, deadline=None)
@given(small_spaces())
def test_the_cover_is_exact_and_minimal_on_small_spaces(
    case: tuple[list[Required], int, Target],
) -> None:
    required, bits, default = case
    segments = segments_of(required)
    cost, cidrs = Coverer(segments, bits, **UNCONSTRAINED).cover(default)
    check_exact(segments, bits, default, cost, cidrs)
    assert cost == fewest_terms(required, bits, default)


@st.composite
def wide_spaces(draw: st.DrawFn) -> tuple[list[Segment[Target]], int, Target]:
    bits = draw(st.sampled_from([8, 32, 128]))
    bounds = sorted(draw(st.sets(st.integers(0, 1 << bits), min_size=2, max_size=10)))
    segments: list[Segment[Target]] = []
    for first, following in pairwise(bounds):
        value = draw(REQUIRED)
        if value != DONT_CARE:
            segments.append(Segment(first, following - 1, value))
    return segments, bits, draw(st.sampled_from(TARGETS))


@settings(max_examples=200, deadline=None)
@given(wide_spaces())
def test_the_cover_is_exact_and_never_worse_than_the_plain_blocks(
    case: tuple[list[Segment[Target]], int, Target],
) -> None:
    segments, bits, default = case
    cost, cidrs = Coverer(segments, bits, **UNCONSTRAINED).cover(default)
    expressible = default is None or all(s.value is not None for s in segments)
    assert math.isinf(cost) != expressible
    check_exact(segments, bits, default, cost, cidrs)
    if expressible:
        plain = sum(cidr_count(s.first, s.last, bits) for s in segments if s.value != default)
        assert cost <= plain


@settings(max_examples=100, deadline=None)
@given(wide_spaces())
def test_one_coverer_answers_every_default_as_fresh_ones_do(
    case: tuple[list[Segment[Target]], int, Target],
) -> None:
    segments, bits, _ = case
    shared = Coverer(segments, bits)
    answers = {default: shared.cover(default) for default in TARGETS}
    for default in reversed(TARGETS):
        assert Coverer(segments, bits).cover(default) == answers[default]
