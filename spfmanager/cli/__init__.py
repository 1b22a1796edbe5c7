"""The ``spfmanager`` command line. Each command lives in its own module of this package."""

from __future__ import annotations

from spfmanager.cli import commands as _commands  # noqa: F401  (registers the commands)
from spfmanager.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
