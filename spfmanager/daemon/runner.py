"""One pass of the daemon over some domains: build, prove, plan and apply, guarded.

The pass takes exactly the path of ``spfmanager plan`` and ``apply`` (a
:class:`~spfmanager.publish.workflow.Workspace`), per domain, and settles each one:

* ``upstream-error`` — the build failed on upstream DNS (a timeout, SERVFAIL, an include that
  vanished): nothing is published, the last good record stays;
* ``failed`` — the build or the apply failed otherwise;
* ``held`` — the plan is unsafe (more addresses than the maximum, ``+all``, too short a
  prefix, a service that lost or gained too much): the change is recorded as a hold and
  published only after ``spfmanager approve`` — or dropped when upstream returns to normal;
  a rollback pins the domain the same way;
* ``applied`` / ``unchanged``; for a macro-mode domain, a rewritten data file (the
  shared rbldnsd dataset, after an upstream change) is an applied change too;
* ``skipped`` — another instance holds the domain's lease for this interval.

Every settled run is recorded in :mod:`spfmanager.daemon.history` with the upstream
answers used, and reported to the notifier and the metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from spfmanager.daemon.history import History, Run, fingerprint
from spfmanager.daemon.metrics import UPSTREAM_CAUSES, build_cause, cause_of
from spfmanager.dns.base import Resolver
from spfmanager.dns.recording import RecordingResolver
from spfmanager.errors import SPFManagerError
from spfmanager.flatten import Flattener
from spfmanager.flatten.cover import forget_covers
from spfmanager.flatten.pack import forget_sizes
from spfmanager.publish.drift import range_changes
from spfmanager.publish.plan import DomainPlan, Plan
from spfmanager.publish.state import State, utcnow
from spfmanager.publish.workflow import Workspace
from spfmanager.spf.evaluate import forget_records

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    HELD = "held"
    UPSTREAM_ERROR = "upstream-error"
    FAILED = "failed"
    SKIPPED = "skipped"


FAILURES = frozenset({Outcome.UPSTREAM_ERROR, Outcome.FAILED})
LOOKBACK = 1000  # runs read back to find the last one that knew the addresses
# Domains built and planned at a time in a pass: small enough that a stop (SIGTERM) is seen
# within seconds, large enough that per-plan overheads do not matter.
PLAN_CHUNK = 50


@dataclass(frozen=True)
class DomainRun:
    """How one domain's run ended."""

    domain: str
    outcome: Outcome
    reason: str
    duration: float
    run_id: int | None = None
    changes: tuple[str, ...] = ()
    diff: tuple[str, ...] = ()  # address-level changes of the services since the last run
    lookups: int | None = None
    records: int | None = None
    bytes: int | None = None
    passing: dict[int, int] = field(default_factory=dict)
    min_ttl: int | None = None  # the shortest TTL of the upstream answers used
    cause: str | None = None  # for a failure: its cause label (see daemon.metrics)

    @property
    def data(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "duration_seconds": round(self.duration, 4),
            "run_id": self.run_id,
            "changes": list(self.changes),
            "diff": list(self.diff),
            "lookups": self.lookups,
            "records": self.records,
            "bytes": self.bytes,
        }


class Observer(Protocol):
    """What hears about settled runs (notifications, metrics, logs)."""

    def settled(self, run: DomainRun, previous: Run | None, history: History) -> None: ...


ResolverFactory = Callable[[], Resolver]


