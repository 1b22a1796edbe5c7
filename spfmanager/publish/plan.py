"""Plan the DNS changes that publish a build: what to create, switch and retire, in which order.

A domain's records roll over in phases, so that a receiver never meets a missing name:

1. ``CHAIN`` — create the new chained records (content-addressed names: new content, new name);
2. ``ROOT`` — switch the root record, once the chain is visible at the provider;
3. ``CLEANUP`` — delete retired chained names whose retirement time has passed. Names retired
   by this plan are only *scheduled* (in the state store): the old root may sit in resolver
   caches for its TTL, and that old root still points at them.

spfmanager owns only the ``v=spf1`` value at the domain and the chained names it generates
(``_spf<N>-<hash>.<domain>``); other TXT values at those names are never touched.

A name that the build wants, or that an SPF record staying in the zone still points at, is
never deleted: its scheduled deletion is cancelled instead (a revert A -> B -> A wants A's
names again). The safety check evaluates the zone as it will be *after* every change of the
plan, deletions included, and refuses a plan under which the root's results differ from the
intent (or, when the build failed, from the zone as it is).

Each domain's plan also says which address ranges start or stop passing, per service
(:attr:`DomainPlan.address_changes`). The old side is *the records published now*: the SPF
record at the domain and the names it reaches, as the provider lists them at plan time
(not the state store's memory, not live DNS), evaluated over the same upstream DNS as the
build. Where nothing is published, every range of every service is added. Those records
carry no per-service attribution, so an added range is listed under the services that
authorize it in the build, and a removed one under the services that can have lost it
(see :func:`~spfmanager.publish.drift.published_range_changes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from spfmanager.dns.base import Resolver
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.dns.txt import split_txt
from spfmanager.errors import SPFManagerError, SPFSyntaxError, VerificationError
from spfmanager.errors import UnsafePlanError as UnsafePlanError  # noqa: PLC0414  (re-exported)
from spfmanager.flatten.analyze import Analyzer
from spfmanager.flatten.decisions import NormalPart, normal_form
from spfmanager.flatten.flattener import FlattenResult
from spfmanager.flatten.pack import PackedRecord, is_chain_name
from spfmanager.flatten.verify import compare_forms
from spfmanager.publish.build import DomainBuild
from spfmanager.publish.changes import Change, Create, Delete, RecordSet, Update
from spfmanager.publish.drift import (
    RangeChange,
    ServiceDrift,
    ServiceRanges,
    compare_sizes,
    passing_cidrs,
    published_range_changes,
)
from spfmanager.publish.macro import MacroPlan, macro_safety
from spfmanager.publish.state import PendingDeletion, ServiceSizes
from spfmanager.spf.evaluate import evaluate, is_valid_domain
from spfmanager.spf.limits import MAX_DNS_LOOKUPS, MAX_UDP_ANSWER
from spfmanager.spf.parser import is_spf_record, parse_record
from spfmanager.spf.results import Qualifier, Result
from spfmanager.spf.terms import IP4, IP6, All, Include, Redirect


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
            "old": None if old is None else old.data,
            "new": None if new is None else new.data,
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
    cancel: tuple[str, ...] = ()  # scheduled deletions to drop: the names are wanted again
    drift: tuple[ServiceDrift, ...] = ()  # per-service address changes since the last apply
    service_sizes: ServiceSizes | None = None  # to record at apply: the next baseline
    service_ranges: ServiceRanges | None = None  # the CIDRs each service authorizes now
    waiting: tuple[PendingDeletion, ...] = ()  # scheduled deletions not yet due
    # Per service, the ranges that start/stop passing vs the records published now; only
    # services with a change. None: not known (nothing built, or no change to publish).
    address_changes: tuple[RangeChange, ...] | None = None

    @property
    def domain(self) -> str:
        return self.build.intent.domain

    @property
    def error(self) -> str | None:
        return self.build.error

    @property
    def in_sync(self) -> bool:
        """Nothing to change now, nothing unsafe, and no error."""
        return not self.changes and not self.error and not self.unsafe

    @property
    def data(self) -> dict[str, Any]:
        result = self.build.result
        return {
            "domain": self.domain,
            "provider": self.provider,
            "zone": self.zone,
            "mode": self.build.intent.mode.value,
            "error": self.error,
            "transient": self.build.transient,
            "cause": None if self.build.cause is None else self.build.cause.value,
            "records": None if result is None else result.data["records"],
            "lookups": None if result is None else result.lookups,
            "bytes": None if result is None else result.total_bytes,
            "changes": [c.data for c in self.changes],
            "retire": list(self.retire),
            "retire_after_seconds": self.retire_after,
            "cancel_pending": list(self.cancel),
            "waiting_deletions": [
                {"name": p.name, "not_before": p.not_before.isoformat()} for p in self.waiting
            ],
            "unsafe": list(self.unsafe),
            "notes": list(self.notes),
            "service_drift": [d.data for d in self.drift],
            "range_changes": None
            if self.address_changes is None
            else {c.service: c.data for c in self.address_changes},
            "service_addresses": None
            if self.service_sizes is None
            else {s: {str(v): n for v, n in f.items()} for s, f in self.service_sizes.items()},
        }


@dataclass(frozen=True)
class Plan:
    """The plan for a whole config: per-domain plans, changes in a stable order."""

    domains: tuple[DomainPlan, ...]
    created_at: datetime
    forced: bool = False
    macro: MacroPlan | None = None  # the macro-mode domains' data file, when there are any

    @property
    def changes(self) -> tuple[PlannedChange, ...]:
        return tuple(
            sorted((c for d in self.domains for c in d.changes), key=lambda c: c.sort_key())
        )

    @property
    def has_changes(self) -> bool:
        return any(d.changes for d in self.domains) or self.macro_changed

    @property
    def macro_changed(self) -> bool:
        """The macro data file is to be rewritten."""
        return self.macro is not None and self.macro.changed

    def in_sync(self, domain: DomainPlan) -> bool:
        """``domain`` has nothing to change, nor (macro mode) has its data file."""
        macro = domain.build.dataset is not None and self.macro_changed
        return domain.in_sync and not macro

    @property
    def waiting(self) -> tuple[PendingDeletion, ...]:
        """Retired names whose deletion is scheduled but not yet due: work still pending."""
        return tuple(p for d in self.domains for p in d.waiting)

    @property
    def errors(self) -> list[str]:
        return [f"{d.domain}: {d.error}" for d in self.domains if d.error]

    @property
    def unsafe(self) -> list[str]:
        return [f"{d.domain}: {u}" for d in self.domains for u in d.unsafe]

    @property
    def summary(self) -> PlanSummary:
        """The counts of the plan's closing line."""
        kinds = [c.kind for c in self.changes]
        return PlanSummary(
            create=kinds.count("create"),
            update=kinds.count("update"),
            delete=kinds.count("delete"),
            delete_later=sum(len(d.retire) + len(d.waiting) for d in self.domains),
            domains=len(self.domains),
            in_sync=sum(1 for d in self.domains if self.in_sync(d)),
            errors=sum(1 for d in self.domains if d.error),
            unsafe=sum(1 for d in self.domains if d.unsafe),
            macro_zone=0 if self.macro is None else sum(len(z.changes) for z in self.macro.zones),
        )

    @property
    def data(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at.isoformat(),
            "in_sync": not self.has_changes and not self.waiting,
            "errors": self.errors,
            "unsafe": self.unsafe,
            "summary": self.summary.data,
            "domains": [d.data for d in self.domains],
            "macro": None if self.macro is None else self.macro.json,
        }


