"""Static analysis of an SPF record into address-range semantics (the "resolve" stage).

A record is read as a sequence of parts, in evaluation order:

* :class:`Block` — a run of terms whose outcome depends only on the client address
  (ip4, ip6, all, and a, mx, include, redirect whose targets are known and static). Its
  segments map address ranges to the result of the first matching term; gaps fall through.
* :class:`Opaque` — a term whose outcome depends on more than the address (``ptr``, an
  ``exists`` or a target with sender macros, an include reaching such a term, or a term the
  user keeps). It is kept verbatim and nothing may move across it. An ``exists:`` of a fixed
  name is a constant, resolved like an ``a`` term: it matches every address or none.

The last part of a complete program is a total :class:`Block` (every address decided: by an
``all``, a static redirect, or the default ``neutral``) or an :class:`Opaque` redirect.

Lookup limits are deliberately not applied: the analysis gives the *intent*, what the record
means to authorize, which flattening must preserve while fixing its limits. What receivers
would get an error for is a :class:`Failure` value over the addresses that reach it: a
broken upstream record, a loop, or a query DNS did not answer (temperror). Terms no
address can reach (after every address is decided) are neither resolved nor judged.

The work is bounded, as upstream DNS may be hostile: includes and redirects are followed
:data:`MAX_NESTING` levels deep, where the bundled evaluator stops too (a failure below:
receivers get permerror), and a :class:`MeteredResolver` under the run's cache gives the
domain being flattened a :class:`Budget` of DNS queries and seconds, past which the
analysis raises its FlattenError.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address

from spfmanager.dns.base import Answer, Resolver, RRType, normalize_name
from spfmanager.errors import DNSTemporaryError, RefusalCause, SPFSyntaxError
from spfmanager.flatten.program import Block, Failure, Interval, Opaque, Part, Program, Value
from spfmanager.spf.evaluate import is_valid_domain, truncate_domain
from spfmanager.spf.limits import MAX_DEPTH, MAX_MX_NAMES
from spfmanager.spf.macros import Literal, MacroString, bind_letter, expand
from spfmanager.spf.parser import parse_record
from spfmanager.spf.ranges import Segment, first_match_segments, merge_adjacent, merge_ranges
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
# Include/redirect levels followed below the analysed record, as the bundled evaluator does
# (receivers keeping RFC 7208's 10 lookups stop sooner).
MAX_NESTING = MAX_DEPTH


def pin_domain(macro: MacroString | None, domain: str) -> MacroString:
    """The macro with the current domain pinned (``%{d}`` expanded, absent -> domain)."""
    if macro is None:
        return MacroString((Literal(domain, domain),))
    return bind_letter(macro, "d", domain)


@dataclass(frozen=True, slots=True)
class _Reached:
    """What a kept term reaches: its worst-case lookups, and why they may be unknown."""

    lookups: int
    failures: tuple[Failure, ...] = ()  # loops and unanswered queries on the way
    height: int = 0  # include/redirect levels followed below
    limited: bool = False  # cut at MAX_NESTING: true of this depth only


@dataclass(slots=True)
class _Found:
    """What the analysis of one record noticed besides its parts."""

    notes: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    height: int = 0  # include/redirect levels followed below
    limited: bool = False  # cut at MAX_NESTING somewhere below: true of this depth only


class Analyzer:
    """Turns records into :class:`Program` values, resolving static targets through DNS."""

    def __init__(self, resolver: Resolver, *, keep: Iterable[str] = ()) -> None:
        self.resolver = resolver
        self.keep = frozenset(keep)
        self._found: list[_Found] = []  # one per record being analysed
        # A name's analysis holds at any depth from which it stays within MAX_NESTING; one
        # cut by the nesting limit holds at its depth only.
        self._programs: dict[str, tuple[Program, int]] = {}  # name -> (program, height)
        self._cut_programs: dict[tuple[str, int], tuple[Program, int]] = {}
        self._reached: dict[str, _Reached] = {}
        self._cut_reached: dict[tuple[str, int], _Reached] = {}
        self._voids: dict[str, Voids] = {}

    # -- entry points ---------------------------------------------------------------------

    def analyze(self, record: Record, domain: str) -> Program:
        """The program of ``record`` as if published at ``domain``."""
        name = normalize_name(domain)
        return self._analyze_record(record, name, (name,))[0]

    def analyze_domain(self, domain: str, stack: tuple[str, ...] = ()) -> Program:
        """The program of the SPF record published at ``domain`` (cached per run), followed
        from the records of ``stack``."""
        key = normalize_name(domain)
        if key in stack:
            return _failure_program(_loop(stack, key))
        depth = len(stack)
        if depth > MAX_NESTING:
            self._follows(0, limited=True)
            return _failure_program(_too_deep(key))
        known, limited = self._programs.get(key), False
        if known is None or depth + known[1] > MAX_NESTING:
            known, limited = self._cut_programs.get((key, depth)), True
        if known is None:
            fetched = self._fetch(key)
            found = _Found()
            if isinstance(fetched, Failure):
                program = _failure_program(fetched)
            else:
                program, found = self._analyze_record(fetched, key, (*stack, key))
            known, limited = (program, found.height), found.limited
            if limited:
                self._cut_programs[key, depth] = known
            else:
                self._programs[key] = known
        self._follows(known[1], limited=limited)
        return known[0]

    def worst_case_lookups(self, record: Record, domain: str, stack: tuple[str, ...] = ()) -> int:
        """DNS-querying terms a receiver may count evaluating ``record`` (RFC 7208 4.6.4)."""
        return self._walk(record, domain, stack).lookups

    # -- records --------------------------------------------------------------------------

    def _fetch(self, domain: str) -> Record | Failure:
        answer = self._query(domain, RRType.TXT)
        if isinstance(answer, Failure):
            return answer
        return spf_record(domain, answer)

    def _note(self, message: str) -> None:
        if self._found:
            self._found[-1].notes.append(message)

    def _resolved(self, message: str) -> None:
        if self._found:
            self._found[-1].resolved.append(message)

    def _follows(self, height: int, *, limited: bool = False) -> None:
        """The record being analysed follows a target whose analysis went ``height`` levels
        further down."""
        if self._found:
            found = self._found[-1]
            found.height = max(found.height, height + 1)
            found.limited = found.limited or limited

    def _analyze_record(
        self, record: Record, domain: str, stack: tuple[str, ...]
    ) -> tuple[Program, _Found]:
        self._found.append(_Found())
        try:
            parts = self._analyze_parts(record, domain, stack)
        finally:
            found = self._found.pop()
        notes, resolved = tuple(dict.fromkeys(found.notes)), tuple(dict.fromkeys(found.resolved))
        return Program(parts, notes, resolved), found

    def _uses(self, program: Program) -> Program:
        """Record that the current record reaches ``program`` (its notes become ours)."""
        if self._found:
            self._found[-1].notes.extend(program.notes)
            self._found[-1].resolved.extend(program.resolved)
        return program

    def _analyze_parts(
        self, record: Record, domain: str, stack: tuple[str, ...]
    ) -> tuple[Part, ...]:
        parts: list[Part] = []
        run: list[Interval] = []
        decided = _Decided()
        for mechanism in record.mechanisms:
            if isinstance(mechanism, All):
                run.extend(_everything(mechanism.qualifier.result))
                parts.append(_block(run, total=True))
                return tuple(parts)
            if not isinstance(mechanism, IP4 | IP6) and decided.everything():
                return _ended(parts, run)  # no address reaches the rest: nothing to resolve
            intervals = self._static_intervals(mechanism, domain, stack)
            if isinstance(intervals, Opaque):
                if run:
                    parts.append(_block(run))
                    run = []
                parts.append(intervals)
                continue
            run.extend(intervals)
            decided.add(intervals)
        redirect = record.redirect
        if redirect is None:
            run.extend(_everything(Result.NEUTRAL))
            parts.append(_block(run, total=True))
            return tuple(parts)
        if decided.everything():
            return _ended(parts, run)
        target = static_target(redirect.domain, domain)
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
        reached = self._reach("redirect=", redirect.domain, domain, stack)
        voids = self._target_voids(redirect.domain, domain, stack)
        parts.append(Opaque(pinned, reason, 1 + reached.lookups, reached.failures, voids))
        return tuple(parts)

    # -- mechanisms -----------------------------------------------------------------------

    def _static_intervals(
        self, mechanism: Mechanism, domain: str, stack: tuple[str, ...]
    ) -> list[Interval] | Opaque:
        if isinstance(mechanism, IP4 | IP6):
            first, last = mechanism.span()
            tag = _tag(4 if isinstance(mechanism, IP4) else 6)
            return [(tag + first, tag + last, mechanism.qualifier.result)]
        if isinstance(mechanism, Ptr):
            return self._opaque(mechanism, domain, stack, "'ptr' depends on more than the address")
        if isinstance(mechanism, All):  # handled by the caller; here for the type checker
            return _everything(mechanism.qualifier.result)
        target = static_target(mechanism.domain, domain)
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
        if isinstance(mechanism, Exists):
            return self._exists_intervals(mechanism, target)
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
        voids = self._term_voids(mechanism, domain, stack)
        if not isinstance(mechanism, Include):
            return Opaque(pinned, reason, mechanism.lookups, voids=voids)
        reached = self._reach("include:", mechanism.domain, domain, stack)
        lookups = mechanism.lookups + reached.lookups
        return Opaque(pinned, reason, lookups, reached.failures, voids)

    def _address_intervals(self, mechanism: A, target: str) -> list[Interval]:
        result = mechanism.qualifier.result
        intervals: list[Interval] = []
        for version, cidr in ((4, mechanism.cidr4), (6, mechanism.cidr6)):
            answer = self._query(target, _ADDRESS_TYPE[version])
            if isinstance(answer, Failure):
                intervals.extend(_family(version, answer))  # only this family asks for it
                continue
            if version == 4 and answer.is_void:
                self._note(f"void lookup: {mechanism.render()}: {target} has no A record")
            intervals.extend(_host_intervals(answer.addresses(), cidr, result))
        return intervals

    def _mx_intervals(self, mechanism: MX, target: str) -> list[Interval]:
        answer = self._query(target, RRType.MX)
        if isinstance(answer, Failure):
            return _everything(answer)
        exchanges = answer.exchanges()
        if answer.is_void:
            self._note(f"void lookup: {mechanism.render()}: {target} has no MX record")
        if len(exchanges) > MAX_MX_NAMES:
            reason = f"{target} has {len(exchanges)} MX records (limit {MAX_MX_NAMES})"
            return _everything(Failure(Result.PERMERROR, reason, name=target))
        result = mechanism.qualifier.result
        intervals: list[Interval] = []
        failed: set[int] = set()
        # In the receivers' order: an unanswered query ends the evaluation of the addresses
        # the exchanges before it did not match.
        for exchange in sorted(exchanges, key=lambda mx: mx.preference):
            if exchange.exchange in ("", "."):
                continue
            for version, cidr in ((4, mechanism.cidr4), (6, mechanism.cidr6)):
                if version in failed:
                    continue
                addresses = self._query(exchange.exchange, _ADDRESS_TYPE[version])
                if isinstance(addresses, Failure):
                    intervals.extend(_family(version, addresses))
                    failed.add(version)
                    continue
                intervals.extend(_host_intervals(addresses.addresses(), cidr, result))
        return intervals

    def _exists_intervals(self, mechanism: Exists, target: str) -> list[Interval]:
        """A fixed name's ``exists`` is a constant: it asks for A records whatever the
        client's family (RFC 7208 5.7), so it matches every address or none."""
        answer = self._query(target, RRType.A)
        if isinstance(answer, Failure):
            return _everything(answer)
        rendered = mechanism.render()
        if answer.addresses():
            self._resolved(f"{rendered}: {target} has an A record: matches every address")
            return _everything(mechanism.qualifier.result)
        if answer.is_void:
            self._note(f"void lookup: {rendered}: {target} has no A record")
        self._resolved(f"{rendered}: {target} has no A record: matches no address")
        return []

    # -- helpers --------------------------------------------------------------------------

    def _walk(self, record: Record, domain: str, stack: tuple[str, ...]) -> _Reached:
        """The worst-case lookups of ``record`` and the loops and unanswered queries met."""
        hops: list[_Reached] = []
        lookups = 0
        for mechanism in record.mechanisms:
            if isinstance(mechanism, All):
                break  # RFC 7208 5.1: the terms after 'all' are never tested
            lookups += mechanism.lookups
            if isinstance(mechanism, Include):
                hops.append(self._reach("include:", mechanism.domain, domain, stack))
        if record.redirect is not None and not record.has_all:
            lookups += 1
            hops.append(self._reach("redirect=", record.redirect.domain, domain, stack))
        return _Reached(
            lookups + sum(hop.lookups for hop in hops),
            tuple(dict.fromkeys(f for hop in hops for f in hop.failures)),
            max((hop.height for hop in hops), default=0),
            any(hop.limited for hop in hops),
        )

    def _reach(
        self, hop: str, macro: MacroString | None, domain: str, stack: tuple[str, ...]
    ) -> _Reached:
        """What an ``include:``/``redirect=`` (``hop``) of ``macro`` reaches from the records
        of ``stack`` (each name's walk cached as :meth:`analyze_domain` caches programs).

        A missing or broken target, or one nested too deep, ends the evaluation there with
        an error, as it does for the intent: zero lookups more. A loop or an unanswered
        query leaves the lookups unknown: a failure.
        """
        target = static_target(macro, domain)
        if target is None or not is_valid_domain(target):
            return _Reached(0)
        if target in stack:
            return _Reached(0, (_loop(stack, target).through(f"{hop}{target}"),))
        depth = len(stack)
        if depth > MAX_NESTING:
            return _Reached(0, height=1, limited=True)
        known = self._reached.get(target)
        if known is None or depth + known.height > MAX_NESTING:
            known = self._cut_reached.get((target, depth))
        if known is None:
            fetched = self._fetch(target)
            if isinstance(fetched, Failure):
                transient = fetched.result is Result.TEMPERROR
                known = _Reached(0, (fetched,) if transient else ())
            else:
                known = self._walk(fetched, target, (*stack, target))
            if known.limited:
                self._cut_reached[target, depth] = known
            else:
                self._reached[target] = known
        failures = tuple(f.through(f"{hop}{target}") for f in known.failures)
        return _Reached(known.lookups, failures, known.height + 1, known.limited)

    # -- void lookups of kept terms --------------------------------------------------------

    def _term_voids(self, term: Mechanism, domain: str, stack: tuple[str, ...]) -> Voids:
        """The most void lookups (RFC 7208 4.6.4) evaluating ``term`` may cost a client of
        each family (IPv4, IPv6): what DNS answers now for fixed names, one for a name
        that depends on the client (it may have no record)."""
        if isinstance(term, IP4 | IP6 | All):
            return (0, 0)
        if isinstance(term, Ptr):
            return (1, 1)  # the client's PTR name may have no record
        if isinstance(term, Include):
            return self._target_voids(term.domain, domain, stack)
        target = static_target(term.domain, domain)
        if target is None:
            return (1, 1)
        if isinstance(term, A):
            return (self._void(target, RRType.A), self._void(target, RRType.AAAA))
        void = self._void(target, RRType.MX if isinstance(term, MX) else RRType.A)
        return (void, void)

    def _target_voids(
        self, macro: MacroString | None, domain: str, stack: tuple[str, ...]
    ) -> Voids:
        """The most void lookups a client may meet in the record of an include or redirect
        target (none past a loop or the nesting limit: those are refused elsewhere)."""
        target = static_target(macro, domain)
        if target is None or not is_valid_domain(target) or target in stack:
            return (0, 0)
        if len(stack) > MAX_NESTING:
            return (0, 0)
        known = self._voids.get(target)
        if known is None:
            self._voids[target] = (0, 0)  # while walking it: a loop adds nothing
            fetched = self._fetch(target)
            known = (0, 0)
            if not isinstance(fetched, Failure):
                inner = (*stack, target)
                for mechanism in fetched.mechanisms:
                    if isinstance(mechanism, All):
                        break
                    known = _add(known, self._term_voids(mechanism, target, inner))
                redirect = fetched.redirect
                if redirect is not None and not fetched.has_all:
                    known = _add(known, self._target_voids(redirect.domain, target, inner))
            self._voids[target] = known
        return known

    def _void(self, name: str, rrtype: RRType) -> int:
        answer = self._query(name, rrtype)
        return 1 if isinstance(answer, Failure) or answer.is_void else 0

    def _query(self, name: str, rrtype: RRType) -> Answer | Failure:
        """The answer, or a temperror failure when DNS does not give one (the budget's
        FlattenError is no DNS error: it ends the analysis)."""
        try:
            return self.resolver.query(name, rrtype)
        except DNSTemporaryError as exc:
            reason = f"DNS error resolving {name} {rrtype.value} ({exc})"
            return Failure(
                Result.TEMPERROR, reason, RefusalCause.TRANSIENT_DNS, normalize_name(name)
            )


