"""The typer application every command module registers on."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from spfmanager import __version__

app = typer.Typer(
    name="spfmanager",
    help="Sender-side SPF manager: audit, flatten, verify and publish SPF records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"spfmanager {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Sender-side SPF manager: audit, flatten, verify and publish SPF records."""


# Exit statuses: 0 fine, 1 an error (a usage error too), 2 only "changes pending" (plan) or
# "problems found" (check, audit). Click exits 2 on a usage error (a bad option, a missing
# argument), which a CI script would read as "changes pending": spfmanager's usage errors
# exit 1. (The class is click's, vendored by typer: reached through its public subclass.)
USAGE_ERROR_STATUS = 1
_usage_error: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_usage_error.exit_code = USAGE_ERROR_STATUS
