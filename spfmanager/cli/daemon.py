"""``spfmanager daemon``: keep every domain's SPF fresh as upstream IPs change."""

# ruff: noqa: PLC0415  (the daemon is imported inside the command: --help needs none of it)

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from spfmanager.cli.app import app
from spfmanager.cli.common import (
    ConfigOption,
    ExitCode,
    NameserverOption,
    PortOption,
    SnapshotOption,
    StateOption,
    clean_errors,
    fail,
)
from spfmanager.cli.runs import open_runner
from spfmanager.cli.workspace import offline_workspace

if TYPE_CHECKING:
    from spfmanager.config.schedule import ScheduleConfig
    from spfmanager.daemon.http import ObservabilityServer
    from spfmanager.daemon.scheduler import Daemon
    from spfmanager.publish.workflow import Workspace

log = logging.getLogger("spfmanager.daemon")

STOP_TIMEOUT = 25.0  # seconds the running domain gets to finish its apply on SIGTERM


@app.command("daemon")
def daemon_command(
    config: ConfigOption = Path("spfmanager.yaml"),
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            metavar="SECONDS",
            min=1,
            help="Override every domain's schedule.interval.",
        ),
    ] = None,
    snapshot: SnapshotOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
    state: StateOption = None,
    metrics_address: Annotated[
        str | None,
        typer.Option(
            "--metrics-address", metavar="HOST:PORT", help="Serve /metrics and /healthz here."
        ),
    ] = None,
    log_format: Annotated[
        str, typer.Option("--log-format", metavar="json|text", help="Log lines as JSON or text.")
    ] = "text",
) -> None:
    """Re-flatten, prove, plan and apply every domain on its schedule, until SIGTERM.

    Each run takes the same path as 'plan' and 'apply'. Upstream DNS errors keep the last
    good record; unsafe changes are held until 'spfmanager approve'. With several instances
    on one PostgreSQL state store, each domain runs on one instance per interval.

    Exit status: 0 stopped by SIGTERM or SIGINT (a failing run is logged, never ends the
    daemon); 1 error at start (bad config or option, state store unavailable, --metrics-address
    cannot be served).
    """
    from spfmanager.daemon.http import serve
    from spfmanager.daemon.logs import configure_logging
    from spfmanager.daemon.metrics import Metrics
    from spfmanager.daemon.observers import standard_observers
    from spfmanager.daemon.scheduler import Daemon

    if log_format not in ("json", "text"):
        fail(f"--log-format must be json or text, not {log_format!r}")
    fmt: Literal["json", "text"] = "json" if log_format == "json" else "text"
    server: ObservabilityServer | None = None
    with clean_errors():
        configure_logging(fmt)
        workspace = offline_workspace(config, state)
        schedules = {
            intent.domain: _override(intent.schedule, interval) for intent in workspace.intents
        }
        metrics = Metrics()
        runner = open_runner(config, snapshot, nameserver, port, state, lease=_lease(schedules))
        runner.observers = standard_observers(
            workspace.config.notifications, config.parent, metrics=metrics
        )
        daemon = Daemon(runner, schedules)
        if metrics_address is not None:
            try:
                server = serve(metrics_address, metrics, _health(daemon, workspace))
            except (ValueError, OSError) as exc:
                fail(f"--metrics-address {metrics_address}: {exc}")
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("signal %s: stopping after the running domain", signal.Signals(signum).name)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        daemon.start()
        metrics.set_scheduler_running(True)
        try:
            while not stop.wait(1.0):
                metrics.set_scheduler_running(daemon.running)
        finally:
            metrics.set_scheduler_running(False)
            finished = daemon.stop(STOP_TIMEOUT)
            if server is not None:
                server.close()
            log.info("daemon stopped%s", "" if finished else " (a run was still going)")
    raise typer.Exit(int(ExitCode.OK))


def _override(schedule: ScheduleConfig, interval: float | None) -> ScheduleConfig:
    from spfmanager.config.schedule import ScheduleConfig

    if interval is None:
        return schedule
    return ScheduleConfig(
        interval=interval,
        jitter=min(schedule.jitter, interval / 10),
        min_interval=min(schedule.min_interval, interval),
    )


def _lease(schedules: dict[str, ScheduleConfig]) -> float:
    """How long a domain stays this instance's after a run: just under the shortest
    interval, so the owner runs it again on time and others only after it lapses."""
    shortest = min((s.interval for s in schedules.values()), default=60.0)
    return max(1.0, shortest * 0.9)


def _health(daemon: Daemon, workspace: Workspace) -> Callable[[], tuple[bool, str]]:
    def check() -> tuple[bool, str]:
        if not daemon.running:
            return False, "scheduler not running"
        try:
            workspace.state.ping()
        except Exception as exc:  # any failure of the store is "unhealthy"
            return False, f"state store: {type(exc).__name__}"
        return True, "ok"

    return check
