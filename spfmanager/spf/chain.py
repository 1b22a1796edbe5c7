"""A published chain evaluated from one interval table: :func:`evaluate` results, faster.

A chain whose records hold only ``ip4``, ``ip6``, ``include``, ``redirect=`` and ``all``
(with ``exp=`` and unknown modifiers, RFC 7208 5 and 6), every target a literal name,
depends on the client address only through which ip4/ip6 terms contain it: the lookups,
the records reached and every error are the same for all addresses. Each record's first
matching ip term is constant between the edges of its terms, so the address space splits
into segments, and one evaluation by the term-by-term path
(:func:`spfmanager.spf.evaluate.evaluate`) per distinct combination of first matches gives
the result, reason, cause, term and counts of every address of those segments. The table
built from them answers a check with one binary search.

Exactness comes from that construction: the table holds what the reference path returned,
under the same profile, limits and DNS answers. What can make two addresses of one segment
differ is only how a receiver matches ip terms or picks the client's family
(``ip6_matches_mapped_ipv4``, ``ip6_zero_prefix_is_exact``, ``mapped_client_is_ipv6``):
under such a profile every elementary segment (the edges of the terms as written and as
that receiver may read them) is evaluated on its own. A profile field this module does not
know makes it decline (the caller takes the reference path).

Each table is built from the TXT answers of every name of the chain and is valid while
they are: a check re-queries those names through the resolver (which may be a cache) and
compares the answers to those the table was built from, by identity first, then by
records. Tables are shared by content across resolvers; each resolver keeps, weakly, the
answers it last gave. A table is built only after a few checks of the same chain (as many
as its build costs in term-by-term evaluations, at most :data:`MAX_WARMUP`), so that a
one-off check does not pay for it.

The result's explanation (on fail) and trace are computed when first read, by running the
reference path again over the answers the table was checked against (:class:`ChainResult`).
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from spfmanager.dns.base import Answer, RData, Resolver, RRType, TXTRecord
from spfmanager.errors import SPFSyntaxError
from spfmanager.spf.compiled import CompiledRecord, compile_record, libspf2_reads_as_rfc7208
from spfmanager.spf.evaluate import (
    RawStep,
    SPFResult,
    connection,
    evaluate,
    is_valid_domain,
    truncate_domain,
)
from spfmanager.spf.profiles import RFC7208, Grammar, NameChecks, Profile
from spfmanager.spf.ranges import IPV4_BITS, IPV6_BITS, FirstMatchMap
from spfmanager.spf.select import select_record
from spfmanager.spf.terms import (
    IP4,
    IP6,
    All,
    Explanation,
    Include,
    Redirect,
    UnknownModifier,
)

IPAddress = IPv4Address | IPv6Address
_TXT = RRType.TXT
_MAPPED = 0xFFFF_0000_0000  # ::ffff:0.0.0.0, RFC 4291 2.5.5.2
_MAPPED_LAST = _MAPPED | 0xFFFF_FFFF
MAX_NAMES = 64  # names of one chain, reached or not (10 lookups reach 11 on one path)
MAX_WARMUP = 64  # checks of one chain before its table is built, at most
MAX_TABLES = 512  # chains kept, process-wide (each table holds a few hundred segments)
MAX_ENTRIES = 1024  # chains remembered per resolver
MAX_RECORDS = 4096  # TXT answers and records whose reading is remembered

# Profile fields by what they change for a chain of ip4/ip6/include/redirect/all.
_INFORMATIONAL = frozenset({"name", "title", "receivers", "departures"})
# What the reference path does with the records and counts: the same at every address, so
# read from it like the RFC's own reading.
_STRUCTURAL = frozenset(
    {
        "max_lookups",
        "max_void_lookups",
        "lookups_per_include",
        "lookup_limit_at_next_term",
        "counts_unreached_redirect",
        "rejects_self_include",
        "redirect_in_place",
        "max_mechanism_bytes",
        "rejects_zero_prefix",
        "grammar",
        "name_checks",
    }
)
# Which addresses an ip term matches, and in which family a client is checked: every
# elementary segment (edges as written and as such a receiver may read them) on its own.
_MATCHING = frozenset(
    {"ip6_matches_mapped_ipv4", "ip6_zero_prefix_is_exact", "mapped_client_is_ipv6"}
)
# a, mx, ptr and exists only, never in these chains. An explanation's %{p} validates the
# client's names the RFC way under every profile (no counts, no errors): the explanation
# is computed by the reference path anyway, and tests/spf/test_chain.py pins %{p} there.
_UNREACHED = frozenset(
    {
        "void_mx_hosts",
        "mx_host_voids_per_mechanism",
        "void_needs_both_families",
        "excess_mx",
        "mx_in_answer_order",
        "excess_ptr",
        "void_ptr_hosts",
        "ptr_checks_matching_names_only",
        "ptr_validates_all_names",
        "ptr_query_error_is_temperror",
        "ptr_name_error_is_temperror",
        "p_macro_is_sender_domain",
    }
)
KNOWN_PROFILE_FIELDS = _INFORMATIONAL | _STRUCTURAL | _MATCHING | _UNREACHED
UNREACHED_FIELDS = _UNREACHED  # public: the proof's evaluation classes read it too
# SPFResult fields that differ between the addresses of one segment, or are read lazily
_PER_CHECK = frozenset({"ip", "sender", "explanation", "steps"})


class SlowPath:
    """A resolver wrapper that makes :func:`evaluate` take the term-by-term path.

    ``evaluate(..., resolver=SlowPath(resolver))`` is the reference the tables are built
    from and tested against; queries go to ``resolver`` unchanged.
    """

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def query(self, name: str, rrtype: RRType) -> Answer:
        return self.resolver.query(name, rrtype)


class _Replay(SlowPath):
    """The chain's TXT answers as they were read; anything else from ``resolver``."""

    def __init__(self, answers: Sequence[tuple[str, Answer]], resolver: Resolver) -> None:
        super().__init__(resolver)
        self._answers = dict(answers)

    def query(self, name: str, rrtype: RRType) -> Answer:
        if rrtype is _TXT:
            answer = self._answers.get(name)
            if answer is not None:
                return answer
        return self.resolver.query(name, rrtype)


