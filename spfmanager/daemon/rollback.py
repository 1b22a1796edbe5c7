"""Republish an earlier run's proven record set, through plan and apply.

The run's upstream answers were stored with it: flattening today's config over them gives
that run's records again, proven again. If it does not (the config changed since), the
rollback is refused rather than publishing something nobody proved for that run. After the
apply the domain is pinned (a hold naming the run) so the daemon does not flatten it
forward again until ``spfmanager approve``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spfmanager.daemon.history import History, Run, fingerprint
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import RollbackError
from spfmanager.publish.plan import Plan
from spfmanager.publish.state import utcnow
from spfmanager.publish.workflow import Workspace


@dataclass(frozen=True)
class Rollback:
    run: Run
    applied: tuple[str, ...]


def target_run(history: History, domain: str, run_id: int | None) -> Run:
    """The run to go back to: ``run_id``, else the applied run before the latest one."""
    if run_id is not None:
        run = history.run(run_id)
        if run is None or run.domain != domain:
            raise RollbackError(f"{domain} has no run {run_id} ('spfmanager history {domain}')")
        if run.records is None or run.snapshot is None:
            raise RollbackError(f"run {run_id} of {domain} has no proven records ({run.outcome})")
        return run
    applied = [r for r in history.runs(domain, limit=1000) if r.outcome == "applied"]
    if len(applied) < 2:
        raise RollbackError(f"{domain} has no earlier applied run to go back to")
    return applied[1]


def rollback(
    config: Path,
    domain: str,
    *,
    run_id: int | None = None,
    state_url: str | None = None,
    retire_grace: float | None = None,
) -> Rollback:
    """Publish run ``run_id``'s records for ``domain`` again and pin the domain there."""
    probe = Workspace.load(config, SnapshotResolver({}), state_url=state_url)
    history = History(probe.state)
    if domain not in {i.domain for i in probe.intents}:
        raise RollbackError(f"{domain} is not a domain of {config}")
    run = target_run(history, domain, run_id)
    zonedata = history.snapshot(run.snapshot or "")
    if zonedata is None:
        raise RollbackError(f"the upstream answers of run {run.id} are missing from the state")
    workspace = Workspace.load(
        config, SnapshotResolver(zonedata, source=f"run {run.id}"), state_url=state_url
    )
    plan = workspace.plan(domains={domain})
    (domain_plan,) = plan.domains
    result = domain_plan.build.result
    if result is None:
        raise RollbackError(f"run {run.id} cannot be rebuilt: {domain_plan.error}")
    if fingerprint(result.records) != fingerprint(run.records):
        raise RollbackError(
            f"run {run.id}'s records cannot be rebuilt from today's config (it changed "
            "since): restore that config, or edit the config instead"
        )
    single = Plan((domain_plan,), plan.created_at, forced=True)
    report = (
        workspace.apply(single, force=True)
        if retire_grace is None
        else workspace.apply(single, force=True, retire_grace=retire_grace)
    )
    now = utcnow()
    history.set_hold(
        domain, f"rolled back to run {run.id}", fingerprint(run.records), now, pinned_run=run.id
    )
    applied = tuple(f"{type(c).__name__.lower()} {c.name}" for c in report.applied)
    history.add_run(
        domain=domain,
        instance="rollback",
        started_at=now,
        finished_at=utcnow(),
        outcome="applied",
        reason=f"rollback to run {run.id}",
        records=result.records,
        proof=result.proof.data,
        services=domain_plan.service_ranges,
        changes=applied,
        snapshot=run.snapshot,
    )
    return Rollback(run, applied)
