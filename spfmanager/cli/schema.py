"""``spfmanager schema``: print the JSON Schema of ``spfmanager.yaml``."""

# ruff: noqa: PLC0415  (the config models are imported inside the command: --help needs none of them)

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spfmanager.cli.app import app
from spfmanager.cli.common import fail

SCHEMA_HELP = (
    "Print the JSON Schema of spfmanager.yaml, for editors (yaml-language-server) and CI.\n\n"
    "Exit status: 0 written; 1 the output file cannot be written."
)


@app.command("schema", help=SCHEMA_HELP)
def schema(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout."),
    ] = None,
) -> None:
    from spfmanager.config import config_schema_json

    text = config_schema_json()
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
