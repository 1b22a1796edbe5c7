"""Resolve include trees level by level, concurrently, before the analysis walks them.

The analysis (:mod:`spfmanager.flatten.analyze`) follows a record depth first, one query
at a time: wall time is names x round trip. The prefetch asks DNS for every name a level
of records needs at once (TXT of include and redirect targets, A/AAAA of ``a`` targets,
MX of ``mx`` targets, then their exchanges' addresses with the next level), so a tree
costs about one round trip per level. It only warms the run's
:class:`~spfmanager.dns.memo.MemoResolver`; the analysis then reads every answer from
memory and decides exactly as before.

Hostile trees stay bounded: each root (a domain being built) may cause at most its own
query budget of new names, a shared name counting against the first root reaching it
(the domain that would pay for it when domains are built in order); nesting stops at
:data:`~spfmanager.flatten.analyze.MAX_NESTING`; nothing starts after ``seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from spfmanager.dns.base import RRType, normalize_name
from spfmanager.dns.memo import Key, MemoResolver
from spfmanager.flatten.analyze import MAX_NESTING, spf_record, static_target
from spfmanager.spf.evaluate import is_valid_domain
from spfmanager.spf.terms import MX, A, All, Exists, Include, Record

DEFAULT_WORKERS = 16  # queries in flight at once


@dataclass(frozen=True, slots=True)
class Root:
    """A record to prefetch for, as published at ``domain``, with its query budget."""

    record: Record
    domain: str
    budget: int


def prefetch(
    memo: MemoResolver,
    roots: Sequence[Root],
    *,
    workers: int = DEFAULT_WORKERS,
    seconds: float,
    charge_on_use: bool,
) -> int:
    """Warm ``memo`` with the answers the analysis of ``roots`` will ask for; returns the
    queries sent. ``charge_on_use``: see :meth:`MemoResolver.warm`."""
    ends = time.monotonic() + seconds
    spent = [0] * len(roots)
    expanded: set[str] = set()
    # (record, its domain, the root paying for what it needs), and MX names asked by the
    # level before (their exchanges' addresses are asked with this level).
    level = [(root.record, normalize_name(root.domain), index) for index, root in enumerate(roots)]
    exchanges: dict[str, int] = {}
    sent = 0
    for _depth in range(MAX_NESTING + 2):
        wanted: dict[Key, int] = {}
        follow: dict[str, int] = {}  # names whose TXT is a record of the next level
        mx_names: dict[str, int] = {}
        for record, domain, owner in level:
            for key, child in _queries(record, domain):
                wanted.setdefault(key, owner)
                if child:
                    follow.setdefault(key[0], owner)
                if key[1] is RRType.MX:
                    mx_names.setdefault(key[0], owner)
        for exchange, owner in _exchange_names(memo, exchanges).items():
            wanted.setdefault((exchange, RRType.A), owner)
            wanted.setdefault((exchange, RRType.AAAA), owner)
        batch: list[Key] = []
        for key, owner in wanted.items():
            if memo.peek(*key) is None and spent[owner] < roots[owner].budget:
                spent[owner] += 1
                batch.append(key)
        left = ends - time.monotonic()
        if left <= 0:
            break
        if batch:
            sent += memo.warm(batch, workers=workers, seconds=left, charge_on_use=charge_on_use)
        level = []
        for name, owner in follow.items():
            if name not in expanded:
                expanded.add(name)
                found = _record(memo, name)
                if found is not None:
                    level.append((found, name, owner))
        exchanges = mx_names
        if not level and not exchanges:
            break
    return sent


def _queries(record: Record, domain: str) -> list[tuple[Key, bool]]:
    """The queries evaluating ``record`` at ``domain`` makes, each with whether its answer
    is a record to follow (include and redirect targets)."""
    queries: list[tuple[Key, bool]] = []
    for mechanism in record.mechanisms:
        if isinstance(mechanism, All):
            return queries  # RFC 7208 5.1: nothing after 'all' is tested, no redirect
        if not isinstance(mechanism, A | MX | Exists | Include):
            continue
        target = static_target(mechanism.domain, domain)
        if target is None or not is_valid_domain(target):
            continue
        if isinstance(mechanism, A):
            queries += [((target, RRType.A), False), ((target, RRType.AAAA), False)]
        elif isinstance(mechanism, MX):
            queries.append(((target, RRType.MX), False))
        elif isinstance(mechanism, Exists):
            queries.append(((target, RRType.A), False))
        else:
            queries.append(((target, RRType.TXT), True))
    if record.redirect is not None:
        target = static_target(record.redirect.domain, domain)
        if target is not None and is_valid_domain(target):
            queries.append(((target, RRType.TXT), True))
    return queries


def _record(memo: MemoResolver, name: str) -> Record | None:
    known = memo.peek(name, RRType.TXT)
    if known is None or isinstance(known, Exception):
        return None
    record = spf_record(name, known)
    return record if isinstance(record, Record) else None


def _exchange_names(memo: MemoResolver, names: dict[str, int]) -> dict[str, int]:
    exchanges: dict[str, int] = {}
    for name, owner in names.items():
        known = memo.peek(name, RRType.MX)
        if known is None or isinstance(known, Exception):
            continue
        for mx in known.exchanges():
            if mx.exchange not in ("", "."):
                exchanges.setdefault(mx.exchange, owner)
    return exchanges
