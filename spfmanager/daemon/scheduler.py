"""The daemon's clock: one APScheduler 3 job per domain, due domains run together.

Each domain is a job with its own interval trigger (``schedule.interval`` plus
``jitter``). A job only marks its domain due; one worker thread runs every domain that
became due within a short window in a single :meth:`Runner.run` pass, so upstream answers
that many domains share are resolved once per pass, not once per domain. After a pass a
domain whose upstream answers expire sooner than its interval is rescheduled for that
moment (never sooner than ``min_interval``).

Stopping (SIGTERM, SIGINT) lets the running domain finish its apply, then returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from spfmanager.config.schedule import ScheduleConfig
from spfmanager.daemon.runner import DomainRun, Runner

log = logging.getLogger(__name__)

BATCH_WINDOW = 0.2  # seconds: domains due within this window run in one pass


class Daemon:
    """Schedules ``schedules``' domains on ``runner`` until :meth:`stop`."""

    def __init__(
        self,
        runner: Runner,
        schedules: Mapping[str, ScheduleConfig],
        *,
        batch_window: float = BATCH_WINDOW,
        on_pass: Callable[[list[DomainRun]], None] | None = None,
    ) -> None:
        self.runner = runner
        self.schedules = dict(schedules)
        self.batch_window = batch_window
        self.on_pass = on_pass
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._due: set[str] = set()
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="spfmanager-runner", daemon=True)
        self.passes = 0
        self.last_pass_at: float | None = None  # time.monotonic() of the last finished pass

    @property
    def running(self) -> bool:
        return self.scheduler.running and self._worker.is_alive() and not self._stopping.is_set()

    def start(self) -> None:
        now = datetime.now(UTC)
        for domain, schedule in self.schedules.items():
            self.scheduler.add_job(
                self._mark_due,
                IntervalTrigger(seconds=schedule.interval, jitter=schedule.jitter or None),
                args=[domain],
                id=domain,
                name=f"re-flatten {domain}",
                next_run_time=now,
            )
        self.scheduler.start()
        self._worker.start()
        log.info("daemon started: %d domain(s)", len(self.schedules))

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop scheduling; wait up to ``timeout`` for the running pass's current domain.
        True when the worker ended in time."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self._worker.join(timeout)
        return not self._worker.is_alive()

    def _mark_due(self, domain: str) -> None:
        with self._wake:
            self._due.add(domain)
            self._wake.notify_all()

    def _take_batch(self) -> set[str]:
        with self._wake:
            while not self._due and not self._stopping.is_set():
                self._wake.wait(1.0)
        if self._stopping.is_set():
            return set()
        time.sleep(self.batch_window)  # let domains due at the same moment join the pass
        with self._wake:
            batch, self._due = self._due, set()
        return batch

    def _work(self) -> None:
        while not self._stopping.is_set():
            batch = self._take_batch()
            if not batch:
                continue
            try:
                runs = self.runner.run(batch, stop=self._stopping)
            except Exception:  # a pass must never end the daemon: log and go on
                log.exception("pass over %d domain(s) failed", len(batch))
                continue
            self.passes += 1
            self.last_pass_at = time.monotonic()
            self._reschedule(runs)
            if self.on_pass is not None:
                self.on_pass(runs)

    def _reschedule(self, runs: list[DomainRun]) -> None:
        """Re-check a domain when its upstream answers expire, if before its next run."""
        now = datetime.now(UTC)
        for run in runs:
            schedule = self.schedules.get(run.domain)
            job = self.scheduler.get_job(run.domain) if self.scheduler.running else None
            if schedule is None or job is None or run.min_ttl is None:
                continue
            if run.min_ttl >= schedule.interval:
                continue
            early = now + timedelta(seconds=max(run.min_ttl, schedule.min_interval))
            if job.next_run_time is None or early < job.next_run_time:
                job.modify(next_run_time=early)
