"""Run the CLI as a user does: a fresh ``python -m spfmanager`` process, output captured."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

ROOT = Path(__file__).parents[2]
TERMINAL_SIZE = ("COLUMNS", "LINES")  # unset: rich sizes a piped console to its content


def environment(
    base: Mapping[str, str] | None = None,
    *,
    unset: Collection[str] = (),
    checkout: bool = False,
    **extra: str,
) -> dict[str, str]:
    """``base`` (this process's environment by default) without the names in ``unset``,
    with ``extra`` set; ``checkout`` puts this checkout first on ``PYTHONPATH``, so that
    its spfmanager runs, not whatever is installed."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in unset}
    if checkout:
        path = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        env["PYTHONPATH"] = path.rstrip(os.pathsep)
    return env | extra


def run_cli(
    *args: str | Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m spfmanager ARGS`` in ``cwd``; ``env`` the whole environment (None: this
    process's, see :func:`environment`), ``input`` its stdin. Never raises on a non-zero
    exit status: the test reads it."""
    return subprocess.run(
        [sys.executable, "-m", "spfmanager", *map(str, args)],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
