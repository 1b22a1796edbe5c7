"""Static analysis of an SPF record into address-range semantics (the "resolve" stage).

A record is read as a sequence of parts, in evaluation order:

* :class:`Block` — a run of terms whose outcome depends only on the client address
  (ip4, ip6, all, and a, mx, include, redirect whose targets are known and static). Its
  segments map address ranges to the result of the first matching term; gaps fall through.
* :class:`Opaque` — a term whose outcome depends on more than the address (``exists``,
  ``ptr``, sender macros, an include reaching such a term, or a term the user keeps). It is
  kept verbatim and nothing may move across it.

The last part of a complete program is a total :class:`Block` (every address decided: by an
``all``, a static redirect, or the default ``neutral``) or an :class:`Opaque` redirect.

Lookup limits are deliberately not applied: the analysis gives the *intent*, what the record
means to authorize, which flattening must preserve while fixing its limits. The work is
bounded all the same, as upstream DNS may be hostile: includes and redirects nest at most
:data:`MAX_NESTING` deep, and a :class:`MeteredResolver` under the run's cache gives the
domain being flattened a :class:`Budget` of DNS queries and seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address

from spfmanager.dns.base import Answer, Resolver, RRType, normalize_name
from spfmanager.errors import DNSTemporaryError, FlattenError, SPFSyntaxError
from spfmanager.flatten.program import Block, Failure, Interval, Opaque, Part, Program, Value
from spfmanager.spf.evaluate import is_valid_domain, truncate_domain
from spfmanager.spf.limits import MAX_DNS_LOOKUPS, MAX_MX_NAMES
from spfmanager.spf.macros import Literal, MacroString, bind_letter, expand
from spfmanager.spf.parser import parse_record
from spfmanager.spf.ranges import Segment, first_match_segments, merge_adjacent
from spfmanager.spf.results import Result
from spfmanager.spf.select import select_record
from spfmanager.spf.terms import (
    IP4,
    IP6,
    MX,
    A,
    All,
    Exists,
    Include,
    Mechanism,
    Ptr,
    Record,
    Redirect,
)

log = logging.getLogger(__name__)

IPV4_MAX = (1 << 32) - 1
IPV6_MAX = (1 << 128) - 1
MAX_NESTING = 24  # include/redirect levels followed; receivers stop after 10 lookups anyway


def pin_domain(macro: MacroString | None, domain: str) -> MacroString:
    """The macro with the current domain pinned (``%{d}`` expanded, absent -> domain)."""
    if macro is None:
        return MacroString((Literal(domain, domain),))
    return bind_letter(macro, "d", domain)


class Analyzer:
    """Turns records into :class:`Program` values, resolving static targets through DNS."""

    def __init__(self, resolver: Resolver, *, keep: Iterable[str] = ()) -> None:
        self.resolver = resolver
        self.keep = frozenset(keep)
        self._notes: list[list[str]] = []  # one list per record being analysed
        self._programs: dict[str, Program] = {}
        self._lookups: dict[str, int] = {}

    # -- entry points ---------------------------------------------------------------------

    def analyze(self, record: Record, domain: str) -> Program:
        """The program of ``record`` as if published at ``domain``."""
        return self._analyze_record(record, normalize_name(domain), (normalize_name(domain),))

    def analyze_domain(self, domain: str, stack: tuple[str, ...] = ()) -> Program:
        """The program of the SPF record published at ``domain`` (cached per run)."""
        key = normalize_name(domain)
        if key in stack:
            chain = " -> ".join((*stack, key))
            return _failure_program(f"include/redirect loop: {chain}")
        _check_nesting(stack, key)
        cached = self._programs.get(key)
        if cached is not None:
            return cached
        fetched = self._fetch(key)
        if isinstance(fetched, Failure):
            program = _failure_program(fetched.reason, fetched.result)
        else:
            program = self._analyze_record(fetched, key, (*stack, key))
        self._programs[key] = program
        return program

    def worst_case_lookups(self, record: Record, domain: str, stack: tuple[str, ...] = ()) -> int:
        """DNS-querying terms a receiver may count evaluating ``record`` (RFC 7208 4.6.4)."""
        total = 0
        for mechanism in record.mechanisms:
            total += mechanism.lookups
            if isinstance(mechanism, Include):
                total += self._target_lookups(mechanism.domain, domain, stack)
        if record.redirect is not None and not record.has_all:
            total += 1 + self._target_lookups(record.redirect.domain, domain, stack)
        return total

    # -- records --------------------------------------------------------------------------

    def _fetch(self, domain: str) -> Record | Failure:
        answer = self._query(domain, RRType.TXT)
        if answer.nxdomain:
            return Failure(Result.PERMERROR, f"{domain} does not exist (NXDOMAIN)")
        selection = select_record(answer.records)
        record = selection.record
        if record is None:
            if not selection.records:
                return Failure(Result.PERMERROR, f"{domain} has no SPF record")
            return Failure(Result.PERMERROR, f"{domain} has {len(selection.records)} SPF records")
        try:
            return parse_record(record.data.decode("ascii"))
        except UnicodeDecodeError:
            return Failure(Result.PERMERROR, f"the SPF record of {domain} is not ASCII")
        except SPFSyntaxError as exc:
            return Failure(Result.PERMERROR, f"syntax error in the SPF record of {domain}: {exc}")

    def _note(self, message: str) -> None:
        if self._notes:
            self._notes[-1].append(message)

    def _analyze_record(self, record: Record, domain: str, stack: tuple[str, ...]) -> Program:
        self._notes.append([])
        try:
            parts = self._analyze_parts(record, domain, stack)
        finally:
            notes = self._notes.pop()
        return Program(parts, tuple(dict.fromkeys(notes)))

    def _uses(self, program: Program) -> Program:
        """Record that the current record reaches ``program`` (its notes become ours)."""
        if self._notes:
            self._notes[-1].extend(program.notes)
        return program

    def _analyze_parts(
        self, record: Record, domain: str, stack: tuple[str, ...]
    ) -> tuple[Part, ...]:
        parts: list[Part] = []
        run: list[Interval] = []
        for mechanism in record.mechanisms:
            if isinstance(mechanism, All):
                run.extend(_everything(mechanism.qualifier.result))
                parts.append(_block(run, total=True))
                return tuple(parts)
            intervals = self._static_intervals(mechanism, domain, stack)
            if isinstance(intervals, Opaque):
                if run:
                    parts.append(_block(run))
                    run = []
                parts.append(intervals)
                continue
            run.extend(intervals)
        redirect = record.redirect
        if redirect is None:
            run.extend(_everything(Result.NEUTRAL))
            parts.append(_block(run, total=True))
            return tuple(parts)
        target = self._static_target(redirect.domain, domain)
        reason = self._keep_reason(redirect.render(), target) or self._keep_reason(
            Redirect(pin_domain(redirect.domain, domain)).render(), target
        )
        if not reason:
            # A redirect is a tail call: when nothing matched, the target's terms decide.
            inner = self._uses(self.analyze_domain(target or "", stack))
            return _splice(parts, run, inner.parts, target or "")
        if run:
            parts.append(_block(run))
        pinned = Redirect(pin_domain(redirect.domain, domain))
        lookups = 1 + self._target_lookups(redirect.domain, domain, stack)
        parts.append(Opaque(pinned, reason, lookups))
        return tuple(parts)

    # -- mechanisms -----------------------------------------------------------------------

    def _static_intervals(
        self, mechanism: Mechanism, domain: str, stack: tuple[str, ...]
    ) -> list[Interval] | Opaque:
        if isinstance(mechanism, IP4 | IP6):
            first, last = mechanism.span()
            tag = _tag(4 if isinstance(mechanism, IP4) else 6)
            return [(tag + first, tag + last, mechanism.qualifier.result)]
        if isinstance(mechanism, Exists | Ptr):
            kind = "exists" if isinstance(mechanism, Exists) else "ptr"
            return self._opaque(
                mechanism, domain, stack, f"'{kind}' depends on more than the address"
            )
        if isinstance(mechanism, All):  # handled by the caller; here for the type checker
            return _everything(mechanism.qualifier.result)
        target = self._static_target(mechanism.domain, domain)
        reason = self._keep_reason(mechanism.render(), target) or self._keep_reason(
            _pin_mechanism(mechanism, domain).render(), target
        )
        if reason:
            return self._opaque(mechanism, domain, stack, reason)
        assert target is not None
        if isinstance(mechanism, A):
            return self._address_intervals(mechanism, target)
        if isinstance(mechanism, MX):
            return self._mx_intervals(mechanism, target)
        assert isinstance(mechanism, Include)
        inner = self._uses(self.analyze_domain(target, stack))
        if not inner.is_static:
            return self._opaque(mechanism, domain, stack, f"include:{target} is not static")
        block = inner.parts[0]
        assert isinstance(block, Block)
        return _include_intervals(block, mechanism, target)

    def _keep_reason(self, rendered: str, target: str | None) -> str:
        if rendered in self.keep:
            return "kept by configuration"
        if target is None:
            return "target depends on the sender or the client (macros)"
        return ""

    def _opaque(
        self, mechanism: Mechanism, domain: str, stack: tuple[str, ...], reason: str
    ) -> Opaque:
        pinned = _pin_mechanism(mechanism, domain)
        lookups = mechanism.lookups
        if isinstance(mechanism, Include):
            lookups += self._target_lookups(mechanism.domain, domain, stack)
        return Opaque(pinned, reason, lookups)

    def _address_intervals(self, mechanism: A, target: str) -> list[Interval]:
        result = mechanism.qualifier.result
        intervals: list[Interval] = []
        for rrtype, cidr in ((RRType.A, mechanism.cidr4), (RRType.AAAA, mechanism.cidr6)):
            answer = self._query(target, rrtype)
            if rrtype is RRType.A and answer.is_void:
                self._note(f"void lookup: {mechanism.render()}: {target} has no A record")
            intervals.extend(_host_intervals(answer.addresses(), cidr, result))
        return intervals

    def _mx_intervals(self, mechanism: MX, target: str) -> list[Interval]:
        answer = self._query(target, RRType.MX)
        exchanges = answer.exchanges()
        if answer.is_void:
            self._note(f"void lookup: {mechanism.render()}: {target} has no MX record")
        if len(exchanges) > MAX_MX_NAMES:
            reason = f"{target} has {len(exchanges)} MX records (limit {MAX_MX_NAMES})"
            return _everything(Failure(Result.PERMERROR, reason))
        result = mechanism.qualifier.result
        intervals: list[Interval] = []
        for exchange in exchanges:
            if exchange.exchange in ("", "."):
                continue
            for rrtype, cidr in ((RRType.A, mechanism.cidr4), (RRType.AAAA, mechanism.cidr6)):
                addresses = self._query(exchange.exchange, rrtype).addresses()
                intervals.extend(_host_intervals(addresses, cidr, result))
        return intervals

    # -- helpers --------------------------------------------------------------------------

    def _static_target(self, macro: MacroString | None, domain: str) -> str | None:
        """The target name when it depends on nothing but the current domain."""
        if macro is None:
            return domain
        if macro.letters - {"d"}:
            return None
        name = truncate_domain(expand(pin_domain(macro, domain), _NoMacros()))
        return normalize_name(name)

    def _target_lookups(
        self, macro: MacroString | None, domain: str, stack: tuple[str, ...]
    ) -> int:
        target = self._static_target(macro, domain)
        if target is None or not is_valid_domain(target) or target in stack:
            return 0
        key = target
        _check_nesting(stack, key)
        if key not in self._lookups:
            fetched = self._fetch(target)
            self._lookups[key] = (
                0
                if isinstance(fetched, Failure)
                else self.worst_case_lookups(fetched, target, (*stack, target))
            )
        return self._lookups[key]

    def _query(self, name: str, rrtype: RRType) -> Answer:
        try:
            return self.resolver.query(name, rrtype)
        except DNSTemporaryError as exc:
            raise FlattenError(
                f"DNS error resolving {name} {rrtype.value} ({exc}); "
                "keeping the last good record until upstream answers again",
                transient=True,
            ) from None


def _check_nesting(stack: tuple[str, ...], target: str) -> None:
    """Refuse to follow includes and redirects deeper than :data:`MAX_NESTING`."""
    if len(stack) > MAX_NESTING:
        raise FlattenError(
            f"includes and redirects nest more than {MAX_NESTING} levels deep below "
            f"{stack[0]} (at {target}); receivers stop after {MAX_DNS_LOOKUPS} DNS lookups"
        )


class _NoMacros:
    def macro_value(self, letter: str) -> str:
        raise AssertionError(f"macro %{{{letter}}} should have been pinned")


def _pin_mechanism(mechanism: Mechanism, domain: str) -> Mechanism:
    """The same term with the current domain made explicit, so it may move to another record."""
    if isinstance(mechanism, A | MX | Ptr | Include | Exists):
        return replace(mechanism, domain=pin_domain(mechanism.domain, domain))
    return mechanism


def _everything(value: Value) -> list[Interval]:
    """Every IPv4 and every IPv6 address."""
    return [(_V4_TAG, _V4_TAG + IPV4_MAX, value), (_V6_TAG, _V6_TAG + IPV6_MAX, value)]


# Both families share one integer line in the interval lists: IPv6 at [0, 2^128), IPv4
# shifted above it. _block() splits them back apart.
_V6_TAG = 0
_V4_TAG = 1 << 129


def _tag(version: int) -> int:
    return _V4_TAG if version == 4 else _V6_TAG


def _host_intervals(
    addresses: Sequence[IPv4Address | IPv6Address], cidr: int | None, value: Value
) -> list[Interval]:
    intervals: list[Interval] = []
    for address in addresses:
        bits = address.max_prefixlen
        prefix = bits if cidr is None else cidr
        size = 1 << (bits - prefix)
        first = int(address) & ~(size - 1)
        tag = _tag(address.version)
        intervals.append((tag + first, tag + first + size - 1, value))
    return intervals


def _include_intervals(block: Block, include: Include, target: str) -> list[Interval]:
    intervals: list[Interval] = []
    for version in (4, 6):
        tag = _tag(version)
        for segment in block.segments(version):
            value: Value | None = None
            if isinstance(segment.value, Failure):
                value = Failure(segment.value.result, f"include:{target}: {segment.value.reason}")
            elif segment.value is Result.PASS:
                value = include.qualifier.result
            if value is not None:
                intervals.append((tag + segment.first, tag + segment.last, value))
    return intervals


def _splice(
    parts: list[Part], run: list[Interval], inner: Sequence[Part], target: str
) -> tuple[Part, ...]:
    """Append a redirect target's parts; the pending run merges with its first block."""
    relabelled = [_relabel(part, target) for part in inner]
    first = relabelled[0] if relabelled else None
    if isinstance(first, Block):
        merged = _block([*run, *_block_intervals(first)], total=first.total)
        return (*parts, merged, *relabelled[1:])
    head = [_block(run)] if run else []
    return (*parts, *head, *relabelled)


