"""What the benchmarks report about the machine and their own processes."""

from __future__ import annotations

import os
import platform
from typing import Any

import spfmanager


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
