"""Integer address ranges: first-match maps and CIDR covers.

IPv4 and IPv6 addresses are handled as integers in their own spaces; a range is an
inclusive ``(first, last)`` pair. The evaluator compiles runs of ip4/ip6 terms into a
:class:`FirstMatchMap`, and the flattener uses the same maps to build partitions.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, summarize_address_range
from typing import Generic, TypeVar

V = TypeVar("V")
IPV4_BITS = 32
IPV6_BITS = 128


@dataclass(frozen=True, slots=True)
class Segment(Generic[V]):
    first: int
    last: int
    value: V


class FirstMatchMap(Generic[V]):
    """Maps each integer to the value of the first interval (in input order) covering it."""

    __slots__ = ("_lasts", "_starts", "_values")

    def __init__(self, intervals: Iterable[tuple[int, int, V]]) -> None:
        segments = list(first_match_segments(intervals))
        self._starts = [s.first for s in segments]
        self._lasts = [s.last for s in segments]
        self._values = [s.value for s in segments]

    def lookup(self, point: int) -> V | None:
        index = bisect_right(self._starts, point) - 1
        if index >= 0 and point <= self._lasts[index]:
            return self._values[index]
        return None

    def segments(self) -> Iterator[Segment[V]]:
        for first, last, value in zip(self._starts, self._lasts, self._values, strict=True):
            yield Segment(first, last, value)

    def __len__(self) -> int:
        return len(self._starts)


def first_match_segments(intervals: Iterable[tuple[int, int, V]]) -> Iterator[Segment[V]]:
    """Disjoint, sorted segments where each point carries the earliest covering interval's value.

    Adjacent segments coming from the same interval are merged.
    """
    items = list(intervals)
    events: list[tuple[int, int, int]] = []  # (position, kind 0=start 1=end, index)
    for index, (first, last, _) in enumerate(items):
        events.append((first, 0, index))
        events.append((last + 1, 1, index))
    events.sort()
    active: list[int] = []
    ended: set[int] = set()
    current_start: int | None = None
    current_index: int | None = None
    position = 0
    i = 0
    while i < len(events):
        position = events[i][0]
        while i < len(events) and events[i][0] == position:
            _, kind, index = events[i]
            if kind == 0:
                heapq.heappush(active, index)
            else:
                ended.add(index)
            i += 1
        while active and active[0] in ended:
            heapq.heappop(active)
        winner = active[0] if active else None
        if winner != current_index:
            if current_index is not None and current_start is not None:
                yield Segment(current_start, position - 1, items[current_index][2])
            current_start, current_index = position, winner


def merge_adjacent(segments: Iterable[Segment[V]]) -> list[Segment[V]]:
    """Join sorted segments that touch and carry the same value."""
    merged: list[Segment[V]] = []
    for segment in segments:
        previous = merged[-1] if merged else None
        if previous and previous.last + 1 == segment.first and previous.value == segment.value:
            merged[-1] = Segment(previous.first, segment.last, segment.value)
        else:
            merged.append(segment)
    return merged


def network_range(network: IPv4Network | IPv6Network) -> tuple[int, int]:
    """The inclusive integer range of a network."""
    first = int(network.network_address)
    return first, first + network.num_addresses - 1


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and merge overlapping or adjacent ranges."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def range_networks(
    ranges: Iterable[tuple[int, int]], version: int
) -> list[IPv4Network | IPv6Network]:
    """The fewest CIDR networks covering inclusive integer ``ranges`` of one address family."""
    make = IPv4Address if version == 4 else IPv6Address
    return [
        network
        for first, last in merge_ranges(ranges)
        for network in summarize_address_range(make(first), make(last))
    ]


def subtract_ranges(
    ranges: Iterable[tuple[int, int]], cuts: Iterable[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The parts of inclusive ``ranges`` outside every one of ``cuts``, in order."""
    left = list(ranges)
    for low, high in cuts:
        kept: list[tuple[int, int]] = []
        for first, last in left:
            if last < low or first > high:
                kept.append((first, last))
                continue
            if first < low:
                kept.append((first, low - 1))
            if last > high:
                kept.append((high + 1, last))
        left = kept
    return left