def spf_record(domain: str, answer: Answer) -> Record | Failure:
    """The SPF record of ``domain`` in its TXT ``answer``, or why receivers get permerror."""
    missing = RefusalCause.UPSTREAM_MISSING
    if answer.nxdomain:
        return Failure(Result.PERMERROR, f"{domain} does not exist (NXDOMAIN)", missing, domain)
    selection = select_record(answer.records)
    record = selection.record
    if record is None:
        if not selection.records:
            return Failure(Result.PERMERROR, f"{domain} has no SPF record", missing, domain)
        count = len(selection.records)
        return Failure(
            Result.PERMERROR,
            f"{domain} has {count} SPF records",
            RefusalCause.UPSTREAM_DUPLICATE,
            domain,
        )
    syntax = RefusalCause.UPSTREAM_SYNTAX
    try:
        return parse_record(record.data.decode("ascii"))
    except UnicodeDecodeError:
        return Failure(Result.PERMERROR, f"the SPF record of {domain} is not ASCII", syntax, domain)
    except SPFSyntaxError as exc:
        reason = f"syntax error in the SPF record of {domain}: {exc}"
        return Failure(Result.PERMERROR, reason, syntax, domain)


def static_target(macro: MacroString | None, domain: str) -> str | None:
    """The target name when it depends on nothing but the current domain."""
    if macro is None:
        return domain
    if macro.letters - {"d"}:
        return None
    name = truncate_domain(expand(pin_domain(macro, domain), _NoMacros()))
    return normalize_name(name)


