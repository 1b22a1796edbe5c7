"""The typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="spfmanager",
    help="Sender-side SPF manager: audit, flatten, verify and publish SPF records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
