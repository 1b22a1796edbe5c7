"""``spfmanager history DOMAIN``: the runs of a domain and what each change authorized."""

# ruff: noqa: PLC0415  (the state store is imported inside the command: --help needs none of it)

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


@app.command("history")
def history_command(
    domain: Annotated[str, typer.Argument(help="The domain.")],
    config: ConfigOption = Path("spfmanager.yaml"),
    state: StateOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Runs to show.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show DOMAIN's runs, newest first, with the address-level diff of each change:
    which service gained (+) or lost (-) which ranges since the run before.

    Exit status: 0 shown (also when DOMAIN has no runs yet); 1 error (bad config, state
    store unavailable).
    """
    from spfmanager.daemon.history import History
    from spfmanager.daemon.runner import LOOKBACK
    from spfmanager.publish.drift import range_changes

    with clean_errors():
        workspace = offline_workspace(config, state)
        # further back than shown: the diff of a run after failed ones (which know no
        # addresses) is against the last run that knew them
        runs = History(workspace.state).runs(domain.rstrip(".").lower(), limit=limit + LOOKBACK)
    entries = []
    for index, run in enumerate(runs[:limit]):
        before = next((r for r in runs[index + 1 :] if r.services is not None), None)
        diff = range_changes(before.services, run.services) if before and run.services else []
        entries.append((run, diff))
    if as_json:
        print_json({"domain": domain, "runs": [r.data | {"diff": d} for r, d in entries]})
        raise typer.Exit(int(ExitCode.OK))
    table = Table(title=f"history of {domain}")
    for column in ("run", "finished", "outcome", "reason", "address changes"):
        table.add_column(column, overflow="fold")  # in full, never "…"
    for run, diff in entries:
        cells = (str(run.id), run.finished_at.isoformat(), run.outcome, run.reason, "\n".join(diff))
        table.add_row(*map(Text, cells))  # Text: reasons and ranges are never markup or emoji
    console().print(table)
    raise typer.Exit(int(ExitCode.OK))
