"""The context-manager protocol every loopback server fixture shares."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self


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
