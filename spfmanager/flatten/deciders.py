"""Which record decides each address of a static chain: the proof's evaluation classes.

A chain of ``ip4``/``ip6``/``include``/``redirect``/``all`` with literal targets (the
flattened records, and most intents) is evaluated alike for every address whose first
matching term lies in the same record, reached along the same path of includes and
redirects, with the same result: the same names are queried, the same lookups counted, the
same term kinds matched (the reasoning of :mod:`spfmanager.spf.chain`). So one evaluation
per class proves the evaluator reads the whole class as the partition says, and the
partition proof (normal forms compared by a merge over sorted ranges) covers the rest.

:func:`deciders` maps each address of a chain to its class label (the path of names down
to the deciding record, and the result there); :func:`class_probes` merges two such maps
and returns one address per distinct pair of labels. Chains with anything else (``a``,
``mx``, ``exists``, ``ptr``, macros, an error, a term shape a receiver profile reads
otherwise) give None: the caller probes every range edge instead.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from spfmanager.dns.base import Answer, Resolver, RRType
from spfmanager.errors import DNSTemporaryError
from spfmanager.flatten.analyze import spf_record, static_target
from spfmanager.flatten.cover import IPV4_MAPPED
from spfmanager.flatten.decisions import BITS
from spfmanager.flatten.pack import record_mechanism_bytes
from spfmanager.spf.chain import UNREACHED_FIELDS
from spfmanager.spf.compiled import libspf2_reads_as_rfc7208
from spfmanager.spf.evaluate import is_valid_domain
from spfmanager.spf.limits import MAX_DEPTH, MAX_DNS_LOOKUPS
from spfmanager.spf.profiles import RFC7208, Profile
from spfmanager.spf.ranges import Segment, merge_adjacent
from spfmanager.spf.results import Result
from spfmanager.spf.terms import IP4, IP6, All, Include, Mechanism, Record

MAX_CLASS_NAMES = 64  # names one chain may reach before the caller probes every edge
# Names every receiver queries as written (mailauth's pattern and c-ares' host octets).
_PLAIN_NAME = re.compile(r"(?:[a-z0-9_-]+\.)+[a-z][a-z0-9-]*")

_Trace = tuple[tuple[Any, ...], Result | None]  # (the evaluation's steps, its result)
Label = tuple[tuple[Any, ...], Result | None]
Deciders = dict[int, list[Segment[Label]]]  # by family: the whole space, sorted
_Partition = dict[int, list[Segment[_Trace]]]


class _NotStatic(Exception):
    """The chain has a term the classes do not cover."""


@dataclass(frozen=True, slots=True)
class Classes:
    """A static chain's evaluation classes, and whether every name in it is plain."""

    partition: Deciders
    plain_names: bool
    # No record has redirect= beside an "all", or before a mechanism: receivers then count
    # lookups alike up to the limit (see :func:`reads_as_rfc7208`).
    simple_redirects: bool = True
    redirects: bool = False  # some record has a redirect=


@dataclass(slots=True)
class _Walk:
    resolver: Resolver
    names: set[str]
    memo: dict[str, _Partition]
    max_mechanism_bytes: int | None
    answers: list[tuple[str, Answer]] = dataclasses.field(default_factory=list)
    simple_redirects: bool = True
    redirects: bool = False


def deciders(
    domain: str, resolver: Resolver, *, max_mechanism_bytes: int | None = None
) -> Classes | None:
    """Per family, the class label of every address of the chain published at ``domain``
    (its records read through ``resolver``), or None when the chain is not static or a
    record holds more than ``max_mechanism_bytes`` (a receiver drops terms past them)."""
    walk = _Walk(resolver, set(), {}, max_mechanism_bytes)
    try:
        partition = _name(walk, domain.rstrip(".").lower(), ())
    except _NotStatic:
        return None
    if not libspf2_reads_as_rfc7208(domain, walk.answers):
        return None  # libspf2's grammar reads a record otherwise: not one class per record
    plain = all(_PLAIN_NAME.fullmatch(name) for name in walk.names)
    return Classes(partition, plain, walk.simple_redirects, walk.redirects)


