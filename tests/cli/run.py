"""Run the CLI as a user does: a fresh ``python -m spfmanager`` process, output captured
(:func:`run_cli`), or on a pseudo-terminal (:func:`run_in_terminal`)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Collection, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
TERMINAL_SIZE = ("COLUMNS", "LINES")  # unset: rich sizes a piped console to its content
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]")


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


def run_in_terminal(
    *args: str,
    cwd: Path,
    columns: int = 80,
    rows: int = 24,
    timeout: float = 120,
    prompt: bytes | None = None,
    answer: str | None = None,
) -> tuple[int, str]:
    """Run this checkout's spfmanager with stdin, stdout and stderr on a pseudo-terminal of
    ``columns`` x ``rows`` (the caller's COLUMNS and LINES unset). When ``prompt`` appears,
    type ``answer`` and a newline; without an answer the process is stopped there (it asked
    although it must not: the caller's assertions fail). Its exit status and everything the
    terminal showed, escape sequences removed, line ends as ``\\n``. Bounded: the test fails
    after ``timeout`` seconds."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "spfmanager", *args],
        cwd=cwd,
        env=environment(unset=TERMINAL_SIZE, checkout=True, TERM="xterm-256color"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    shown = b""
    asked = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"spfmanager {' '.join(args)} did not finish in {timeout} s")
            ready, _, _ = select.select([master], [], [], min(left, 0.2))
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if prompt is not None and not asked and prompt in shown:
                asked = True
                if answer is None:
                    break
                os.write(master, answer.encode() + b"\n")
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    code = process.wait(timeout=10)
    text = _ANSI.sub("", shown.decode("utf-8", "replace"))
    return code, text.replace("\r\n", "\n").replace("\r", "\n")
