"""Apply a plan exactly, phase by phase, so that DNS is never left in a broken state.

Per provider zone, holding the zone's lock (the adapter's own, e.g. a file lock for zone
files, else the state store's lease) so that two writers never interleave:

1. the current records must still be what the plan was made from (a stale plan is
   refused); changes already in effect (another run applied them) are dropped;
2. create the chained records and wait until the provider serves them;
3. re-read every name the new roots point at and switch the roots only if each holds
   exactly the records the plan proved;
4. delete the retired names that are due — re-read the zone first, and keep any name an
   SPF record staying in the zone still points at.

A failure stops the run before the next phase: the old root still points at the old chain,
which is still there, so the live record set stays valid and the next run retries.

``progress`` (optional) hears of each change as it is applied (``create <name>``) and of each
poll that still waits for records to become visible (``waiting for <names> ...``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from spfmanager.errors import StalePlanError, UnsafePlanError, VisibilityTimeoutError
from spfmanager.providers.base import Provider
from spfmanager.publish.build import Progress
from spfmanager.publish.changes import Change, Create, Delete, RecordSet, Update, change_from_data
from spfmanager.publish.macro import MacroData, ZoneChanges, write_data
from spfmanager.publish.plan import Phase, Plan, protected
from spfmanager.publish.state import PendingDeletion, ServiceSizes, State, utcnow

log = logging.getLogger(__name__)

#: Seconds added to the old root's TTL before its retired names may go: a receiver that got
#: the old root just before it expired still needs the chain for its whole evaluation (RFC
#: 7208 4.6.4 suggests allowing at least 20 s), and secondary servers may lag.
RETIRE_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class ApplyItem:
    """One domain's part of a plan, in the form a saved plan file keeps."""

    domain: str
    provider: str
    zone: str
    changes: tuple[tuple[Phase, Change], ...]
    retire: tuple[str, ...] = ()
    retire_after: int = 0
    records: Mapping[str, Sequence[str]] | None = None  # name -> strings, for the state store
    lookups: int = 0
    cancel: tuple[str, ...] = ()  # scheduled deletions to drop: the names are in use
    service_sizes: ServiceSizes | None = None  # the shrink/growth baseline to record

    @classmethod
    def from_plan(cls, plan: Plan) -> list[ApplyItem]:
        items = []
        for domain in plan.domains:
            result = domain.build.result
            items.append(
                cls(
                    domain.domain,
                    domain.provider,
                    domain.zone,
                    tuple((c.phase, c.change) for c in domain.changes),
                    domain.retire,
                    domain.retire_after,
                    None if result is None else result.records,
                    0 if result is None else result.lookups,
                    domain.cancel,
                    domain.service_sizes,
                )
            )
        return items

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> list[ApplyItem]:
        """Read the ``domains`` of a saved ``plan --out`` file."""
        items = []
        for domain in data["domains"]:
            changes = tuple(
                (Phase[c["phase"].upper()], change_from_data(c)) for c in domain["changes"]
            )
            records = domain.get("records")
            sizes = domain.get("service_addresses")
            items.append(
                cls(
                    domain["domain"],
                    domain["provider"],
                    domain["zone"],
                    changes,
                    tuple(domain.get("retire", ())),
                    int(domain.get("retire_after_seconds", 0)),
                    None if records is None else {r["name"]: r["strings"] for r in records},
                    int(domain.get("lookups") or 0),
                    tuple(domain.get("cancel_pending", ())),
                    None
                    if sizes is None
                    else {
                        str(s): {int(v): int(n) for v, n in fam.items()} for s, fam in sizes.items()
                    },
                )
            )
        return items


@dataclass
class ApplyReport:
    applied: list[Change] = field(default_factory=list)
    deleted_pending: list[str] = field(default_factory=list)
    scheduled: list[PendingDeletion] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # due for deletion, but still pointed at
    macro_written: str | None = None  # the macro data file, when this apply rewrote it
    macro_changes: list[str] = field(default_factory=list)  # "records: 12 changes in zone"

    @property
    def data(self) -> dict[str, Any]:
        return {
            "applied": [{"action": type(c).__name__.lower(), "name": c.name} for c in self.applied],
            "macro_data_written": self.macro_written,
            "macro_changes": list(self.macro_changes),
            "scheduled_deletions": [
                {"name": p.name, "not_before": p.not_before.isoformat()} for p in self.scheduled
            ],
            "kept": list(self.kept),
        }