def reads_as_rfc7208(classes: Classes, lookups: int, void_lookups: int) -> bool:
    """Whether every receiver profile gives an address of a class the outcome RFC 7208
    gives it, when that evaluation took ``lookups`` and ``void_lookups``: within the
    limits, the ways profiles count lookups (per include, at the next term, an unreached
    redirect=) differ only past them, and the rest of their departures cannot apply to a
    classed chain (IPv4-mapped clients aside: a class of their own)."""
    # pyspf and Mail::SPF count each redirect= of a record they read, reached or not: at
    # most one more per lookup (and the first record).
    limit = (MAX_DNS_LOOKUPS - 1) // 2 if classes.redirects else MAX_DNS_LOOKUPS
    return (
        classes.simple_redirects and classes.plain_names and lookups <= limit and void_lookups == 0
    )


def static_reading(profile: Profile, *, plain_names: bool) -> Profile:
    """``profile`` as far as it can read a chain :func:`deciders` classes otherwise than
    another: profiles equal here give every address of such chains the same outcome.

    Its a/mx/ptr/exists fields never apply; no ip term has a shape the matching fields
    read otherwise (``/0``, ip6 over ``::ffff:0:0/96``); no record includes its own
    domain; and with ``plain_names`` no name fails mailauth's checks.
    """
    reset = {name: getattr(RFC7208, name) for name in UNREACHED_FIELDS}
    for name in ("ip6_matches_mapped_ipv4", "ip6_zero_prefix_is_exact", "rejects_self_include"):
        reset[name] = getattr(RFC7208, name)
    if plain_names:
        reset["name_checks"] = RFC7208.name_checks
    return dataclasses.replace(profile, name="", title="", receivers=(), departures=(), **reset)


def class_probes(first: Deciders, second: Deciders) -> dict[int, list[tuple[int, Any, Any]]]:
    """Per family, the first address of each distinct pair of labels, with its classes
    (each label and whether the address is IPv4-mapped: receivers evaluate those as IPv4)."""
    probes: dict[int, list[tuple[int, Any, Any]]] = {}
    for version in (4, 6):
        cuts = (IPV4_MAPPED[0], IPV4_MAPPED[1] + 1) if version == 6 else ()
        seen: set[tuple[Any, Any]] = set()
        found: list[tuple[int, Any, Any]] = []
        for start, one, other in _pieces(first[version], second[version], cuts):
            mapped = version == 6 and IPV4_MAPPED[0] <= start <= IPV4_MAPPED[1]
            key = ((version, mapped, one), (version, mapped, other))
            if key not in seen:
                seen.add(key)
                found.append((start, *key))
        probes[version] = found
    return probes


def _pieces(
    a: list[Segment[Label]], b: list[Segment[Label]], cuts: tuple[int, ...]
) -> list[tuple[int, Label, Label]]:
    """The starts of the pieces both partitions (and ``cuts``) split the space into."""
    starts = sorted({s.first for s in a} | {s.first for s in b} | set(cuts))
    out: list[tuple[int, Label, Label]] = []
    i = j = 0
    for start in starts:
        while a[i].last < start:
            i += 1
        while b[j].last < start:
            j += 1
        out.append((start, a[i].value, b[j].value))
    return out


def _name(walk: _Walk, name: str, path: tuple[str, ...]) -> _Partition:
    if name in path or len(path) > MAX_DEPTH:
        raise _NotStatic  # a loop or too deep: an error, probed edge by edge
    known = walk.memo.get(name)
    if known is None:
        walk.names.add(name)
        if len(walk.names) > MAX_CLASS_NAMES:
            raise _NotStatic
        try:
            answer = walk.resolver.query(name, RRType.TXT)
        except DNSTemporaryError:
            raise _NotStatic from None
        walk.answers.append((name, answer))
        record = spf_record(name, answer)
        if not isinstance(record, Record):
            raise _NotStatic
        limit = walk.max_mechanism_bytes
        if limit is not None and record_mechanism_bytes(record) > limit:
            raise _NotStatic
        if any(
            isinstance(m, Include) and static_target(m.domain, name) == name
            for m in record.mechanisms
        ):
            raise _NotStatic  # pyspf rejects such a record, reached or not
        if record.redirect is not None:
            walk.redirects = True
            after = record.terms[record.terms.index(record.redirect) + 1 :]
            if record.has_all or any(isinstance(t, Mechanism) for t in after):
                walk.simple_redirects = False
        known = walk.memo[name] = _record(walk, record, name, (*path, name))
    return known