# -- the result -------------------------------------------------------------------------------


# What the reference path needs to redo one check (a tuple: made on every check)
_Call = tuple[
    "_Chain", str, str, tuple[tuple[str, Answer], ...], Resolver, "str | None", str
]  # chain, mailfrom, helo, answers, resolver, default_explanation, receiver


def _rerun(call: _Call, address: IPAddress) -> SPFResult:
    chain, mailfrom, helo, answers, resolver, default_explanation, receiver = call
    return evaluate(
        address,
        mailfrom,
        helo,
        resolver=_Replay(answers, resolver),
        default_explanation=default_explanation,
        receiver=receiver,
        max_lookups=chain.max_lookups,
        max_void_lookups=chain.max_void_lookups,
        profile=chain.profile,
    )


class ChainResult(SPFResult):
    """An :class:`SPFResult` read from a chain table.

    Equal to the reference path's result, field by field (``==`` holds either way). The
    explanation of a fail and the trace are computed on first read, by the reference path
    over the answers the table was checked against (the explanation's own ``exp=`` query
    is made then).
    """

    _call: _Call

    @cached_property
    def _reference(self) -> SPFResult:
        return _rerun(self._call, self.ip)

    @cached_property
    def explanation(self) -> str | None:
        return self._reference.explanation

    @cached_property
    def steps(self) -> tuple[RawStep, ...]:
        return self._reference.steps

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SPFResult):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _COMPARED)

    __hash__ = SPFResult.__hash__

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"SPFResult({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        # copies and pickles are plain results (the lazy fields computed)
        return SPFResult, tuple(getattr(self, f.name) for f in fields(self) if f.init)


_COMPARED = tuple(f.name for f in fields(SPFResult) if f.compare)
_new_result: Callable[[type[ChainResult]], ChainResult] = object.__new__


# -- the chain and its table ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a record means for a chain: its targets, or that it cannot be tabled."""

    targets: tuple[str, ...]  # include and redirect= targets, in order
    supported: bool
    ip_terms: int