def apply_plan(
    plan: Plan | Sequence[ApplyItem],
    providers: Callable[[str, str], Provider],
    state: State,
    *,
    force: bool = False,
    now: datetime | None = None,
    visibility_timeout: float = 120.0,
    poll_interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    lock_timeout: float = 300.0,
    retire_grace: float = RETIRE_GRACE_SECONDS,
    progress: Progress | None = None,
    macro: MacroData | None = None,
    macro_zones: Sequence[ZoneChanges] = (),
) -> ApplyReport:
    """Apply ``plan``; ``providers(provider_name, zone)`` opens the adapter for a zone.

    Macro mode: the proven data file (``plan.macro``, or ``macro`` with saved items) is
    written first, atomically, before any root changes, so that no receiver meets a root
    naming data that is not served yet; an unchanged file is not rewritten. Then the
    macro zones' changes (``plan.macro.zones`` or ``macro_zones``: the records backend's
    records, one batch, then the delegation), each waited for until visible.

    ``progress(what)`` is called after each change is applied and on each poll that still
    waits for records to become visible.

    A retired name may be deleted ``retire_after`` (the old root's TTL) plus
    ``retire_grace`` seconds after its root was switched — counted from the end of the
    switch, not from ``now``: the visibility wait before it may take minutes.
    """
    if isinstance(plan, Plan):
        if plan.unsafe and not force:
            raise UnsafePlanError(
                "refusing an unsafe plan (use --force): " + "; ".join(plan.unsafe)
            )
        items = ApplyItem.from_plan(plan)
        if plan.macro is not None:
            macro = plan.macro.data
            macro_zones = plan.macro.zones
    else:
        items = list(plan)
    now = now or utcnow()
    report = ApplyReport()
    if macro is not None and macro.text is not None and write_data(macro):
        report.macro_written = str(macro.path)
        (progress or _silent)(f"write {macro.path}")
    groups: dict[tuple[str, str], list[ApplyItem]] = {}
    for item in items:
        groups.setdefault((item.provider, item.zone), []).append(item)
    tell: Progress = progress or _silent
    wait = partial(
        _wait_visible, timeout=visibility_timeout, interval=poll_interval, sleep=sleep, tell=tell
    )
    for zone_changes in macro_zones:
        if zone_changes.changes:
            provider = providers(zone_changes.provider, zone_changes.zone)
            with _zone_lock(
                provider, state, zone_changes.provider, zone_changes.zone, lock_timeout
            ):
                _apply_macro_zone(provider, zone_changes, state, report, now, wait, tell)
    for (provider_name, zone), group in groups.items():
        provider = providers(provider_name, zone)
        with _zone_lock(provider, state, provider_name, zone, lock_timeout):
            _apply_zone(
                provider,
                provider_name,
                zone,
                group,
                state,
                report,
                now,
                wait,
                retire_grace,
                tell,
            )
    return report


def _silent(what: str) -> None:
    """No progress reporting."""


@contextmanager
def _zone_lock(
    provider: Provider, state: State, provider_name: str, zone: str, timeout: float
) -> Iterator[None]:
    """The adapter's own lock of the zone, else the state store's lease."""
    with provider.exclusive(timeout) as held:
        if held:
            yield
            return
        with state.zone_lock(provider_name, zone, timeout=timeout):
            yield


def _apply_zone(
    provider: Provider,
    provider_name: str,
    zone: str,
    group: Sequence[ApplyItem],
    state: State,
    report: ApplyReport,
    now: datetime,
    wait_visible: Callable[[Provider, Sequence[Change]], None],
    retire_grace: float,
    tell: Progress,
) -> None:
    """One provider zone's part of the plan, under the zone's lock."""
    started = time.monotonic()
    planned = [(phase, change) for item in group for phase, change in item.changes]
    todo = set(_still_to_do(provider, [c for _, c in planned]))
    changes = [(p, c) for p, c in planned if c in todo]
    state.remove_pending(provider_name, zone, [n for item in group for n in item.cancel])
    chain = [c for p, c in changes if p is Phase.CHAIN]
    roots = [c for p, c in changes if p is Phase.ROOT]
    cleanup = [c for p, c in changes if p is Phase.CLEANUP]
    done: list[Change] = []
    if chain:
        provider.apply(chain)
        done += chain
        _told(tell, chain)
        wait_visible(provider, chain)
    if roots:
        _still_to_do(provider, roots)  # nobody switched a root while we waited
        _check_chains(provider, [i for i in group if any(p is Phase.ROOT for p, _ in i.changes)])
        provider.apply(roots)
        done += roots
        _told(tell, roots)
    switched = now + timedelta(seconds=time.monotonic() - started + retire_grace)
    if cleanup:
        live = provider.list_records()
        kept = protected(live, [c.name for c in cleanup])
        if kept:
            log.warning("not deleting %s: still pointed at", ", ".join(sorted(kept)))
        deletions = [c for c in cleanup if c.name not in kept]
        provider.apply(deletions)
        done += deletions
        _told(tell, deletions)
        state.remove_pending(provider_name, zone, [c.name for c in cleanup])
        report.deleted_pending += [c.name for c in deletions]
        report.kept += sorted(kept)
    report.applied += done
    for item in group:
        if item.records is not None:
            state.record_published(item.domain, item.records, item.lookups, now)
        if item.service_sizes is not None:
            state.record_service_sizes(item.domain, item.service_sizes)
        not_before = switched + timedelta(seconds=item.retire_after)
        schedule = [
            PendingDeletion(provider_name, zone, name, item.domain, not_before)
            for name in item.retire
        ]
        state.add_pending(schedule)
        report.scheduled += schedule
    if done:
        state.log_apply(provider_name, zone, [_describe(c) for c in done], now)


