"""What an audit reports: findings with a severity, a stable code, a message and a fix.

A finding's code is a :class:`~spfmanager.spf.results.Cause` when it says why receivers
fail (the evaluator's vocabulary, shared with ``explain``), else a :class:`Code` for what
only a static audit sees: weak policies, deprecated terms, walk limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from spfmanager.spf.results import Cause


class Severity(StrEnum):
    """How bad a finding is; ``ERROR`` means receivers get permerror/temperror or worse."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for the most severe, for sorting."""
        return _RANK[self]


_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


class Code(StrEnum):
    """Stable identifiers of the problems only an audit detects (for scripts and ``--json``).

    Failure causes the evaluator also reports (no record, several records, a syntax error,
    the lookup limits, a missing include or redirect target, a DNS error) are not repeated
    here: findings carry the :class:`~spfmanager.spf.results.Cause` member itself.
    """

    DOMAIN_MISSING = "domain-missing"
    NOT_ASCII = "not-ascii"
    VOID_LOOKUP = "void-lookup"
    LONG_STRING = "txt-string-over-255"
    LARGE_ANSWER = "answer-over-512-bytes"
    PASS_ALL = "plus-all"
    NEUTRAL_ALL = "neutral-all"
    NO_ALL = "no-all"
    REDIRECT_IGNORED = "redirect-ignored"
    PTR = "deprecated-ptr"
    INCLUDE_LOOP = "include-loop"
    MACRO_TARGET = "macro-target"
    TREE_TRUNCATED = "tree-truncated"
    DEADLINE = "deadline-exceeded"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem (or remark) about a record in the tree.

    ``domain`` is the name whose record has the problem; ``detail`` holds extra text for
    humans, such as the record with a caret under a syntax error.
    """

    severity: Severity
    code: Cause | Code
    domain: str
    message: str
    fix: str
    detail: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "code": self.code.value,
            "domain": self.domain,
            "message": self.message,
            "fix": self.fix,
            "detail": self.detail,
        }