@dataclass(frozen=True)
class PlanSummary:
    """What a plan does, counted: changes now, deletions scheduled or waiting, domains."""

    create: int
    update: int
    delete: int
    delete_later: int  # retired names: scheduled by this plan, or waiting for their time
    domains: int
    in_sync: int  # domains with nothing to change, and no error
    errors: int  # domains that could not be built
    unsafe: int  # domains the safety checks refuse without --force
    macro_zone: int = 0  # changes to the macro zone's records and delegation

    @property
    def text(self) -> str:
        """``Plan: 2 to create, 1 to update, 0 to delete, 3 to delete later. 1 of 2
        domains in sync.`` (Terraform's closing line, plus the domains)."""
        text = f"Plan: {self.create} to create, {self.update} to update, {self.delete} to delete"
        if self.delete_later:
            text += f", {self.delete_later} to delete later"
        noun = "domain" if self.domains == 1 else "domains"
        text += f". {self.in_sync} of {self.domains} {noun} in sync"
        if self.errors:
            text += f", {self.errors} with errors"
        if self.unsafe:
            text += f", {self.unsafe} unsafe"
        if self.macro_zone:
            plural = "s" if self.macro_zone > 1 else ""
            text += f". {self.macro_zone:,} macro zone change{plural}"
        return text + "."

    @property
    def data(self) -> dict[str, Any]:
        return {
            "create": self.create,
            "update": self.update,
            "delete": self.delete,
            "delete_later": self.delete_later,
            "domains": self.domains,
            "domains_in_sync": self.in_sync,
            "domains_with_errors": self.errors,
            "domains_unsafe": self.unsafe,
            "macro_zone_changes": self.macro_zone,
            "text": self.text,
        }


