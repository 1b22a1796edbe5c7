"""SPFResult.cause says why, for programs; cause_target names the include/redirect concerned."""

from __future__ import annotations

from typing import Any

import pytest

import spfmanager
from spfmanager import Cause, Result

LOOPS = {f"l{i}.example": [{"TXT": f"v=spf1 include:l{i + 1}.example -all"}] for i in range(12)}
CASES: list[tuple[str, dict[str, Any], str, Result, Cause, str | None]] = [
    (
        "ok",
        {"d.example": [{"TXT": "v=spf1 ip4:192.0.2.1 -all"}]},
        "192.0.2.1",
        Result.PASS,
        Cause.MATCHED,
        None,
    ),
    (
        "neutral",
        {"d.example": [{"TXT": "v=spf1 ip4:192.0.2.9"}]},
        "192.0.2.1",
        Result.NEUTRAL,
        Cause.NO_MATCH,
        None,
    ),
    ("none", {}, "192.0.2.1", Result.NONE, Cause.NO_RECORD, None),
    (
        "two",
        {"d.example": [{"TXT": "v=spf1 -all"}, {"TXT": "v=spf1 +all"}]},
        "192.0.2.1",
        Result.PERMERROR,
        Cause.MULTIPLE_RECORDS,
        None,
    ),
    (
        "syntax",
        {"d.example": [{"TXT": "v=spf1 ip4:1/2"}]},
        "192.0.2.1",
        Result.PERMERROR,
        Cause.SYNTAX_ERROR,
        None,
    ),
    (
        "include-none",
        {
            "d.example": [{"TXT": "v=spf1 include:x.example include:y.example"}],
            "x.example": [{"TXT": "v=spf1 include:gone.example -all"}],
        },
        "192.0.2.1",
        Result.PERMERROR,
        Cause.INCLUDE_MISSING,
        "gone.example",
    ),
    (
        "redirect-none",
        {"d.example": [{"TXT": "v=spf1 redirect=gone.example"}]},
        "192.0.2.1",
        Result.PERMERROR,
        Cause.REDIRECT_MISSING,
        "gone.example",
    ),
    (
        "lookups",
        {
            "d.example": [{"TXT": "v=spf1 include:l0.example -all"}],
            **LOOPS,
            "l12.example": [{"TXT": "v=spf1 -all"}],
        },
        "192.0.2.1",
        Result.PERMERROR,
        Cause.TOO_MANY_LOOKUPS,
        None,
    ),
    (
        "voids",
        {"d.example": [{"TXT": "v=spf1 a:n1.example a:n2.example a:n3.example -all"}]},
        "192.0.2.1",
        Result.PERMERROR,
        Cause.TOO_MANY_VOID_LOOKUPS,
        None,
    ),
    (
        "timeout",
        {"d.example": [{"TXT": "v=spf1 include:slow.example -all"}], "slow.example": ["TIMEOUT"]},
        "192.0.2.1",
        Result.TEMPERROR,
        Cause.DNS_ERROR,
        None,
    ),
]


@pytest.mark.parametrize(
    ("zone", "ip", "result", "cause", "target"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_cause(
    zone: dict[str, Any], ip: str, result: Result, cause: Cause, target: str | None
) -> None:
    outcome = spfmanager.evaluate(
        ip, "a@d.example", "h.example", resolver=spfmanager.SnapshotResolver(zone)
    )
    assert (outcome.result, outcome.cause) == (result, cause), outcome.reason
    if target is not None:
        assert outcome.cause_target == target
    assert outcome.data["cause"] == cause.value


def test_invalid_domain() -> None:
    outcome = spfmanager.evaluate(
        "192.0.2.1", "a@localhost", "h", resolver=spfmanager.SnapshotResolver({})
    )
    assert (outcome.result, outcome.cause) == (Result.NONE, Cause.INVALID_DOMAIN)
