"""``spfmanager rollback DOMAIN [--to RUN]``: republish an earlier proven record set."""

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
    StateOption,
    clean_errors,
    console,
    print_json,
)


@app.command("rollback")
def rollback_command(
    domain: Annotated[str, typer.Argument(help="The domain.")],
    to: Annotated[
        int | None,
        typer.Option(
            "--to", metavar="RUN", help="The run (default: the applied run before the latest)."
        ),
    ] = None,
    config: ConfigOption = Path("spfmanager.yaml"),
    state: StateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild a run's records from its stored upstream answers, prove them, and publish
    them through plan/apply (same rollover). The domain then stays pinned there until
    'spfmanager approve DOMAIN'. Exit status: 0 done; 1 refused or error."""
    from spfmanager.daemon.rollback import rollback

    with clean_errors():
        done = rollback(config, domain.rstrip(".").lower(), run_id=to, state_url=state)
    if as_json:
        print_json({"run": done.run.id, "applied": list(done.applied)})
    else:
        out = console()
        out.print(Text(f"rolled {domain} back to run {done.run.id}"), soft_wrap=True)
        for change in done.applied:  # Text, not markup: changes hold records; in full
            out.print(Text(f"  {change}"), soft_wrap=True)
        out.print(f"pinned: 'spfmanager approve {domain}' lets the daemon move it forward again")
    raise typer.Exit(int(ExitCode.OK))
