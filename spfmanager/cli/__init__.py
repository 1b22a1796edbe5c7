"""The ``spfmanager`` command line. Each command lives in its own module of this package.

May import anything: it is the top of the tree. A new command is a new module here,
imported by :mod:`spfmanager.cli.commands`.
"""

from __future__ import annotations

from spfmanager.cli import commands as _commands  # noqa: F401  (registers the commands)
from spfmanager.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
