"""Write the rbldnsd data file so a running rbldnsd never reads half of it.

rbldnsd re-reads a data file whose modification time changed (every ``-c`` seconds, or
on SIGHUP). The new text goes to a temporary file in the same directory (same file
system: the rename is atomic), is flushed and fsync'ed, then ``os.replace``-d over the
old file, and the directory is fsync'ed so the rename survives a crash. A reader opens
either the old file or the new one, never a partial one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_dataset(path: str | Path, text: str) -> bool:
    """Atomically make ``path`` hold ``text``; False (and nothing written) when it already
    does, so an unchanged dataset keeps its modification time and rbldnsd does not reload."""
    path = Path(path)
    data = text.encode("ascii")
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == data:
            return False
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # rbldnsd may run as another user
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True