def owned_chain_names(current: Iterable[str], domain: str) -> list[str]:
    """Names in ``current`` that are spfmanager's chained records of ``domain``."""
    return sorted(name for name in current if is_chain_name(name, domain))


def foreign_values(rrset: RecordSet | None) -> tuple[str, ...]:
    """TXT values at the root that are not SPF records: never ours to change."""
    if rrset is None:
        return ()
    return tuple(v for v in rrset.values if not is_spf_record(v))


def spf_values(rrset: RecordSet | None) -> list[str]:
    """The SPF records among a name's TXT values (the complement of :func:`foreign_values`)."""
    return [] if rrset is None else [v for v in rrset.values if is_spf_record(v)]


def serves(result: FlattenResult, zone: Mapping[str, RecordSet]) -> bool:
    """True when every name of ``result`` holds exactly its SPF record in ``zone``."""
    return all(spf_values(zone.get(r.name)) == [r.text] for r in result.packed)


def references(records: Mapping[str, RecordSet], name: str) -> set[str]:
    """Names in ``records`` that the SPF record at ``name`` reaches by include/redirect."""
    found: set[str] = set()
    todo = [name]
    while todo:
        for target in _targets(records.get(todo.pop())):
            if target in records and target not in found:
                found.add(target)
                todo.append(target)
    return found


def protected(records: Mapping[str, RecordSet], deleting: Iterable[str]) -> set[str]:
    """Those of ``deleting`` that an SPF record staying in ``records`` still points at."""
    doomed = {n for n in deleting if n in records}
    keep: set[str] = set()
    changed = True
    while changed:  # a name pointed at from a kept name is kept, transitively
        changed = False
        for name in records:
            if name in doomed:
                continue
            for target in _targets(records[name]) & doomed:
                doomed.discard(target)
                keep.add(target)
                changed = True
    return keep


def _targets(rrset: RecordSet | None) -> set[str]:
    """Static include/redirect targets of the SPF records in ``rrset``."""
    targets: set[str] = set()
    for value in rrset.values if rrset is not None else ():
        if not is_spf_record(value):
            continue
        try:
            record = parse_record(value)
        except SPFSyntaxError:
            continue
        for term in record.terms:
            if isinstance(term, Include | Redirect) and not term.domain.letters:
                targets.add(term.domain.render().rstrip(".").lower())
    return targets


def zone_after(current: Mapping[str, RecordSet], changes: Iterable[Change]) -> dict[str, RecordSet]:
    """The zone's TXT sets once ``changes`` are applied."""
    after = dict(current)
    for change in changes:
        if isinstance(change, Delete):
            after.pop(change.name, None)
        else:
            after[change.name] = change.new
    return after


