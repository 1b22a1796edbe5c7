"""``spfmanager status``: every domain's last run, held changes and pending deletions."""

# ruff: noqa: PLC0415  (the state store is imported inside the command: --help needs none of it)

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from spfmanager.cli.app import app
from spfmanager.cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    StateOption,
    clean_errors,
    console,
    print_json,
)
from spfmanager.cli.workspace import offline_workspace


@app.command("status")
def status_command(
    config: ConfigOption = Path("spfmanager.yaml"),
    state: StateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show each domain's last run, what is held (and why) and the deletions still waiting.

    Exit status: 0 nothing held or failing; 2 something held, failing or waiting; 1 error.
    """
    from spfmanager.daemon.history import History

    with clean_errors():
        workspace = offline_workspace(config, state)
        history = History(workspace.state)
        last = history.last_runs()
        holds = {h.domain: h for h in history.holds()}
        rows: list[dict[str, Any]] = []
        for intent in workspace.intents:
            provider = workspace.provider_name(intent)
            waiting = [
                p
                for p in workspace.state.pending(provider, intent.zone)
                if p.domain == intent.domain
            ]
            run = last.get(intent.domain)
            hold = holds.get(intent.domain)
            rows.append(
                {
                    "domain": intent.domain,
                    "last_run": None if run is None else run.data,
                    "hold": None if hold is None else hold.data | {"reason": hold.reason},
                    "pending_deletions": [
                        {"name": p.name, "not_before": p.not_before.isoformat()} for p in waiting
                    ],
                }
            )
    attention = any(
        r["hold"]
        or r["pending_deletions"]
        or (r["last_run"] and r["last_run"]["outcome"] in ("failed", "upstream-error"))
        for r in rows
    )
    if as_json:
        print_json({"domains": rows})
    else:
        table = Table(title="spfmanager status")
        for column in ("domain", "last run", "outcome", "reason", "held", "waiting deletions"):
            table.add_column(column, overflow="fold")  # in full, never "…"
        for row in rows:
            run = row["last_run"]
            cells = (
                row["domain"],
                "-" if run is None else run["finished_at"],
                "-" if run is None else run["outcome"],
                "" if run is None else run["reason"],
                "" if row["hold"] is None else row["hold"]["reason"],
                "\n".join(f"{p['name']} after {p['not_before']}" for p in row["pending_deletions"]),
            )
            table.add_row(*map(Text, cells))  # Text: reasons are never markup or emoji codes
        console().print(table)
    raise typer.Exit(int(ExitCode.PROBLEMS if attention else ExitCode.OK))
