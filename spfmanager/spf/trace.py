"""The step-by-step trace of an evaluation, for explaining a result to a human."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class TraceStep:
    depth: int
    kind: StepKind
    message: str
    lookups: int
    void_lookups: int

    @property
    def data(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "kind": self.kind.value,
            "message": self.message,
            "lookups": self.lookups,
            "void_lookups": self.void_lookups,
        }

    def __str__(self) -> str:
        return f"{'  ' * self.depth}[{self.kind.value}] {self.message}"
