"""Replace a file so that a reader sees the old content or the new, never a part.

The data goes to a temporary file in the same directory (the same file system, so the
rename is atomic), is flushed and fsync'ed, given its permissions, then ``os.replace``-d
over ``path``; the directory is fsync'ed too (by default) so that the rename survives a
crash. On any error the temporary is removed and ``path`` is left as it was.

``path`` is replaced as named: a symlink is replaced by the file, not written through.
Callers that must keep a link resolve it first and pass the target.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

NEW_FILE_MODE = 0o644  # a new file readable by the daemons that serve it (BIND, rbldnsd)


def write_atomic(
    path: str | Path,
    data: bytes | str,
    *,
    mode: int | None = None,
    fsync_dir: bool = True,
    encoding: str = "utf-8",
    prefix: str | None = None,
    suffix: str = ".tmp",
) -> None:
    """Make ``path`` hold ``data`` atomically (``str`` is encoded with ``encoding``).

    ``mode``: the permission bits of the new file; None keeps those of the file it
    replaces (:data:`NEW_FILE_MODE` when there is none). The temporary is named
    ``<prefix>XXXXXXXX<suffix>`` beside ``path`` (``prefix`` defaults to ``.<name>.``), so
    that what an interrupted write leaves behind is recognisable."""
    path = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = NEW_FILE_MODE
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}." if prefix is None else prefix, suffix=suffix, dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if fsync_dir:
        fsync_directory(path.parent)


def fsync_directory(directory: str | Path) -> None:
    """Make a rename in ``directory`` durable (POSIX: the directory entry is data too);
    best effort: a directory that cannot be opened or synced is passed over."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
