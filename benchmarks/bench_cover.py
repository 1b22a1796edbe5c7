"""Coverer benchmark: ``cover_part`` against the implementation it replaced, on a distinct fleet.

The fleet: 20 upstream services, each an include tree (``_spf`` including two names) with
3-8 random ip4 ranges (/16 to /28) and 1-3 ip6 ranges (/32 to /48); 1,000 domains, each
its own mix of 3-8 services plus its own ip4 /28, so no two partitions are equal but most
of their subtrees are the same services' ranges. The partitions come from the real
pipeline (:class:`~spfmanager.flatten.analyze.Analyzer` and
:func:`~spfmanager.flatten.decisions.normal_form` over a :class:`SnapshotResolver`).

Both implementations cover every partition in the same run; their outputs must be
identical. The new one is timed cold (its process-wide memo emptied first, as after a
daemon pass) and without sharing (memo emptied before every partition: the constant factors
alone). :class:`ReferenceCoverer` is the original code, verbatim, also used by
``tests/flatten/test_cover_equivalence.py``.

Run from the repository root::

    python -m benchmarks.bench_cover                 # 1,000 domains
    python -m benchmarks.bench_cover --domains 300 --seed 5 --json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import FlattenError
from spfmanager.flatten.analyze import Analyzer
from spfmanager.flatten.cover import (
    EMITTABLE,
    FORBIDDEN,
    MIN_PREFIX,
    Cidr,
    Target,
    _cut,
    cidr_mechanism,
    cover_part,
    forget_covers,
)
from spfmanager.flatten.decisions import BITS, Decisions, normal_form
from spfmanager.spf.parser import parse_record
from spfmanager.spf.ranges import Segment
from spfmanager.spf.results import Qualifier, Result
from spfmanager.spf.terms import All, Mechanism

ORIGIN = "cover.test"  # RFC 6761: never a real name
SERVICES = 20
DOMAINS = 1000
SEED = 7
OWN_NETWORK = 0x64400000  # 100.64.0.0/10 (RFC 6598): a /28 per domain
_INFINITY = float("inf")
_MIXED = object()
_DONT_CARE = object()
_UNKNOWN = object()


# -- the fleet ----------------------------------------------------------------------------------


def _ip4(rng: random.Random) -> str:
    prefix = rng.randint(16, 28)
    address = rng.getrandbits(32) >> (32 - prefix) << (32 - prefix)
    return f"ip4:{IPv4Address(address)}/{prefix}"


def _ip6(rng: random.Random) -> str:
    prefix = rng.randint(32, 48)
    address = (0x2000 << 112 | rng.getrandbits(125)) >> (128 - prefix) << (128 - prefix)
    return f"ip6:{IPv6Address(address)}/{prefix}"


def fleet(domains: int = DOMAINS, seed: int = SEED) -> tuple[dict[str, Any], list[str]]:
    """(zonedata of the services, each domain's record), deterministic for ``seed``."""
    rng = random.Random(seed)
    zone: dict[str, Any] = {}
    for index in range(1, SERVICES + 1):
        name = f"svc{index:02d}.{ORIGIN}"
        ranges = [_ip4(rng) for _ in range(rng.randint(3, 8))]
        ranges += [_ip6(rng) for _ in range(rng.randint(1, 3))]
        rng.shuffle(ranges)
        cut = len(ranges) // 2
        zone[f"_spf.{name}"] = [{"TXT": f"v=spf1 include:_a.{name} include:_b.{name} -all"}]
        zone[f"_a.{name}"] = [{"TXT": " ".join(["v=spf1", *ranges[:cut], "-all"])}]
        zone[f"_b.{name}"] = [{"TXT": " ".join(["v=spf1", *ranges[cut:], "-all"])}]
    records = []
    for number in range(domains):
        services = rng.sample(range(1, SERVICES + 1), rng.randint(3, 8))
        own = IPv4Address(OWN_NETWORK + 16 * number)
        terms = [f"include:_spf.svc{i:02d}.{ORIGIN}" for i in services]
        records.append(" ".join(["v=spf1", *terms, f"ip4:{own}/28", "-all"]))
    return zone, records


def partitions(domains: int = DOMAINS, seed: int = SEED) -> list[Decisions]:
    """Every address-only part of the fleet's normal forms."""
    zone, records = fleet(domains, seed)
    analyzer = Analyzer(SnapshotResolver(zone))
    parts: list[Decisions] = []
    for number, text in enumerate(records):
        program = analyzer.analyze(parse_record(text), f"d{number:05d}.example")
        parts.extend(p for p in normal_form(program) if isinstance(p, Decisions))
    return parts


# -- the reference implementation ---------------------------------------------------------------


class ReferenceCoverer:
    """The coverer as it was before its rewrite (spfmanager.flatten.cover, top-down DP over
    (node, default) with terms concatenated at every node), kept verbatim for comparison.

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


def reference_cover_part(part: Decisions) -> list[Mechanism]:
    """:func:`spfmanager.flatten.cover.cover_part` over :class:`ReferenceCoverer`."""
    coverers = {v: ReferenceCoverer(part.segments(v), BITS[v]) for v in (4, 6)}
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


# -- the run ------------------------------------------------------------------------------------


def _timed(
    function: Callable[[Decisions], list[Mechanism]],
    parts: Sequence[Decisions],
    before: Callable[[], None] | None = None,
) -> tuple[float, list[list[str]]]:
    outputs = []
    started = time.perf_counter()
    for part in parts:
        if before is not None:
            before()
        outputs.append(function(part))
    seconds = time.perf_counter() - started
    return seconds, [[t.render() for t in terms] for terms in outputs]


def run(domains: int = DOMAINS, seed: int = SEED) -> dict[str, Any]:
    """Time both implementations on one fleet; raise if their outputs differ."""
    parts = partitions(domains, seed)
    reference, expected = _timed(reference_cover_part, parts)
    forget_covers()
    cold, got = _timed(cover_part, parts)
    if got != expected:
        raise AssertionError("cover_part differs from the reference implementation")
    alone, got = _timed(cover_part, parts, before=forget_covers)
    if got != expected:
        raise AssertionError("cover_part (memo emptied each time) differs from the reference")
    forget_covers()
    return {
        "domains": domains,
        "partitions": len(parts),
        "terms": sum(len(terms) for terms in expected),
        "reference_seconds": round(reference, 4),
        "new_seconds": round(cold, 4),
        "new_unshared_seconds": round(alone, 4),
        "ratio": round(reference / cold, 2),
        "ratio_unshared": round(reference / alone, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=DOMAINS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    report = run(args.domains, args.seed)
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{report['partitions']} partitions ({report['domains']} domains, "
        f"{report['terms']} terms), identical output\n"
        f"  reference  {report['reference_seconds']:8.3f} s\n"
        f"  new        {report['new_seconds']:8.3f} s   x{report['ratio']}  (memo cold)\n"
        f"  new        {report['new_unshared_seconds']:8.3f} s   x{report['ratio_unshared']}"
        "  (memo emptied before each partition)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