def _record(walk: _Walk, record: Record, name: str, path: tuple[str, ...]) -> _Partition:
    """The record's partition: per family, every address with the trace of its evaluation
    (the terms that decided or that it fell through, with the traces inside includes) and
    its result. ``path`` is the names followed down to it (loops and depth)."""
    state: _Partition = {v: [Segment(0, (1 << BITS[v]) - 1, ((), None))] for v in (4, 6)}
    for index, mechanism in enumerate(record.mechanisms):
        term: tuple[Any, ...] = (name, index)
        if isinstance(mechanism, IP4 | IP6):
            first, last = mechanism.span()
            version = 4 if isinstance(mechanism, IP4) else 6
            if mechanism.prefix == 0 or (
                version == 6 and first <= IPV4_MAPPED[1] and IPV4_MAPPED[0] <= last
            ):
                raise _NotStatic  # a shape some receivers read otherwise
            # Every ip term of a record costs the same (nothing): one step for them all.
            ip: _Trace = ((name, "ip"), mechanism.qualifier.result)
            state[version] = _refine(state[version], [Segment(first, last, ip)])
        elif isinstance(mechanism, All):
            return _finish(state, (term, mechanism.qualifier.result))
        elif isinstance(mechanism, Include) and not mechanism.domain.letters:
            target = static_target(mechanism.domain, name)
            if target is None or not is_valid_domain(target):
                raise _NotStatic
            inner = _name(walk, target, path)
            result = mechanism.qualifier.result
            for v in (4, 6):  # a pass inside matches; any other result falls through
                steps: list[Segment[_Trace]] = [
                    Segment(s.first, s.last, ((term, s.value[0]), result))
                    if s.value[1] is Result.PASS
                    else Segment(s.first, s.last, ((term, s.value[0]), None))
                    for s in inner[v]
                ]
                state[v] = _refine(state[v], steps)
        else:
            raise _NotStatic
    redirect = record.redirect
    if redirect is None:
        return _finish(state, ((name, "default"), Result.NEUTRAL))
    if redirect.domain.letters:
        raise _NotStatic
    target = static_target(redirect.domain, name)
    if target is None or not is_valid_domain(target):
        raise _NotStatic
    inner = _name(walk, target, path)
    hop: tuple[Any, ...] = (name, "redirect")
    tails: _Partition = {
        v: [Segment(s.first, s.last, ((hop, s.value[0]), s.value[1])) for s in inner[v]]
        for v in (4, 6)
    }
    return {v: _refine(state[v], tails[v]) for v in (4, 6)}


def _finish(state: _Partition, last: _Trace) -> _Partition:
    """Every address still undecided gets ``last`` (an ``all``, or the default neutral)."""
    return {v: _refine(state[v], [Segment(0, (1 << BITS[v]) - 1, last)]) for v in (4, 6)}


def _refine(state: list[Segment[_Trace]], term: list[Segment[_Trace]]) -> list[Segment[_Trace]]:
    """Evaluate one more term over the still undecided addresses of ``state`` (sorted,
    covering the space): where ``term`` (sorted, disjoint) covers them, its trace is
    appended and its result (None: no match, the evaluation goes on) taken."""
    out: list[Segment[_Trace]] = []
    j = 0
    for segment in state:
        trace, result = segment.value
        if result is not None or not term:
            out.append(segment)
            continue
        position = segment.first
        while j < len(term) and term[j].last < position:
            j += 1
        k = j
        while position <= segment.last:
            if k < len(term) and term[k].first <= position:
                stop = min(term[k].last, segment.last)
                step, got = term[k].value
                out.append(Segment(position, stop, ((*trace, step), got)))
                if term[k].last <= segment.last:
                    k += 1
                position = stop + 1
                continue
            stop = segment.last if k >= len(term) else min(segment.last, term[k].first - 1)
            out.append(Segment(position, stop, segment.value))
            position = stop + 1
    return merge_adjacent(out)