def _shape(compiled: CompiledRecord) -> _Shape:
    shape = _SHAPES.get(id(compiled))
    if shape is not None and shape[0] is compiled:
        return shape[1]
    targets: list[str] = []
    supported, ip_terms = True, 0
    for term in compiled.record.terms:
        if isinstance(term, IP4 | IP6):
            ip_terms += 1
        elif isinstance(term, Include | Redirect):
            if not term.domain.is_literal:
                supported = False
                break
            targets.append(truncate_domain(term.domain.literal_text))
        elif not isinstance(term, All | Explanation | UnknownModifier):
            supported = False  # a, mx, ptr, exists: the result depends on more DNS
            break
    found = _Shape(tuple(targets), supported, ip_terms)
    if len(_SHAPES) >= MAX_RECORDS:
        _SHAPES.clear()
    _SHAPES[id(compiled)] = (compiled, found)
    return found


def _record_of(answer: Answer) -> CompiledRecord | None:
    """The one usable SPF record of a TXT answer; None where the reference path gives an
    outcome without terms (none, multiple records, a syntax error)."""
    if answer.nxdomain:
        return None
    records = answer.records
    known = _RECORDS.get(id(records))
    if known is not None and known[0] is records:  # resolvers reuse their records
        return known[1]
    compiled = _compile(select_record(records).record)
    if len(_RECORDS) >= MAX_RECORDS:
        _RECORDS.clear()
    _RECORDS[id(records)] = (records, compiled)
    return compiled


def _compile(record: TXTRecord | None) -> CompiledRecord | None:
    if record is None:
        return None
    try:
        return compile_record(record.data.decode("ascii"))
    except (UnicodeDecodeError, SPFSyntaxError):
        return None


@dataclass(frozen=True, slots=True)
class _Walk:
    """The names of a chain and their answers, in the order they were read."""

    answers: tuple[tuple[str, Answer], ...]
    records: tuple[CompiledRecord, ...]  # the distinct usable records
    supported: bool
    ip_terms: int


def _walk(domain: str, resolver: Resolver) -> _Walk | None:
    """Read the chain from ``domain``: every include and redirect= target, reached or not.

    None when a query fails or the chain is too large: the reference path decides.
    """
    answers: list[tuple[str, Answer]] = []
    records: dict[int, CompiledRecord] = {}
    ip_terms = 0
    pending = [domain]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if not is_valid_domain(name):
            continue  # check_host() gives none without a query (RFC 7208 4.3)
        if len(answers) >= MAX_NAMES:
            return None
        try:
            answer = resolver.query(name, _TXT)
        except Exception:  # DNSTemporaryError, or whatever the resolver raises
            return None
        answers.append((name, answer))
        compiled = _record_of(answer)
        if compiled is None:
            continue
        shape = _shape(compiled)
        if not shape.supported:
            return _Walk(tuple(answers), (), False, 0)
        if id(compiled) not in records:
            records[id(compiled)] = compiled
            ip_terms += shape.ip_terms
        pending.extend(reversed(shape.targets))
    return _Walk(tuple(answers), tuple(records.values()), True, ip_terms)


Fields = dict[str, Any]


class _Family:
    """One address family's segments: each start and the result fields from there on."""

    __slots__ = ("starts", "values")

    def __init__(self, starts: list[int], values: list[Fields | None]) -> None:
        self.starts = starts
        self.values = values

    def lookup(self, address: int) -> Fields | None:
        return self.values[bisect_right(self.starts, address) - 1]

    def __len__(self) -> int:
        return len(self.starts)


@dataclass(frozen=True, slots=True)
class Table:
    """A chain's results over the whole address space (:func:`chain_table`)."""

    ipv4: _Family
    ipv6: _Family
    evaluations: int  # reference evaluations the build took