def _relabel(part: Part, target: str) -> Part:
    if not isinstance(part, Block) or not part.failures():
        return part

    def fix(segments: tuple[Segment[Value], ...]) -> tuple[Segment[Value], ...]:
        return tuple(
            Segment(
                s.first,
                s.last,
                Failure(s.value.result, f"redirect={target}: {s.value.reason}")
                if isinstance(s.value, Failure)
                else s.value,
            )
            for s in segments
        )

    return Block(fix(part.ipv4), fix(part.ipv6), part.total)


def _block_intervals(block: Block) -> list[Interval]:
    return [
        (_tag(version) + s.first, _tag(version) + s.last, s.value)
        for version in (4, 6)
        for s in block.segments(version)
    ]


def _block(intervals: list[Interval], *, total: bool = False) -> Block:
    v4: list[Segment[Value]] = []
    v6: list[Segment[Value]] = []
    for segment in first_match_segments(intervals):
        if segment.first >= _V4_TAG:
            v4.append(Segment(segment.first - _V4_TAG, segment.last - _V4_TAG, segment.value))
        else:
            v6.append(segment)
    return Block(tuple(merge_adjacent(v4)), tuple(merge_adjacent(v6)), total)


def _failure_program(reason: str, result: Result = Result.PERMERROR) -> Program:
    return Program((_block(_everything(Failure(result, reason)), total=True),))
