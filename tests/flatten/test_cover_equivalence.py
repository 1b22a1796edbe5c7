"""The coverer gives exactly what the implementation it replaced gave, memo warm or cold.

:class:`benchmarks.bench_cover.ReferenceCoverer` is the original top-down DP, verbatim. The
process-wide memo stays warm across examples (as across a daemon's domains), so these also
check that no solved node leaks into a partition whose content differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.bench_cover import ReferenceCoverer, partitions, reference_cover_part
from spfmanager.errors import FlattenError
from spfmanager.flatten import cover as cover_module
from spfmanager.flatten.cover import (
    IPV4_MAPPED,
    TARGETS,
    Coverer,
    Target,
    cover_part,
    forget_covers,
)
from spfmanager.flatten.decisions import Decided, Decisions
from spfmanager.spf.ranges import Segment
from spfmanager.spf.results import Result
from spfmanager.spf.terms import Mechanism


@st.composite
def segments(
    draw: st.DrawFn, bits: int, anchors: Sequence[int] = (), *, total: bool = False
) -> list[Segment[Decided]]:
    """Sorted disjoint segments over ``bits``, edges clustered near random bases and
    ``anchors`` (so the trie has deep mixed nodes); each segment gets a default or is a gap
    (don't care); a ``total`` part has no fall-through."""
    top = (1 << bits) - 1
    bases = [*anchors, *draw(st.lists(st.integers(0, top), min_size=1, max_size=3))]
    edges = {0}
    for base in bases:
        width = draw(st.integers(2, bits))  # how far the cluster spreads
        for _ in range(draw(st.integers(0, 12))):
            span = 1 << draw(st.integers(0, width))
            edges.add(min(top, max(0, base + draw(st.integers(-span, span)))))
    starts = sorted(edges)
    out: list[Segment[Decided]] = []
    values = TARGETS[1:] if total else TARGETS
    for first, after in zip(starts, [*starts[1:], top + 1], strict=True):
        if draw(st.integers(0, 5)):  # one in six: a gap
            out.append(Segment(first, after - 1, draw(st.sampled_from(values))))
    return out


@st.composite
def parts(draw: st.DrawFn) -> Decisions:
    total = draw(st.booleans())
    ipv4 = draw(segments(32, total=total))
    ipv6 = draw(segments(128, (IPV4_MAPPED[0], IPV4_MAPPED[1] + 1, 0x20010DB8 << 96), total=total))
    return Decisions(tuple(ipv4), tuple(ipv6), total)


def outcome(function: Callable[[Decisions], list[Mechanism]], part: Decisions) -> list[str] | str:
    try:
        return [t.render() for t in function(part)]
    except FlattenError as exc:
        return f"FlattenError: {exc}"


@contextmanager
def memo_limit(nodes: int) -> Iterator[None]:
    saved = cover_module.MEMO_NODES
    cover_module.MEMO_NODES = nodes
    try:
        yield
    finally:
        cover_module.MEMO_NODES = saved
        forget_covers()


@settings(max_examples=300, deadline=None)
@given(parts())
def test_cover_part_is_the_reference_one(part: Decisions) -> None:
    expected = outcome(reference_cover_part, part)
    assert outcome(cover_part, part) == expected  # memo warm from earlier examples
    forget_covers()
    assert outcome(cover_part, part) == expected  # cold


@st.composite
def small_spaces(
    draw: st.DrawFn,
) -> tuple[int, list[Segment[Target]], int, list[tuple[int, int]]]:
    """(bits, dense segments, min_prefix, forbidden ranges) in a space of at most 1,024."""
    bits = draw(st.integers(1, 10))
    top = (1 << bits) - 1
    edges = sorted({0, *draw(st.lists(st.integers(0, top), max_size=14))})
    segs: list[Segment[Target]] = []
    for first, after in zip(edges, [*edges[1:], top + 1], strict=True):
        if draw(st.integers(0, 9)):  # one in ten: a gap
            segs.append(Segment(first, after - 1, draw(st.sampled_from(TARGETS))))
    holes = draw(st.lists(st.tuples(st.integers(0, top), st.integers(0, 3)), max_size=2))
    forbidden = [(low, min(low + length, top)) for low, length in holes]
    return bits, segs, draw(st.integers(0, bits)), forbidden


@settings(max_examples=500, deadline=None)
@given(small_spaces())
def test_coverer_is_the_reference_one_for_every_default_and_rule(
    case: tuple[int, list[Segment[Target]], int, list[tuple[int, int]]],
) -> None:
    """Small spaces, any ``min_prefix`` and forbidden ranges: the same cost and terms for
    every default, infinite costs (and the terms given with them) included."""
    bits, segs, min_prefix, forbidden = case
    new = Coverer(segs, bits, min_prefix=min_prefix, forbidden=forbidden)
    old = ReferenceCoverer(segs, bits, min_prefix=min_prefix, forbidden=forbidden)
    for default in TARGETS:
        assert new.cover(default) == old.cover(default), default


def test_a_tiny_memo_evicts_without_changing_anything() -> None:
    fleet = partitions(domains=12, seed=3)
    expected = [outcome(reference_cover_part, part) for part in fleet]
    with memo_limit(16):
        assert [outcome(cover_part, part) for part in fleet] == expected
        assert len(cover_module._memo) <= 16


def test_a_fleet_is_covered_as_before_and_forgetting_empties_the_memo() -> None:
    fleet = partitions(domains=40, seed=5)
    forget_covers()
    assert [outcome(cover_part, p) for p in fleet] == [
        outcome(reference_cover_part, p) for p in fleet
    ]
    assert cover_module._memo
    forget_covers()
    assert not cover_module._memo


def test_a_part_of_one_result_is_its_all() -> None:
    part = Decisions((Segment(0, (1 << 32) - 1, Result.PASS),), (), total=True)
    assert outcome(cover_part, part) == ["+all"]