def plan_domain(
    build: DomainBuild,
    provider: str,
    current: Mapping[str, RecordSet],
    pending: Sequence[PendingDeletion],
    now: datetime,
    resolver: Resolver,
    *,
    analyzer: Analyzer | None = None,
    sizes: ServiceSizes | None = None,
    baseline: ServiceSizes | None = None,
    ranges: ServiceRanges | None = None,
    intent_form: Sequence[NormalPart] | None = None,
    probed: set[tuple[str, ...]] | None = None,
) -> DomainPlan:
    """Changes that take ``current`` (the zone's TXT sets by name) to ``build``'s records.

    ``sizes`` are the addresses each service authorizes now and ``baseline`` those at the
    last apply: a shrink or growth past the intent's thresholds makes the plan unsafe.
    ``analyzer`` (sharing the build's DNS) reads the zone after the plan for the safety check;
    ``intent_form`` is the intent's normal form, when the caller has it already; ``probed``,
    shared by the plans of one run, spares evaluating records of a shape already probed.
    """
    intent = build.intent
    domain = intent.domain
    result = build.result
    if build.dataset is not None:  # macro mode: the macro zone answers from the dataset
        resolver = build.dataset.resolver(resolver)
        record = build.dataset.record(domain)
        intent_form = record.intent_form
    owned = owned_chain_names(current, domain)
    wanted = result.texts if result is not None else {}
    mine = [p for p in pending if p.domain == domain or p.name in owned]
    due = {p.name for p in mine if p.due(now) and p.name in current and p.name not in wanted}
    changes: list[PlannedChange] = []
    for name, text in wanted.items():
        if name == domain:
            continue
        have = current.get(name)
        desired = RecordSet(name, (text,), intent.ttl)
        if have is None:
            changes.append(PlannedChange(Phase.CHAIN, domain, Create(desired)))
        elif have.values != desired.values or have.ttl != desired.ttl:
            changes.append(PlannedChange(Phase.CHAIN, domain, Update(have, desired)))
    root = current.get(domain)
    root_ttl = intent.ttl
    if root is not None and foreign_values(root) and not intent.ttl_override:
        # One TTL per RRset (RFC 2181 5.2): other TXT values share the root's, keep it.
        root_ttl = root.ttl
    if result is not None:
        root_text = wanted[domain]
        if spf_values(root) != [root_text] or (root is not None and root.ttl != root_ttl):
            new_root = RecordSet(domain, (*foreign_values(root), root_text), root_ttl)
            change: Change = Create(new_root) if root is None else Update(root, new_root)
            changes.append(PlannedChange(Phase.ROOT, domain, change))
    before_cleanup = zone_after(current, (c.change for c in changes))
    still_used = protected(before_cleanup, due)
    cleanup = [
        PlannedChange(Phase.CLEANUP, domain, Delete(current[name]))
        for name in sorted(due - still_used)
    ]
    changes += cleanup
    again = {p.name for p in mine if p.name in wanted}
    cancel = tuple(sorted(again | still_used))
    waiting = tuple(
        sorted(
            (p for p in mine if p.name in current and p.name not in due and p.name not in cancel),
            key=lambda p: p.name,
        )
    )
    notes = list(intent.notes)  # compile's advice: a service not needed in this record
    notes += [f"keep {n}: wanted again; its scheduled deletion is cancelled" for n in sorted(again)]
    notes += [f"keep {n}: a record staying in the zone points at it" for n in sorted(still_used)]
    if result is None:
        published_before = bool(spf_values(root))
        note = "nothing published"
        if build.transient:  # a record published before stays; on a first run, none does
            note = (
                "keeping the last good record"
                if published_before
                else "nothing was published before"
            )
        unsafe = refusals_after(build, current, changes, resolver, analyzer)
        return DomainPlan(
            build,
            provider,
            intent.zone,
            tuple(changes),
            unsafe=tuple(unsafe),
            notes=(note, *notes),
            cancel=cancel,
            waiting=waiting,
        )
    scheduled = {p.name for p in mine}
    retire = tuple(n for n in owned if n not in wanted and n not in due and n not in scheduled)
    unsafe = _safety(
        build, current, resolver, intent.max_ipv4_addresses, intent.max_ipv6_addresses, probed
    )
    unsafe += refusals_after(build, current, changes, resolver, analyzer, intent_form=intent_form)
    if build.dataset is not None and intent_form is not None:
        unsafe += macro_safety(intent_form, intent.min_ipv4_prefix, intent.min_ipv6_prefix)
    drift = compare_sizes(baseline, sizes, intent.max_service_shrink, intent.max_service_growth)
    unsafe += [d.describe() for d in drift if d.refused]
    notes += [d.describe() for d in drift if not d.refused]
    notes += [f"retire {n} after the old root's TTL" for n in retire]
    address_changes: tuple[RangeChange, ...] | None = None
    macro_now = build.dataset is not None and any(
        build.dataset.zone in v for v in spf_values(root)
    )  # the published side is a macro record too: its addresses are not read from it
    if changes and ranges is not None and not macro_now:
        address_changes = _address_changes(
            build, current, changes, ranges, resolver, analyzer, intent_form, sizes, baseline
        )
    if result is not None and root is not None and root_ttl != intent.ttl:
        others = len(foreign_values(root))
        notes.append(
            f"{domain}: TTL kept at {root.ttl}, not {intent.ttl}: {others} other TXT "
            f"value{'s' if others != 1 else ''} share the name, and one TTL holds for all "
            "(RFC 2181 5.2); set ttl_override: true to change theirs too"
        )
    return DomainPlan(
        build,
        provider,
        intent.zone,
        tuple(changes),
        retire,
        root.ttl if root is not None else intent.ttl,
        tuple(unsafe),
        tuple(notes),
        cancel,
        tuple(drift),
        sizes,
        ranges,
        waiting,
        address_changes,
    )


