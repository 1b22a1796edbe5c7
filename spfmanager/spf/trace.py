"""The step-by-step trace of an evaluation, for explaining a result to a human."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any


class StepKind(StrEnum):
    CHECK = "check"  # check_host() entered for a domain
    QUERY = "query"  # a DNS query and its answer
    RECORD = "record"  # the SPF record selected
    TERM = "term"  # a term evaluated without matching
    MATCH = "match"  # the term that decided the result
    LIMIT = "limit"  # a processing limit reached
    ERROR = "error"  # why the result is an error
    RESULT = "result"  # the result of one check_host() level
    NOTE = "note"


class TraceStep:
    """One step. The message is formatted only when read: evaluation stays fast."""

    __slots__ = ("_message", "depth", "kind", "lookups", "void_lookups")

    def __init__(
        self,
        depth: int,
        kind: StepKind,
        message: str | Callable[[], str],
        lookups: int,
        void_lookups: int,
    ) -> None:
        self.depth = depth
        self.kind = kind
        self._message = message
        self.lookups = lookups
        self.void_lookups = void_lookups

    @property
    def message(self) -> str:
        if not isinstance(self._message, str):
            self._message = self._message()
        return self._message

    @property
    def data(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "kind": self.kind.value,
            "message": self.message,
            "lookups": self.lookups,
            "void_lookups": self.void_lookups,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TraceStep) and self.data == other.data

    def __hash__(self) -> int:
        return hash((self.depth, self.kind, self.message))

    def __repr__(self) -> str:
        return f"TraceStep({self.depth}, {self.kind.value}, {self.message!r})"

    def __str__(self) -> str:
        return f"{'  ' * self.depth}[{self.kind.value}] {self.message}"
