"""The ``spfmanager`` command line. Each command lives in its own module of this package.

May import anything: it is the top of the tree. A new command is a new module here,
imported by :mod:`spfmanager.cli.commands`.

Every ``--help`` imports every command module, so a command module imports at module
level only what its signature needs (typer, rich, option types such as
:class:`~spfmanager.publish.formats.ExportFormat`, :mod:`.defaults`) and the rest inside
the command: ``tests/cli/test_startup.py`` lists what ``--help`` may load.
"""

from __future__ import annotations

from spfmanager.cli import commands as _commands  # noqa: F401  (registers the commands)
from spfmanager.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