class Runner:
    """Runs passes over a config's domains; one Runner per daemon instance.

    ``resolvers()`` gives the upstream resolver of a pass (the daemon shares one caching
    resolver between passes; a snapshot is re-read when its file changed). ``lease``
    seconds: how long a domain stays this instance's after it ran it.
    """

    def __init__(
        self,
        config_path: Path,
        resolvers: ResolverFactory,
        *,
        state_url: str | None = None,
        instance: str = "local",
        lease: float = 0.0,
        observers: Collection[Observer] = (),
        retire_grace: float | None = None,
    ) -> None:
        self.config_path = config_path
        self.resolvers = resolvers
        self.state_url = state_url
        self.instance = instance
        self.lease = lease
        self.observers = tuple(observers)
        self.retire_grace = retire_grace
        self._state: State | None = None

    def run(
        self, domains: Collection[str] | None = None, *, stop: threading.Event | None = None
    ) -> list[DomainRun]:
        """One pass over ``domains`` (all of the config's by default). When ``stop`` is set
        the pass ends after the domain being settled (its apply finishes).

        The domains go ``PLAN_CHUNK`` at a time: each chunk is leased, built, planned and
        settled before the next, with one Flattener for the whole pass (DNS answers,
        analyses and proofs stay shared by every domain). So a stop is seen within one
        chunk's build, not after every domain's; the first domains publish before the last
        are built; and a lease is taken right before its domain runs, not at the start of
        a pass that may outlast it.
        """
        recorder = RecordingResolver(self.resolvers())
        workspace = Workspace.load(
            self.config_path, recorder, state_url=self.state_url, state=self._state
        )
        self._state = workspace.state  # one engine (and connection pool) for every pass
        history = History(workspace.state)
        wanted = [i.domain for i in workspace.intents if domains is None or i.domain in domains]
        flattener = Flattener(recorder)
        results: list[DomainRun] = []
        skipped: list[DomainRun] = []
        for start in range(0, len(wanted), PLAN_CHUNK):
            if stop is not None and stop.is_set():
                break
            mine: set[str] = set()
            for domain in wanted[start : start + PLAN_CHUNK]:
                if self.lease <= 0 or workspace.state.try_lease(
                    f"domain:{domain}", self.instance, self.lease
                ):
                    mine.add(domain)
                else:
                    reason = "another instance runs this domain in this interval"
                    skipped.append(DomainRun(domain, Outcome.SKIPPED, reason, 0.0))
            if not mine:
                continue
            started = time.monotonic()
            plan = workspace.plan(domains=mine, flattener=flattener)
            share = (time.monotonic() - started) / len(plan.domains) if plan.domains else 0.0
            snapshot = history.add_snapshot(recorder.zonedata())
            for domain_plan in plan.domains:
                if stop is not None and stop.is_set():
                    if self.lease > 0:  # not run: another instance may take it at once
                        lease = f"domain:{domain_plan.domain}"
                        workspace.state.release_lease(lease, self.instance)
                    continue
                results.append(
                    self._settle(
                        workspace, history, plan, domain_plan, snapshot, recorder.min_ttl, share
                    )
                )
        for run in skipped:
            self._tell(run, None, history)
        forget_records()  # a pass's record texts are not seen again: memory stays flat
        forget_sizes()
        forget_covers()
        return [*results, *skipped]

    def _settle(
        self,
        workspace: Workspace,
        history: History,
        plan: Plan,
        domain_plan: DomainPlan,
        snapshot: str,
        min_ttl: int | None,
        build_seconds: float,
    ) -> DomainRun:
        started_at = utcnow()
        clock = time.monotonic()
        domain = domain_plan.domain
        previous = next(iter(history.runs(domain, limit=1)), None)
        result = domain_plan.build.result
        outcome, reason, changes, cause = self._decide(workspace, history, plan, domain_plan)
        ranges = domain_plan.service_ranges
        baseline = _last_known(history, domain, previous)
        diff = tuple(range_changes(baseline.services, ranges)) if baseline and ranges else ()
        finished_at = utcnow()
        run_id = history.add_run(
            domain=domain,
            instance=self.instance,
            started_at=started_at,
            finished_at=finished_at,
            outcome=outcome.value,
            reason=reason,
            records=None if result is None else result.records,
            proof=None if result is None else result.proof.data,
            services=ranges,
            changes=changes,
            snapshot=snapshot,
        )
        run = DomainRun(
            domain=domain,
            outcome=outcome,
            reason=reason,
            duration=build_seconds + time.monotonic() - clock,
            run_id=run_id,
            changes=tuple(changes),
            diff=diff,
            lookups=None if result is None else result.lookups,
            records=None if result is None else len(result.packed),
            bytes=None if result is None else result.total_bytes,
            passing={} if result is None else dict(result.passing),
            min_ttl=min_ttl,
            cause=cause,
        )
        self._tell(run, previous, history)
        return run

    def _decide(
        self, workspace: Workspace, history: History, plan: Plan, domain_plan: DomainPlan
    ) -> tuple[Outcome, str, list[str], str | None]:
        domain = domain_plan.domain
        result = domain_plan.build.result
        hold = history.hold(domain)
        if result is None:
            last_good = workspace.state.last_good(domain)
            cause = build_cause(domain_plan.build.transient, domain_plan.build.cause)
            upstream = cause in UPSTREAM_CAUSES or last_good
            outcome = Outcome.UPSTREAM_ERROR if upstream else Outcome.FAILED
            kept = ""
            if upstream:  # say what stays only where a record was published before
                kept = (
                    "; the last good record stays"
                    if last_good
                    else "; nothing was published before"
                )
            return outcome, f"{domain_plan.error}{kept}", [], cause
        print_ = fingerprint(result.records)
        approved = hold is not None and hold.approved_at is not None
        if hold is not None and hold.pinned_run is not None and not approved:
            return Outcome.HELD, f"{hold.reason}: 'spfmanager approve {domain}' to resume", [], None
        force = False
        if domain_plan.unsafe:
            if hold is None or hold.fingerprint != print_ or not approved:
                reason = "; ".join(domain_plan.unsafe)
                history.set_hold(domain, reason, print_, utcnow())
                return Outcome.HELD, f"held until 'spfmanager approve {domain}': {reason}", [], None
            force = True  # exactly the change that was approved
        note = ""
        if hold is not None:
            history.release(domain)
            note = "approved change" if force else "upstream returned to normal: hold dropped"
        macro = plan.macro if domain_plan.build.dataset is not None else None
        if not domain_plan.changes and not (macro is not None and macro.changed):
            if fingerprint(workspace.state.last_good(domain)) != print_:
                # The zone serves the build but the store never recorded it: an apply
                # interrupted between its zone write and its state update (or a change by
                # hand). Record it now, so last-good and the drift baseline are current.
                workspace.state.record_published(domain, result.records, result.lookups, utcnow())
                if domain_plan.service_sizes is not None:
                    workspace.state.record_service_sizes(domain, domain_plan.service_sizes)
                reason = "served already but not recorded (an interrupted apply): recorded now"
                return Outcome.APPLIED, f"{reason}; {note}" if note else reason, [], None
            if _unrecorded_apply(workspace, history, domain, print_):
                reason = "published by a run that did not record it (killed, or a manual apply)"
                return Outcome.APPLIED, f"{reason}; {note}" if note else reason, [], None
            return Outcome.UNCHANGED, note or "in sync", [], None
        try:
            # A macro-mode domain's plan carries the shared data file: written first.
            single = Plan((domain_plan,), plan.created_at, forced=force, macro=macro)
            report = (
                workspace.apply(single, force=force)
                if self.retire_grace is None
                else workspace.apply(single, force=force, retire_grace=self.retire_grace)
            )
        except SPFManagerError as exc:
            return Outcome.FAILED, f"apply failed: {exc}", [], cause_of(exc)
        applied = [f"{type(c).__name__.lower()} {c.name}" for c in report.applied]
        applied[0:0] = report.macro_changes  # "macro records: 12 change(s) in zone"
        if report.macro_written is not None:
            applied.insert(0, f"write {report.macro_written}")
        if not applied:
            return Outcome.UNCHANGED, note or "in sync (another run applied it)", [], None
        summary = f"{len(applied)} change(s) applied"
        return Outcome.APPLIED, f"{summary}; {note}" if note else summary, applied, None

    def _tell(self, run: DomainRun, previous: Run | None, history: History) -> None:
        for observer in self.observers:
            try:
                observer.settled(run, previous, history)
            except Exception:  # an observer must never stop the daemon
                log.exception("observer %r failed for %s", observer, run.domain)


