"""``spfmanager approve DOMAIN``: let exactly the held change through on the next run."""

# ruff: noqa: PLC0415  (the state store is imported inside the command: --help needs none of it)

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
    fail,
    print_json,
)
from spfmanager.cli.workspace import offline_workspace


@app.command("approve")
def approve_command(
    domain: Annotated[str, typer.Argument(help="The domain whose held change to approve.")],
    config: ConfigOption = Path("spfmanager.yaml"),
    state: StateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve the change held for DOMAIN (or end a rollback's pin).

    Only the held record set is approved: if upstream changes again before the next run,
    the new change is held anew. Exit status: 0 approved; 1 nothing is held or error.
    """
    from spfmanager.daemon.history import History
    from spfmanager.publish.state import utcnow

    with clean_errors():
        workspace = offline_workspace(config, state)
        name = domain.rstrip(".").lower()
        if name not in {i.domain for i in workspace.intents}:
            fail(f"{domain} is not a domain of {config}")
        hold = History(workspace.state).approve(name, utcnow())
    if hold is None:
        fail(f"nothing is held for {name}")
    if as_json:
        print_json(hold.data | {"reason": hold.reason})
    else:
        message = f"approved: {name}: {hold.reason}; published on the next run"
        console().print(Text(message), soft_wrap=True)  # not markup: the reason echoes DNS
    raise typer.Exit(int(ExitCode.OK))
