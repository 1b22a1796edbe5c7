"""Plan the DNS changes that publish a build: what to create, switch and retire, in which order.

A domain's records roll over in phases, so that a receiver never meets a missing name:

1. ``CHAIN`` — create the new chained records (content-addressed names: new content, new name);
2. ``ROOT`` — switch the root record, once the chain is visible at the provider;
3. ``CLEANUP`` — delete retired chained names whose retirement time has passed. Names retired
   by this plan are only *scheduled* (in the state store): the old root may sit in resolver
   caches for its TTL, and that old root still points at them.

spfmanager owns only the ``v=spf1`` value at the domain and the chained names it generates
(``_spf<N>-<hash>.<domain>``); other TXT values at those names are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from spfmanager.build import DomainBuild
from spfmanager.dns.base import Resolver
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import SPFManagerError
from spfmanager.providers.base import Change, Create, Delete, TxtRecordSet, Update, split_txt
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.limits import MAX_DNS_LOOKUPS, MAX_UDP_ANSWER
from spfmanager.spf.parser import is_spf_record
from spfmanager.spf.results import Result
from spfmanager.state import PendingDeletion

CHAIN_NAME = re.compile(r"^_spf\d+-[0-9a-f]{8}\.(?P<domain>.+)$")


class UnsafePlanError(SPFManagerError):
    """The plan would publish something the safety checks refuse (use --force to override)."""


class Phase(IntEnum):
    CHAIN = 1
    ROOT = 2
    CLEANUP = 3


@dataclass(frozen=True)
class PlannedChange:
    """One change, its phase, and the domain it serves."""

    phase: Phase
    domain: str
    change: Change

    @property
    def name(self) -> str:
        return self.change.name

    @property
    def kind(self) -> str:
        return type(self.change).__name__.lower()

    def sort_key(self) -> tuple[int, str, str]:
        return (self.phase, self.domain, self.name)

    @property
    def data(self) -> dict[str, Any]:
        old = getattr(self.change, "old", None)
        new = getattr(self.change, "new", None)
        return {
            "phase": self.phase.name.lower(),
            "domain": self.domain,
            "action": self.kind,
            "name": self.name,
            "old": None if old is None else _rrset_data(old),
            "new": None if new is None else _rrset_data(new),
        }


@dataclass(frozen=True)
class DomainPlan:
    """Everything planned for one domain."""

    build: DomainBuild
    provider: str
    zone: str
    changes: tuple[PlannedChange, ...] = ()
    retire: tuple[str, ...] = ()  # chained names to retire once this plan is applied
    retire_after: int = 0  # seconds: the TTL of the root being replaced
    unsafe: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def domain(self) -> str:
        return self.build.intent.domain

    @property
    def error(self) -> str | None:
        return self.build.error

    @property
    def data(self) -> dict[str, Any]:
        result = self.build.result
        return {
            "domain": self.domain,
            "provider": self.provider,
            "zone": self.zone,
            "error": self.error,
            "transient": self.build.transient,
            "records": None if result is None else result.data["records"],
            "lookups": None if result is None else result.lookups,
            "bytes": None if result is None else result.total_bytes,
            "changes": [c.data for c in self.changes],
            "retire": list(self.retire),
            "retire_after_seconds": self.retire_after,
            "unsafe": list(self.unsafe),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Plan:
    """The plan for a whole config: per-domain plans, changes in a stable order."""

    domains: tuple[DomainPlan, ...]
    created_at: datetime
    forced: bool = False

    @property
    def changes(self) -> tuple[PlannedChange, ...]:
        return tuple(
            sorted((c for d in self.domains for c in d.changes), key=lambda c: c.sort_key())
        )

    @property
    def has_changes(self) -> bool:
        return any(d.changes for d in self.domains)

    @property
    def errors(self) -> list[str]:
        return [f"{d.domain}: {d.error}" for d in self.domains if d.error]

    @property
    def unsafe(self) -> list[str]:
        return [f"{d.domain}: {u}" for d in self.domains for u in d.unsafe]

    @property
    def data(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at.isoformat(),
            "in_sync": not self.has_changes,
            "errors": self.errors,
            "unsafe": self.unsafe,
            "domains": [d.data for d in self.domains],
        }


def _rrset_data(rrset: TxtRecordSet) -> dict[str, Any]:
    return {"name": rrset.name, "ttl": rrset.ttl, "values": list(rrset.values)}


def owned_chain_names(current: Iterable[str], domain: str) -> list[str]:
    """Names in ``current`` that are spfmanager's chained records of ``domain``."""
    owned = []
    for name in current:
        match = CHAIN_NAME.match(name)
        if match and match.group("domain") == domain:
            owned.append(name)
    return sorted(owned)