class _Chain:
    """One chain's content (root, limits, profile, answers) and, once built, its table."""

    def __init__(
        self,
        domain: str,
        walk: _Walk,
        profile: Profile,
        max_lookups: int | None,
        max_void_lookups: int | None,
    ) -> None:
        self.domain = domain
        self.walk = walk
        self.profile = profile
        self.max_lookups = max_lookups
        self.max_void_lookups = max_void_lookups
        self.table: Table | None = None
        self.checks = 0
        self.failed = False
        self.lock = threading.Lock()
        # about what the build costs: a reference evaluation per first-match combination
        # (per elementary segment where the profile reads terms otherwise)
        self.grouped = not any(getattr(profile, name) for name in _MATCHING)
        cost = walk.ip_terms + 2 if self.grouped else 2 * walk.ip_terms + 4
        self.warmup = min(MAX_WARMUP, cost)

    def due(self, warmup: int | None, resolver: Resolver) -> Table | None:
        """The table, built now if this check makes it worth it; None meanwhile."""
        self.checks += 1
        if self.failed or self.checks <= (self.warmup if warmup is None else warmup):
            return None
        if not self.lock.acquire(blocking=False):
            return None  # another thread is building it
        try:
            if self.table is None and not self.failed:
                try:
                    self.table = self._build(resolver)
                except Exception:  # the reference path will raise it again itself
                    self.failed = True
            return self.table
        finally:
            self.lock.release()

    def _build(self, resolver: Resolver) -> Table:
        replay = _Replay(self.walk.answers, resolver)
        sender = f"postmaster@{self.domain}"
        evaluations = 0

        def reference(address: IPAddress) -> Fields:
            nonlocal evaluations
            evaluations += 1
            got = evaluate(
                address,
                sender,
                self.domain,
                resolver=replay,
                max_lookups=self.max_lookups,
                max_void_lookups=self.max_void_lookups,
                profile=self.profile,
            )
            if got.domain != self.domain or got.ip != address:
                raise ValueError(f"{self.domain}: the reference path checked another identity")
            values = {f.name: getattr(got, f.name) for f in fields(got) if f.name not in _PER_CHECK}
            if got.explanation is None:
                values["explanation"] = None  # else computed when read
            return values

        ipv4 = _family(self.walk.records, 4, self.profile, self.grouped, reference)
        ipv6 = _family(self.walk.records, 6, self.profile, self.grouped, reference)
        return Table(ipv4, ipv6, evaluations)


def _spans(
    compiled: CompiledRecord, version: int, profile: Profile
) -> tuple[list[tuple[int, int, int]], set[int]]:
    """The spans of a record's ip terms in one family, with the term's index (the order a
    first match is taken in), and further edges where a receiver reads terms otherwise."""
    spans: list[tuple[int, int, int]] = []
    edges: set[int] = set()
    for index, mechanism in enumerate(compiled.record.mechanisms):
        if isinstance(mechanism, IP4):
            first, last = mechanism.span()
            if version == 4:
                spans.append((first, last, index))
            elif profile.mapped_client_is_ipv6:  # ::ffff:a.b.c.d clients, checked as IPv6
                edges.update((_MAPPED + first, _MAPPED + last + 1))
        elif isinstance(mechanism, IP6):
            first, last = mechanism.span()
            exact = int(mechanism.address)
            if version == 6:
                spans.append((first, last, index))
                if mechanism.prefix == 0:
                    edges.update((exact, exact + 1))
            elif profile.ip6_matches_mapped_ipv4:
                for low, high in ((first, last), (exact, exact)):
                    inside, end = max(low, _MAPPED), min(high, _MAPPED_LAST)
                    if inside <= end:
                        edges.update((inside - _MAPPED, end + 1 - _MAPPED))
    return spans, edges


