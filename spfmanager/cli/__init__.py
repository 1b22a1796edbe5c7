"""The ``spfmanager`` command line. Each command lives in its own module of this package.

May import anything: it is the top of the tree. A new command is a new module here,
imported by :mod:`spfmanager.cli.commands`.

Every ``--help`` imports every command module, so a command module imports at module
level only what its signature needs (typer, rich, option types such as
:class:`~spfmanager.publish.formats.ExportFormat`, :mod:`.defaults`) and the rest inside
the command: ``tests/cli/test_startup.py`` lists what ``--help`` may load.
"""

from __future__ import annotations

import os
import sys

from spfmanager.cli import commands as _commands  # noqa: F401  (registers the commands)
from spfmanager.cli.app import app

DEBUG_ENV = "SPFMANAGER_DEBUG"  # =1: let an unexpected exception print its traceback


def main() -> None:
    """Console-script entry point.

    spfmanager's own errors are turned into one line by each command
    (:func:`~spfmanager.cli.common.clean_errors`). Anything else reaching here is a bug:
    it is reported as one line, ``internal error: TYPE: message (please report)``, with
    exit status 1, and its traceback only when ``SPFMANAGER_DEBUG=1``.
    """
    try:
        app()
    except Exception as exc:
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        detail = (str(exc).strip().splitlines() or [""])[0]
        name = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
        message = f"internal error: {name}: {detail}" if detail else f"internal error: {name}"
        print(
            f"{message} (please report it; set {DEBUG_ENV}=1 for the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)


__all__ = ["app", "main"]