def _address_changes(
    build: DomainBuild,
    current: Mapping[str, RecordSet],
    changes: Sequence[PlannedChange],
    ranges: ServiceRanges,
    resolver: Resolver,
    analyzer: Analyzer | None,
    intent_form: Sequence[NormalPart] | None,
    sizes: ServiceSizes | None,
    baseline: ServiceSizes | None,
) -> tuple[RangeChange, ...] | None:
    """Per service, the ranges that start/stop passing vs the records published now
    (None when the records published now cannot be evaluated)."""
    result = build.result
    assert result is not None
    if serves(result, current):
        return ()  # the same records (a TTL, a cleanup): the same addresses
    domain, keep = build.intent.domain, build.intent.keep
    base = analyzer.resolver if analyzer is not None else resolver
    try:
        published = passing_at(current, domain, base, keep)
        if intent_form is not None:  # the build proved its records equal to the intent
            planned = passing_cidrs(intent_form)
        else:
            planned = passing_at(
                zone_after(current, (c.change for c in changes)), domain, base, keep
            )
    except (SPFManagerError, UnicodeError):
        return None
    found = published_range_changes(published, planned, ranges, sizes=sizes, baseline=baseline)
    return tuple(found)


def passing_at(
    zone: Mapping[str, RecordSet], domain: str, resolver: Resolver, keep: Iterable[str] = ()
) -> dict[str, list[str]]:
    """The CIDRs the SPF record at ``domain`` passes when ``zone`` holds the TXT of
    ``domain`` and of the names its record reaches (absent: no TXT), per family."""
    names = {domain, *references(zone, domain)}
    served = {n: [split_txt(v) for v in zone[n].values] if n in zone else [] for n in names}
    view = Analyzer(OverlayResolver(resolver, served), keep=keep)
    return passing_cidrs(normal_form(view.analyze_domain(domain)))


def refusals_after(
    build: DomainBuild,
    current: Mapping[str, RecordSet],
    changes: Sequence[PlannedChange],
    resolver: Resolver,
    analyzer: Analyzer | None,
    *,
    intent_form: Sequence[NormalPart] | None = None,
) -> list[str]:
    """Refusals from evaluating the zone as it will be once every change is applied.

    The root's results after the plan must equal the intent's (or, without a new build, the
    zone's results now): a deletion that breaks a live chain is caught here.
    ``intent_form`` is the intent's normal form, when the caller has it already.
    """
    domain = build.intent.domain
    after = zone_after(current, (c.change for c in changes))
    if not changes or (domain not in after and domain not in current):
        return []
    if _serves_proven(build, after):
        return []  # the build proved these very records equal to the intent
    keep = build.intent.keep
    if analyzer is None:
        analyzer = Analyzer(resolver, keep=keep)

    def form(zone: Mapping[str, RecordSet]) -> list[Any]:
        served = {name: [split_txt(v) for v in rs.values] for name, rs in zone.items()}
        served.update({name: [] for name in current if name not in zone})  # deleted: no TXT
        view = Analyzer(OverlayResolver(analyzer.resolver, served), keep=keep)
        return normal_form(view.analyze_domain(domain))

    want: Sequence[NormalPart]
    if build.result is None:
        want = form(current)
    elif intent_form is not None:
        want = intent_form
    else:
        want = normal_form(analyzer.analyze(build.intent.record, domain))
    try:
        compare_forms(want, form(after))
    except VerificationError as exc:
        target = "the intent" if build.result is not None else "the records published now"
        return [f"after this plan the published records would differ from {target}: {exc}"]
    return []


