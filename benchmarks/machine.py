"""What the benchmarks report about the machine and their own processes."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import spfmanager

ROOT = Path(__file__).resolve().parents[1]


def environment() -> dict[str, Any]:
    """The interpreter, spfmanager's version, the platform and the CPU count."""
    return {
        "python": platform.python_version(),
        "spfmanager": spfmanager.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def status_kib(field: str, pid: int | str = "self") -> int | None:
    """A KiB field of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``...); None when the
    process is gone or /proc is not there."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure_in_child(
    module: str,
    *args: str,
    what: str,
    python: str = sys.executable,
    timeout: float | None = None,
) -> dict[str, Any]:
    """``python -m MODULE ARGS`` run from the checkout, in a fresh interpreter so that its
    peak RSS is its own; the JSON object on the last line of its stdout. Raises
    :class:`RuntimeError` naming ``what`` (with the end of its stderr) when it fails."""
    done = subprocess.run(
        [python, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row