_ADDRESS_TYPE = {4: RRType.A, 6: RRType.AAAA}
Voids = tuple[int, int]  # void lookups for an IPv4 client, for an IPv6 client


def _add(first: Voids, second: Voids) -> Voids:
    return (first[0] + second[0], first[1] + second[1])


class _Decided:
    """The addresses the terms read so far decide, whatever their result: once every
    address is decided, no address reaches the terms after."""

    def __init__(self) -> None:
        self._ranges: list[tuple[int, int]] = []
        self._pending: list[tuple[int, int]] = []

    def add(self, intervals: Iterable[Interval]) -> None:
        self._pending.extend((first, last) for first, last, _ in intervals)

    def everything(self) -> bool:
        if self._pending:
            self._ranges = merge_ranges([*self._ranges, *self._pending])
            self._pending = []
        return self._ranges == _ALL_RANGES


def _ended(parts: list[Part], run: list[Interval]) -> tuple[Part, ...]:
    """The parts of a record whose remaining terms no address reaches."""
    if run:
        return (*parts, _block(run, total=True))
    last = parts[-1]
    assert isinstance(last, Block)  # every address is decided by address-only terms
    return (*parts[:-1], replace(last, total=True))


def _loop(stack: tuple[str, ...], target: str) -> Failure:
    """Receivers follow a loop until their lookup limit: permerror."""
    cycle = " -> ".join((*stack[stack.index(target) :], target))
    return Failure(
        Result.PERMERROR,
        f"include/redirect loop: {cycle}",
        RefusalCause.UPSTREAM_LOOP,
        target,
    )