def _apply_macro_zone(
    provider: Provider,
    zone_changes: ZoneChanges,
    state: State,
    report: ApplyReport,
    now: datetime,
    wait_visible: Callable[[Provider, Sequence[Change]], None],
    tell: Progress,
) -> None:
    """One macro zone's changes in one batch (atomic where the adapter is), then visible."""
    todo = _still_to_do(provider, zone_changes.changes)
    if not todo:
        return
    provider.apply(todo)
    what = f"macro {zone_changes.purpose}: {len(todo):,} change(s) in {zone_changes.zone}"
    tell(what if len(todo) > 3 else "; ".join(_describe(c) for c in todo))
    wait_visible(provider, todo)
    report.macro_changes.append(what)
    state.log_apply(zone_changes.provider, zone_changes.zone, [_describe(c) for c in todo], now)


def _describe(change: Change) -> str:
    kind = "" if change.rtype == "TXT" else f" {change.rtype}"
    return f"{type(change).__name__.lower()} {change.name}{kind}"


def _told(tell: Progress, changes: Sequence[Change]) -> None:
    for change in changes:
        tell(_describe(change))


def _same(a: RecordSet, b: RecordSet) -> bool:
    return sorted(a.values) == sorted(b.values) and a.ttl == b.ttl


def _current(provider: Provider, sets: Sequence[Change]) -> dict[tuple[str, str], RecordSet]:
    """What the provider holds now at the changes' names, by (name, type)."""
    found: dict[tuple[str, str], RecordSet] = {}
    for rtype in sorted({c.rtype for c in sets}):
        names = {c.name for c in sets if c.rtype == rtype}
        for name, rrset in provider.list_records(names, rtype).items():
            found[(name, rtype)] = rrset
    return found


def _still_to_do(provider: Provider, changes: Sequence[Change]) -> list[Change]:
    """The changes not yet in effect; refuse when a name no longer holds what the plan
    was made from (and is not already what the plan wants)."""
    if not changes:
        return []
    current = _current(provider, changes)
    todo: list[Change] = []
    for change in changes:
        have = current.get((change.name, change.rtype))
        name = change.name if change.rtype == "TXT" else f"{change.name} {change.rtype}"
        if isinstance(change, Delete):
            if have is None:
                continue
            if not _same(have, change.old):
                raise StalePlanError(f"{name} changed since the plan was made: plan again")
        elif have is not None and _same(have, change.new):
            continue
        elif isinstance(change, Create):
            if have is not None:
                raise StalePlanError(f"{name} appeared since the plan was made: plan again")
        elif have is None or not _same(have, change.old):
            raise StalePlanError(f"{name} changed since the plan was made: plan again")
        todo.append(change)
    return todo


def _check_chains(provider: Provider, items: Sequence[ApplyItem]) -> None:
    """Right before the roots switch: every chained name they will point at holds exactly
    the proven record (another writer or a cleanup may have changed it meanwhile)."""
    wanted = {
        name: "".join(strings)
        for item in items
        if item.records is not None
        for name, strings in item.records.items()
        if name != item.domain
    }
    if not wanted:
        return
    current = provider.list_records(wanted)
    for name, text in sorted(wanted.items()):
        have = current.get(name)
        if have is None or text not in have.values:
            raise StalePlanError(
                f"{name} does not hold the proven record any more; the root was not "
                "switched: plan again"
            )


def _wait_visible(
    provider: Provider,
    created: Sequence[Change],
    timeout: float,
    interval: float,
    sleep: Callable[[float], None],
    tell: Progress = _silent,
) -> None:
    """Poll the provider until every created/updated record is served as planned."""
    upserts = [c for c in created if isinstance(c, Create | Update)]
    wanted = {(c.name, c.rtype): c.new for c in upserts}
    deadline = time.monotonic() + timeout
    while True:
        current = _current(provider, upserts)
        missing = [
            k[0] for k, rrset in wanted.items() if k not in current or not _same(current[k], rrset)
        ]
        if len(missing) > 5:
            missing = [*missing[:5], f"{len(missing) - 5} more"]
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise VisibilityTimeoutError(
                f"{provider.name} zone {provider.zone}: {', '.join(missing)} not visible after "
                f"{timeout:.0f}s; the root records were not switched"
            )
        log.info("waiting for %s to become visible", ", ".join(missing))
        left = max(0.0, deadline - time.monotonic())
        tell(
            f"waiting for {', '.join(missing)} to become visible at {provider.name} "
            f"(up to {left:.0f}s more)"
        )
        sleep(interval)
