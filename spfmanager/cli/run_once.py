"""``spfmanager run-once``: one guarded pass over every domain, for cron and CronJobs."""

# ruff: noqa: PLC0415  (the daemon is imported inside the command: --help needs none of it)

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from spfmanager.cli.app import app
from spfmanager.cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    NameserverOption,
    PortOption,
    SnapshotOption,
    StateOption,
    clean_errors,
    console,
    print_json,
)
from spfmanager.cli.runs import open_runner
from spfmanager.cli.workspace import offline_workspace


@app.command("run-once")
def run_once_command(
    config: ConfigOption = Path("spfmanager.yaml"),
    domain: Annotated[
        list[str] | None, typer.Option("--domain", "-d", help="Only this domain (repeatable).")
    ] = None,
    snapshot: SnapshotOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
    state: StateOption = None,
    as_json: JsonOption = False,
) -> None:
    """One pass of the daemon over every domain: build, prove, plan, apply — guarded.

    Upstream DNS errors keep the last good record; unsafe changes are held until
    'spfmanager approve'. Exit status: 0 every domain applied or unchanged; 2 something was
    held or failed; 1 error (bad config, state store unavailable).
    """
    from spfmanager.daemon.observers import standard_observers
    from spfmanager.daemon.runner import FAILURES, Outcome

    styles = {
        Outcome.APPLIED: "green",
        Outcome.UNCHANGED: "dim",
        Outcome.HELD: "bold yellow",
        Outcome.UPSTREAM_ERROR: "red",
        Outcome.FAILED: "bold red",
        Outcome.SKIPPED: "dim",
    }
    with clean_errors():
        notifications = offline_workspace(config, state).config.notifications
        runner = open_runner(config, snapshot, nameserver, port, state)
        runner.observers = standard_observers(notifications, config.parent)
        runs = runner.run(set(domain) if domain else None)
    if as_json:
        print_json({"runs": [r.data for r in runs]})
    else:
        out = console()
        for run in runs:  # Text, not markup: reasons echo DNS data; one line each, in full
            outcome = (f"{run.outcome.value:>14}", styles[run.outcome])
            out.print(Text.assemble(outcome, f" {run.domain}: {run.reason}"), soft_wrap=True)
            for line in run.diff:
                out.print(Text(f"{'':>15} {line}"), soft_wrap=True)
    held = any(r.outcome in FAILURES or r.outcome is Outcome.HELD for r in runs)
    raise typer.Exit(int(ExitCode.PROBLEMS if held else ExitCode.OK))
