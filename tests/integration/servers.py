"""The context-manager protocol every loopback server fixture shares, and how they stop."""

from __future__ import annotations

import subprocess
from types import TracebackType
from typing import Any, Self


def stop_process(process: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """Terminate ``process`` (if it still runs), killing it after ``timeout`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class LoopbackServer:
    """A server a test runs on 127.0.0.1: ``with Server(...) as server`` starts it and stops
    it on the way out, whatever happened. Subclasses define ``start`` and ``stop``."""

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
