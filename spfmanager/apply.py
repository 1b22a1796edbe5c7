"""Apply a plan exactly, phase by phase, so that DNS is never left in a broken state.

Per provider zone: create the chained records, wait until the provider serves them, switch
the roots, then delete the retired names that are due. A failure stops the run before the
next phase: the old root still points at the old chain, which is still there, so the live
record set stays valid and the next run retries. Before anything is sent, the current
records must still be what the plan was made from (a stale plan is refused).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from spfmanager.errors import SPFManagerError
from spfmanager.plan import Phase, Plan, UnsafePlanError
from spfmanager.providers.base import Change, Create, Delete, Provider, TxtRecordSet, Update
from spfmanager.state import PendingDeletion, State, utcnow

log = logging.getLogger(__name__)


class StalePlanError(SPFManagerError):
    """DNS changed since the plan was made: plan again."""


class VisibilityTimeoutError(SPFManagerError):
    """New records did not become visible at the provider in time; the roots were not switched."""


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
                )
            )
        return items

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> list[ApplyItem]:
        """Read the ``domains`` of a saved ``plan --out`` file."""
        items = []
        for domain in data["domains"]:
            changes = tuple((Phase[c["phase"].upper()], _change(c)) for c in domain["changes"])
            records = domain.get("records")
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
                )
            )
        return items


def _rrset(data: Mapping[str, Any]) -> TxtRecordSet:
    return TxtRecordSet(data["name"], tuple(data["values"]), int(data["ttl"]))


def _change(data: Mapping[str, Any]) -> Change:
    action = data["action"]
    if action == "create":
        return Create(_rrset(data["new"]))
    if action == "update":
        return Update(_rrset(data["old"]), _rrset(data["new"]))
    return Delete(_rrset(data["old"]))


@dataclass
class ApplyReport:
    applied: list[Change] = field(default_factory=list)
    deleted_pending: list[str] = field(default_factory=list)
    scheduled: list[PendingDeletion] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        return {
            "applied": [{"action": type(c).__name__.lower(), "name": c.name} for c in self.applied],
            "scheduled_deletions": [
                {"name": p.name, "not_before": p.not_before.isoformat()} for p in self.scheduled
            ],
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
) -> ApplyReport:
    """Apply ``plan``; ``providers(provider_name, zone)`` opens the adapter for a zone."""
    if isinstance(plan, Plan):
        if plan.unsafe and not force:
            raise UnsafePlanError(
                "refusing an unsafe plan (use --force): " + "; ".join(plan.unsafe)
            )
        items = ApplyItem.from_plan(plan)
    else:
        items = list(plan)
    now = now or utcnow()
    report = ApplyReport()
    groups: dict[tuple[str, str], list[ApplyItem]] = {}
    for item in items:
        groups.setdefault((item.provider, item.zone), []).append(item)
    for (provider_name, zone), group in groups.items():
        provider = providers(provider_name, zone)
        changes = [(phase, change) for item in group for phase, change in item.changes]
        _check_fresh(provider, [c for _, c in changes])
        chain = [c for p, c in changes if p is Phase.CHAIN]
        roots = [c for p, c in changes if p is Phase.ROOT]
        cleanup = [c for p, c in changes if p is Phase.CLEANUP]
        if chain:
            provider.apply(chain)
            report.applied += chain
            _wait_visible(provider, chain, visibility_timeout, poll_interval, sleep)
        if roots:
            provider.apply(roots)
            report.applied += roots
        if cleanup:
            provider.apply(cleanup)
            report.applied += cleanup
            state.remove_pending(provider_name, zone, [c.name for c in cleanup])
            report.deleted_pending += [c.name for c in cleanup]
        for item in group:
            if item.records is not None:
                state.record_published(
                    item.domain, {n: list(s) for n, s in item.records.items()}, item.lookups, now
                )
            not_before = now + timedelta(seconds=item.retire_after)
            schedule = [
                PendingDeletion(provider_name, zone, name, item.domain, not_before)
                for name in item.retire
            ]
            state.add_pending(schedule)
            report.scheduled += schedule
        if changes:
            state.log_apply(provider_name, zone, [_describe(c) for _, c in changes], now)
    return report


def _describe(change: Change) -> str:
    return f"{type(change).__name__.lower()} {change.name}"


def _same(a: TxtRecordSet, b: TxtRecordSet) -> bool:
    return sorted(a.values) == sorted(b.values) and a.ttl == b.ttl


def _check_fresh(provider: Provider, changes: Sequence[Change]) -> None:
    """Refuse when a name no longer holds what the plan was made from."""
    if not changes:
        return
    current = provider.list_records({c.name for c in changes})
    for change in changes:
        have = current.get(change.name)
        if isinstance(change, Create):
            if have is not None and not _same(have, change.new):
                raise StalePlanError(f"{change.name} appeared since the plan was made: plan again")
        elif isinstance(change, Update):
            if have is None or not (_same(have, change.old) or _same(have, change.new)):
                raise StalePlanError(f"{change.name} changed since the plan was made: plan again")
        elif have is not None and not _same(have, change.old):
            raise StalePlanError(f"{change.name} changed since the plan was made: plan again")


def _wait_visible(
    provider: Provider,
    created: Sequence[Change],
    timeout: float,
    interval: float,
    sleep: Callable[[float], None],
) -> None:
    """Poll the provider until every created/updated record is served as planned."""
    wanted = {c.name: c.new for c in created if isinstance(c, Create | Update)}
    deadline = time.monotonic() + timeout
    while True:
        current = provider.list_records(wanted)
        missing = [
            n for n, rrset in wanted.items() if n not in current or not _same(current[n], rrset)
        ]
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise VisibilityTimeoutError(
                f"{provider.name} zone {provider.zone}: {', '.join(missing)} not visible after "
                f"{timeout:.0f}s; the root records were not switched"
            )
        log.info("waiting for %s to become visible", ", ".join(missing))
        sleep(interval)