def _serves_proven(build: DomainBuild, zone: Mapping[str, RecordSet]) -> bool:
    """True when ``zone`` serves exactly the build's records and they hold addresses only
    (nothing kept as written: their results depend on no other name and no DNS answer).

    Then the root's results in ``zone`` are those the build proved equal to the intent's.
    """
    result = build.result
    if result is None or (result.kept and build.dataset is None):
        return False  # (macro mode: the build proved its kept terms with the dataset)
    for record in result.packed:
        rrset = zone.get(record.name)
        if rrset is None or not all(v.isascii() for v in rrset.values):
            return False  # (a value that is not ASCII: let the full check report it)
    return serves(result, zone)


def _wide_ranges(packed: Sequence[PackedRecord], min4: int, min6: int) -> list[str]:
    """Passing terms wider than the configured prefixes: ``+all``, ``0.0.0.0/0``, a /4..."""
    problems: list[str] = []
    for record in packed:
        for term in parse_record(record.text).mechanisms:
            if term.qualifier is not Qualifier.PASS:
                continue
            if isinstance(term, All):
                problems.append(f"{record.name}: '+all' authorizes every address")
            elif isinstance(term, IP4 | IP6):
                bits = 32 if isinstance(term, IP4) else 128
                prefix = bits if term.prefix is None else term.prefix
                least = min4 if isinstance(term, IP4) else min6
                if prefix < least:
                    problems.append(
                        f"{record.name}: {term.render()} is wider than a /{least} "
                        f"(min_ipv{4 if bits == 32 else 6}_prefix)"
                    )
    return problems


def _safety(
    build: DomainBuild,
    current: Mapping[str, RecordSet],
    resolver: Resolver,
    max_ipv4: int,
    max_ipv6: int,
    probed: set[tuple[str, ...]] | None = None,
) -> list[str]:
    """Reasons to refuse publishing this domain's records without --force.

    ``probed`` holds the record shapes (:func:`_probe_shape`) that passed the probe in this
    run: one more of them is not evaluated again.
    """
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
    problems += _wide_ranges(
        result.packed, build.intent.min_ipv4_prefix, build.intent.min_ipv6_prefix
    )
    domain = build.intent.domain
    root = current.get(domain)
    published = {name: [split_txt(text)] for name, text in result.texts.items() if name != domain}
    published[domain] = [split_txt(v) for v in (*foreign_values(root), result.texts[domain])]
    shape = _probe_shape(build)
    if shape is not None and probed is not None and shape in probed:
        return problems  # the same records under other names passed the probe
    after = OverlayResolver(resolver, published)
    probe = evaluate("192.0.2.1", f"postmaster@{domain}", domain, resolver=after)
    if probe.result.is_error:
        problems.append(
            f"after the change receivers would get {probe.result.value}: {probe.reason}"
        )
    elif probe.result is Result.NONE:
        problems.append("after the change the domain would have no SPF record")
    elif shape is not None and probed is not None:
        probed.add(shape)
    return problems


def _probe_shape(build: DomainBuild) -> tuple[str, ...] | None:
    """The build's record texts with their chained names numbered, when addresses alone
    decide their results (nothing kept, no ``exp=``, every name valid): records of the
    same shape give the probe the same result. None otherwise."""
    result = build.result
    if result is None or result.kept or build.intent.record.explanation is not None:
        return None
    names = [r.name for r in result.packed]
    if not all(is_valid_domain(n) for n in names):
        return None
    shape = []
    for record in result.packed:
        text = record.text
        for index, name in enumerate(names[1:], 1):
            text = text.replace(f"redirect={name}", f"redirect=\x00{index}")
        shape.append(text)
    return tuple(shape)