def foreign_values(rrset: TxtRecordSet | None) -> tuple[str, ...]:
    """TXT values at the root that are not SPF records: never ours to change."""
    if rrset is None:
        return ()
    return tuple(v for v in rrset.values if not is_spf_record(v))


def plan_domain(
    build: DomainBuild,
    provider: str,
    current: Mapping[str, TxtRecordSet],
    pending: Sequence[PendingDeletion],
    now: datetime,
    resolver: Resolver,
) -> DomainPlan:
    """Changes that take ``current`` (the zone's TXT sets by name) to ``build``'s records."""
    intent = build.intent
    domain = intent.domain
    result = build.result
    owned = owned_chain_names(current, domain)
    due = {p.name for p in pending if p.due(now) and p.name in current}
    cleanup = tuple(
        PlannedChange(Phase.CLEANUP, domain, Delete(current[name])) for name in sorted(due)
    )
    if result is None:
        note = "keeping the last good record" if build.transient else "nothing published"
        return DomainPlan(build, provider, intent.zone, cleanup, notes=(note,))
    changes: list[PlannedChange] = list(cleanup)
    wanted = result.texts
    for name, text in wanted.items():
        if name == domain:
            continue
        have = current.get(name)
        desired = TxtRecordSet(name, (text,), intent.ttl)
        if have is None:
            changes.append(PlannedChange(Phase.CHAIN, domain, Create(desired)))
        elif have.values != desired.values or have.ttl != desired.ttl:
            changes.append(PlannedChange(Phase.CHAIN, domain, Update(have, desired)))
    root = current.get(domain)
    spf_now = [v for v in (root.values if root else ()) if is_spf_record(v)]
    root_text = wanted[domain]
    root_changes = spf_now != [root_text] or (root is not None and root.ttl != intent.ttl)
    if root_changes:
        new_root = TxtRecordSet(domain, (*foreign_values(root), root_text), intent.ttl)
        change: Change = Create(new_root) if root is None else Update(root, new_root)
        changes.append(PlannedChange(Phase.ROOT, domain, change))
    scheduled = {p.name for p in pending}
    retire = tuple(n for n in owned if n not in wanted and n not in due and n not in scheduled)
    unsafe = _safety(build, current, resolver, intent.max_ipv4_addresses, intent.max_ipv6_addresses)
    notes = [f"retire {n} after the old root's TTL" for n in retire]
    return DomainPlan(
        build,
        provider,
        intent.zone,
        tuple(changes),
        retire,
        root.ttl if root is not None else intent.ttl,
        tuple(unsafe),
        tuple(notes),
    )


def _safety(
    build: DomainBuild,
    current: Mapping[str, TxtRecordSet],
    resolver: Resolver,
    max_ipv4: int,
    max_ipv6: int,
) -> list[str]:
    """Reasons to refuse publishing this domain's records without --force."""
    result = build.result
    assert result is not None
    problems: list[str] = []
    if result.passing.get(4, 0) > max_ipv4:
        problems.append(
            f"authorizes {result.passing[4]:,} IPv4 addresses, over the maximum of "
            f"{max_ipv4:,} (is '+all' or a huge range coming from upstream?)"
        )
    if result.passing.get(6, 0) > max_ipv6:
        problems.append(f"authorizes more than {max_ipv6:,} IPv6 addresses")
    if result.lookups > MAX_DNS_LOOKUPS:
        problems.append(f"needs {result.lookups} DNS lookups, over {MAX_DNS_LOOKUPS}")
    for record in result.packed:
        if record.answer_bytes > MAX_UDP_ANSWER:
            problems.append(f"{record.name}: TXT answer of {record.answer_bytes} bytes")
    domain = build.intent.domain
    root = current.get(domain)
    published = {name: [split_txt(text)] for name, text in result.texts.items() if name != domain}
    published[domain] = [split_txt(v) for v in (*foreign_values(root), result.texts[domain])]
    after = OverlayResolver(resolver, published)
    probe = evaluate("192.0.2.1", f"postmaster@{domain}", domain, resolver=after)
    if probe.result.is_error:
        problems.append(
            f"after the change receivers would get {probe.result.value}: {probe.reason}"
        )
    elif probe.result is Result.NONE:
        problems.append("after the change the domain would have no SPF record")
    return problems
