"""Progress of long work on stderr: a rich bar on a terminal, one line per step otherwise.

Results go to stdout, progress to stderr, so ``--json`` output stays parseable and a CI
log still shows what a slow command is doing (a line per step instead of a bar).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from spfmanager.cli.common import error_console

Step = Callable[[str], None]
"""Called once per step done, with what the step was (a domain, a name, a phase)."""


@contextmanager
def steps(label: str, total: int | None, *, lines: bool = True) -> Iterator[Step]:
    """Report ``total`` steps of ``label`` (``None``: unknown count).

    On a terminal: a transient rich progress bar. Otherwise, with ``lines``: one line per
    step, ``label [i/total] what``, flushed at once; without ``lines``: nothing.
    """
    stream: TextIO = sys.stderr
    if stream.isatty():
        from rich.progress import Progress  # noqa: PLC0415  (only on a terminal)

        with Progress(console=error_console(), transient=True) as bar:
            task = bar.add_task(label, total=total)

            def advance(what: str) -> None:
                bar.update(task, advance=1, description=f"{label}: {what}")

            yield advance
        return
    done = 0

    def line(what: str) -> None:
        nonlocal done
        done += 1
        if lines:
            count = f"{done}/{total}" if total is not None else str(done)
            stream.write(f"{label} [{count}] {what}\n")
            stream.flush()

    yield line
