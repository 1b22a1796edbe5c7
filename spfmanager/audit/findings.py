"""What an audit reports: findings with a severity, a stable code, a message and a fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


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
    """Stable identifiers of the problems an audit detects (for scripts and ``--json``)."""

    NO_RECORD = "no-record"
    DOMAIN_MISSING = "domain-missing"
    MULTIPLE_RECORDS = "multiple-records"
    SYNTAX_ERROR = "syntax-error"
    NOT_ASCII = "not-ascii"
    TOO_MANY_LOOKUPS = "too-many-lookups"
    TOO_MANY_VOID_LOOKUPS = "too-many-void-lookups"
    VOID_LOOKUP = "void-lookup"
    TOO_MANY_MX = "too-many-mx"
    LONG_STRING = "txt-string-over-255"
    LARGE_ANSWER = "answer-over-512-bytes"
    PASS_ALL = "plus-all"
    NEUTRAL_ALL = "neutral-all"
    NO_ALL = "no-all"
    REDIRECT_IGNORED = "redirect-ignored"
    PTR = "deprecated-ptr"
    INCLUDE_MISSING = "include-missing"
    REDIRECT_MISSING = "redirect-missing"
    INCLUDE_LOOP = "include-loop"
    DNS_ERROR = "dns-error"
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
    code: Code
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