def _family(
    records: Sequence[CompiledRecord],
    version: int,
    profile: Profile,
    grouped: bool,
    reference: Callable[[IPAddress], Fields],
) -> _Family:
    """Cut one family at every term edge and take each segment's fields from the reference
    path: once per combination of the records' first matches when ``grouped`` (the
    receiver matches terms as RFC 7208 does), else once per elementary segment."""
    top = 1 << (IPV4_BITS if version == 4 else IPV6_BITS)
    make: Callable[[int], IPAddress] = IPv4Address if version == 4 else IPv6Address
    maps: list[FirstMatchMap[int]] = []
    edges = {0}
    for compiled in records:
        spans, extra = _spans(compiled, version, profile)
        maps.append(FirstMatchMap(spans))
        for first, last, _ in spans:
            edges.update((first, last + 1))
        edges |= extra
    if version == 6:
        edges.update((_MAPPED, _MAPPED_LAST + 1))  # clients there are checked as IPv4
    starts = sorted(edge for edge in edges if edge < top)
    mapped_as_ipv6 = profile.mapped_client_is_ipv6
    values: list[Fields | None] = []
    known: dict[object, Fields] = {}
    for position, start in enumerate(starts):
        if version == 6 and _MAPPED <= start <= _MAPPED_LAST and not mapped_as_ipv6:
            values.append(None)  # never looked up: such clients are checked as IPv4
            continue
        key: object = tuple(m.lookup(start) for m in maps) if grouped else position
        found = known.get(key)
        if found is None:
            found = known[key] = reference(make(start))
        values.append(found)
    kept: list[int] = []
    merged: list[Fields | None] = []
    for start, value in zip(starts, values, strict=True):
        if merged and merged[-1] == value:
            continue  # the same outcome as the segment before: one segment
        kept.append(start)
        merged.append(value)
    return _Family(kept, merged)


# -- caches -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    """A resolver's last answers for one chain, and the chain they make (None: declined)."""

    answers: tuple[tuple[str, Answer], ...]
    chain: _Chain | None
    profile: Profile

    def current(self, resolver: Resolver) -> bool:
        """Whether ``resolver`` still gives these answers (re-reading each name)."""
        fresh: list[tuple[str, Answer]] | None = None
        for position, (name, answer) in enumerate(self.answers):
            try:
                now = resolver.query(name, _TXT)
            except Exception:
                return False
            if now is not answer and (
                now.records is not answer.records or now.nxdomain != answer.nxdomain
            ):
                if now.records != answer.records or now.nxdomain != answer.nxdomain:
                    return False
                if fresh is None:  # equal, but new records (a cache refreshed them)
                    fresh = list(self.answers[:position])
            if fresh is not None:
                fresh.append((name, now))
        if fresh is not None:
            self.answers = tuple(fresh)  # compared by identity from now on
        return True


_SHAPES: dict[int, tuple[CompiledRecord, _Shape]] = {}
_RECORDS: dict[int, tuple[tuple[RData, ...], CompiledRecord | None]] = {}
_CHAINS: dict[tuple[Any, ...], _Chain] = {}
_BY_RESOLVER: dict[int, tuple[weakref.ref[Any], dict[tuple[Any, ...], _Entry]]] = {}


def _entries(resolver: Resolver) -> dict[tuple[Any, ...], _Entry] | None:
    """The chains ``resolver`` gave answers for (kept while it lives); None if it cannot be
    referenced weakly."""
    key = id(resolver)
    slot = _BY_RESOLVER.get(key)
    if slot is not None and slot[0]() is resolver:
        return slot[1]
    try:
        ref = weakref.ref(resolver, lambda gone: _drop(key, gone))
    except TypeError:
        return None
    entries: dict[tuple[Any, ...], _Entry] = {}
    _BY_RESOLVER[key] = (ref, entries)
    return entries


def _drop(key: int, gone: weakref.ref[Any]) -> None:
    slot = _BY_RESOLVER.get(key)
    if slot is not None and slot[0] is gone:
        del _BY_RESOLVER[key]


def _profile_fits(profile: Profile) -> bool:
    """Whether every field where ``profile`` departs from RFC 7208 is known here."""
    cached = _PROFILES.get(id(profile))
    if cached is not None and cached[0] is profile:
        return cached[1]
    differing = {
        f.name for f in fields(profile) if getattr(profile, f.name) != getattr(RFC7208, f.name)
    }
    fits = differing <= KNOWN_PROFILE_FIELDS
    _PROFILES[id(profile)] = (profile, fits)
    return fits


_PROFILES: dict[int, tuple[Profile, bool]] = {}