def _last_known(history: History, domain: str, latest: Run | None) -> Run | None:
    """The latest run of ``domain`` that knew its services' addresses: the baseline of the
    address-level diff. A failed run knows none; diffing against it would show every
    address as new (and count an upstream change) on the run after an outage."""
    if latest is None or latest.services is not None:
        return latest
    return next((r for r in history.runs(domain, limit=LOOKBACK) if r.services is not None), None)


def _unrecorded_apply(workspace: Workspace, history: History, domain: str, print_: str) -> bool:
    """Whether the records ``print_``, which ``domain``'s zone serves already, were applied
    without a run recording it: the store says they were published, and no applied or
    unchanged run has them. A daemon killed between an apply and its history record leaves
    this (so does ``spfmanager apply`` by hand); recorded as applied now, the change keeps
    its place in the history, its address-level diff and its notification."""
    settled = (Outcome.APPLIED.value, Outcome.UNCHANGED.value)
    latest = history.runs(domain, limit=1)
    if latest and latest[0].outcome in settled and fingerprint(latest[0].records) == print_:
        return False  # the usual case, in one look
    runs = history.runs(domain, limit=LOOKBACK)
    last = next((r for r in runs if r.outcome in settled), None)
    if last is not None and fingerprint(last.records) == print_:
        return False
    return fingerprint(workspace.state.last_good(domain)) == print_