def _too_deep(target: str) -> Failure:
    """The bundled evaluator, as pyspf and libspf2, stops nesting there: permerror."""
    return Failure(
        Result.PERMERROR,
        f"includes and redirects nest more than {MAX_NESTING} levels deep (at {target}); "
        "receivers stop there",
        RefusalCause.UPSTREAM_DEPTH,
        target,
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
    return [*_family(4, value), *_family(6, value)]


def _family(version: int, value: Value) -> list[Interval]:
    """Every address of one family."""
    tag = _tag(version)
    return [(tag, tag + (IPV4_MAX if version == 4 else IPV6_MAX), value)]


# Both families share one integer line in the interval lists: IPv6 at [0, 2^128), IPv4
# shifted above it. _block() splits them back apart.
_V6_TAG = 0
_V4_TAG = 1 << 129
_ALL_RANGES = [(_V6_TAG, _V6_TAG + IPV6_MAX), (_V4_TAG, _V4_TAG + IPV4_MAX)]


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
                value = segment.value.through(f"include:{target}")
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
    if isinstance(part, Opaque) and part.failures:
        return replace(part, failures=tuple(f.through(f"redirect={target}") for f in part.failures))
    if not isinstance(part, Block) or not part.failures():
        return part

    def fix(segments: tuple[Segment[Value], ...]) -> tuple[Segment[Value], ...]:
        return tuple(
            Segment(
                s.first,
                s.last,
                s.value.through(f"redirect={target}") if isinstance(s.value, Failure) else s.value,
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


def _failure_program(failure: Failure) -> Program:
    return Program((_block(_everything(failure), total=True),))