def _discover(
    domain: str,
    resolver: Resolver,
    profile: Profile,
    max_lookups: int | None,
    max_void_lookups: int | None,
) -> _Entry | None:
    if not _profile_fits(profile):
        return None
    walk = _walk(domain, resolver)
    if walk is None:
        return None
    if not walk.supported or (
        profile.name_checks is NameChecks.MAILAUTH and _unparsed(walk)
    ):  # mailauth runs the terms of a record RFC 7208's grammar rejects: not tabled
        return _Entry(walk.answers, None, profile)
    if profile.grammar is Grammar.LIBSPF2 and not libspf2_reads_as_rfc7208(domain, walk.answers):
        return _Entry(walk.answers, None, profile)  # libspf2 reads it otherwise: not tabled
    content = tuple((name, a.nxdomain, a.records) for name, a in walk.answers)
    key = (domain, max_lookups, max_void_lookups, id(profile), content)
    chain = _CHAINS.get(key)
    if chain is None or chain.profile is not profile:
        if len(_CHAINS) >= MAX_TABLES:
            del _CHAINS[next(iter(_CHAINS))]
        chain = _CHAINS[key] = _Chain(domain, walk, profile, max_lookups, max_void_lookups)
    return _Entry(walk.answers, chain, profile)


def _unparsed(walk: _Walk) -> bool:
    """Whether the chain holds an SPF record RFC 7208's grammar rejects."""
    return any(
        _record_of(answer) is None and select_record(answer.records).record is not None
        for _, answer in walk.answers
        if not answer.nxdomain
    )


def forget_chains() -> None:
    """Empty this process's chain tables (with :func:`~spfmanager.spf.evaluate.forget_records`)."""
    _CHAINS.clear()
    _SHAPES.clear()
    _RECORDS.clear()
    _PROFILES.clear()
    for _, entries in list(_BY_RESOLVER.values()):
        entries.clear()


# -- the entry point --------------------------------------------------------------------------


def evaluate_chain(
    ip: str | IPAddress,
    mailfrom: str,
    helo: str,
    *,
    resolver: Resolver,
    default_explanation: str | None = None,
    receiver: str = "unknown",
    max_lookups: int | None = None,
    max_void_lookups: int | None = None,
    profile: Profile = RFC7208,
    warmup: int | None = None,
) -> SPFResult | None:
    """:func:`~spfmanager.spf.evaluate.evaluate` from the sender domain's chain table, or
    None where that path does not apply (the caller evaluates term by term).

    It applies to chains of ip4/ip6/include/redirect/all with literal targets whose every
    TXT answer could be read, under profiles whose fields are all known here, once the
    chain was checked ``warmup`` times (default: about what building its table costs). The
    arguments are :func:`evaluate`'s; the result equals its result field by field.
    """
    if isinstance(resolver, SlowPath):
        return None
    address, sender, _, domain = connection(ip, mailfrom, helo, profile)
    entries = _entries(resolver)
    key = (domain, max_lookups, max_void_lookups, id(profile))
    entry = None if entries is None else entries.get(key)
    if entry is None or entry.profile is not profile or not entry.current(resolver):
        entry = _discover(domain, resolver, profile, max_lookups, max_void_lookups)
        if entry is None:
            return None
        if entries is not None:
            if len(entries) >= MAX_ENTRIES:
                del entries[next(iter(entries))]
            entries[key] = entry
    chain = entry.chain
    if chain is None:
        return None
    table = chain.table or chain.due(warmup, resolver)
    if table is None:
        return None
    if isinstance(address, IPv4Address):
        values = table.ipv4.lookup(int(address))
    else:
        values = table.ipv6.lookup(int(address))
    if values is None:  # pragma: no cover - such mapped clients are checked as IPv4 above
        return None
    result = _new_result(ChainResult)
    state = result.__dict__
    state.update(values)
    state["ip"] = address
    state["sender"] = sender
    state["_call"] = (chain, mailfrom, helo, entry.answers, resolver, default_explanation, receiver)
    return result


def chain_table(
    domain: str,
    *,
    resolver: Resolver,
    max_lookups: int | None = None,
    max_void_lookups: int | None = None,
    profile: Profile = RFC7208,
) -> Table | None:
    """The table :func:`evaluate_chain` answers ``domain``'s checks from (built now if
    needed), or None where that path does not apply; for inspection and benchmarks."""
    entry = _discover(domain, resolver, profile, max_lookups, max_void_lookups)
    if entry is None or entry.chain is None:
        return None
    return entry.chain.table or entry.chain.due(0, resolver)
