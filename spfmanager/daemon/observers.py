"""What the daemon does with a settled run: notify, count, log.

Notifications follow the run's story, not every run: ``applied`` on a change published,
``held`` when a change is first held, ``error`` once a domain has failed
``notifications.error_after`` runs in a row, ``recovered`` when such a streak ends.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from spfmanager.config.notifications import NotificationsConfig
from spfmanager.daemon.history import History, Run
from spfmanager.daemon.logs import log_run
from spfmanager.daemon.metrics import Metrics
from spfmanager.daemon.notify import (
    Event,
    EventKind,
    Notifier,
    error_alert_due,
    recovery_alert_due,
)
from spfmanager.daemon.runner import FAILURES, DomainRun, Observer, Outcome

log = logging.getLogger("spfmanager.daemon")


class NotifyObserver:
    """Turns settled runs into notification events."""

    def __init__(self, notifier: Notifier, error_after: int) -> None:
        self.notifier = notifier
        self.error_after = error_after

    def event(self, run: DomainRun, previous: Run | None, history: History) -> Event | None:
        """The event ``run`` calls for, if any."""
        details: dict[str, Any] = {
            "run": run.run_id,
            "diff": list(run.diff),
            "changes": list(run.changes),
        }
        if run.outcome in FAILURES:
            streak = history.failures_in_a_row(run.domain)
            if error_alert_due(streak, self.error_after):
                details |= {"error": run.reason, "failures": streak}
                return Event(EventKind.ERROR, run.domain, run.reason, details)
            return None
        if run.outcome is Outcome.HELD:
            if previous is not None and previous.outcome == Outcome.HELD.value:
                return None
            details |= {"reasons": [run.reason]}
            return Event(EventKind.HELD, run.domain, run.reason, details)
        if run.outcome in (Outcome.APPLIED, Outcome.UNCHANGED):
            before = _failures_before(history, run)
            if recovery_alert_due(before, self.error_after):
                details |= {"failures": before}
                return Event(EventKind.RECOVERED, run.domain, run.reason, details)
            if run.outcome is Outcome.APPLIED:
                return Event(EventKind.APPLIED, run.domain, run.reason, details)
        return None

    def settled(self, run: DomainRun, previous: Run | None, history: History) -> None:
        event = self.event(run, previous, history)
        if event is None:
            return
        self.notifier.send(event)  # logs each channel that failed; never raises


def _failures_before(history: History, run: DomainRun) -> int:
    count = 0
    for earlier in history.runs(run.domain, limit=1000):
        if earlier.id == run.run_id:
            continue
        if earlier.outcome not in {o.value for o in FAILURES}:
            break
        count += 1
    return count


class MetricsObserver:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def settled(self, run: DomainRun, previous: Run | None, history: History) -> None:
        self.metrics.observe_run(
            run.domain,
            run.outcome.value,
            run.duration,
            lookups=run.lookups,
            records=run.records,
            bytes_=run.bytes,
            passing=run.passing or None,
            upstream_changed=bool(run.diff),
            error_cause=run.cause,
        )


class LogObserver:
    def settled(self, run: DomainRun, previous: Run | None, history: History) -> None:
        log_run(
            log, run.domain, run.outcome.value, run.duration, run_id=run.run_id, reason=run.reason
        )


def standard_observers(
    notifications: NotificationsConfig | None,
    base_dir: Path,
    *,
    metrics: Metrics | None = None,
) -> tuple[Observer, ...]:
    """Logs, metrics (when served) and notifications (when configured)."""
    observers: list[Observer] = [LogObserver()]
    if metrics is not None:
        observers.append(MetricsObserver(metrics))
    if notifications is not None and notifications.channels:
        observers.append(
            NotifyObserver(Notifier(notifications, base_dir), notifications.error_after)
        )
    return tuple(observers)
