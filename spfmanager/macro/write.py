"""Write the rbldnsd data file so a running rbldnsd never reads half of it.

rbldnsd re-reads a data file whose modification time changed (every ``-c`` seconds, or
on SIGHUP). The file is replaced with :func:`spfmanager.files.atomic.write_atomic` (a
temporary beside it, fsync'ed, renamed over it, the directory fsync'ed): a reader opens
either the old file or the new one, never a partial one.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from spfmanager.files.atomic import write_atomic


def write_dataset(path: str | Path, text: str) -> bool:
    """Atomically make ``path`` hold ``text``; False (and nothing written) when it already
    does, so an unchanged dataset keeps its modification time and rbldnsd does not reload."""
    path = Path(path)
    data = text.encode("ascii")
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == data:
            return False
    write_atomic(path, data, mode=0o644)  # rbldnsd may run as another user
    return True
