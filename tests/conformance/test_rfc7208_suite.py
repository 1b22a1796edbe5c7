"""The RFC 7208 suite through each real receiver library, in batch.

1. Each library's departures from the suite are exactly those in ``known_departures.yaml``
   (a change of behaviour, either way, fails here).
2. spfmanager under each library's profile gives the library's result on every suite test
   (xfail, not strict, while the profiles are being completed; the failure message lists
   every difference).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spfmanager.spf.profiles import PROFILES
from spfmanager.spf.results import Result
from tests.conformance.conftest import SuiteOutcomes
from tests.conformance.differential import compare_many, render
from tests.conformance.receivers import EXCEPTION, IMPLEMENTATIONS, ReceiverLab, require
from tests.conformance.suite import (
    ORDER_DEPENDENT,
    RFC7208,
    UNSERVABLE,
    departures,
    known_departures,
    profile_gaps,
    scenarios,
)

pytestmark = [pytest.mark.conformance, pytest.mark.integration]  # BIND on 127.0.0.1

KNOWN = known_departures()
PROFILE_GAPS = profile_gaps()
CASES = {case.name: case for case in RFC7208}
RESULT_NAMES = {r.value for r in Result} | {EXCEPTION}


def test_unservable_cases_are_the_timeout_ones() -> None:
    """The tests left out (they need a DNS timeout) are the 6 the live-resolver test skips."""
    assert sorted(UNSERVABLE) == [
        "alltimeout",
        "exists-dnserr",
        "exp-dns-error",
        "include-temperror",
        "nospftxttimeout",
        "txttimeout",
    ]


def test_known_departures_file_is_well_formed() -> None:
    assert set(KNOWN) == set(IMPLEMENTATIONS)
    for impl, cases in KNOWN.items():
        for name, departure in cases.items():
            where = f"{impl}/{name}"
            assert name in CASES, f"{where}: no such suite test"
            assert name not in UNSERVABLE, f"{where}: the suite test cannot be served"
            assert set(departure.results) <= RESULT_NAMES, where
            assert not set(departure.results) <= set(CASES[name].results), (
                f"{where}: every listed result is one the suite accepts"
            )
            if len(departure.results) > 1:
                assert name in ORDER_DEPENDENT, f"{where}: several results, but not order-dependent"
            assert departure.section[0].isdigit() or departure.section[0] == "A", where
            assert departure.reason.strip(), where


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_suite_departures(impl: str, suite_outcomes: SuiteOutcomes) -> None:
    outcomes = suite_outcomes(impl)
    assert set(outcomes) == set(CASES)
    known = KNOWN[impl]
    got = departures(outcomes)
    # Order-dependent tests: any listed result, or any the suite accepts.
    for name in ORDER_DEPENDENT:
        got.pop(name, None)
        allowed = set(CASES[name].results) | set(known[name].results if name in known else ())
        assert outcomes[name].name in allowed, f"{name}: {outcomes[name]}"
    expected = {name: d.results[0] for name, d in known.items() if name not in ORDER_DEPENDENT}
    new = {
        n: f"{r} ({outcomes[n].raw}: {outcomes[n].detail[:100]})"
        for n, r in got.items()
        if expected.get(n) != r
    }
    gone = {
        n: f"documented {r}, now {outcomes[n].name}" for n, r in expected.items() if got.get(n) != r
    }
    assert got == expected, f"{impl}: new or changed departures {new}; no longer {gone}"


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_profile_matches_receiver_on_suite(
    impl: str, receiver_lab: ReceiverLab, suite_outcomes: SuiteOutcomes
) -> None:
    require(impl)
    assert impl in PROFILES
    outcomes = suite_outcomes(impl)
    plan = [(batch, [c.name for c in cases]) for batch, cases in scenarios()]
    answers = [[outcomes[c.name] for c in cases] for _, cases in scenarios()]
    differences = [
        d
        for d in compare_many(receiver_lab, impl, plan, answers)
        # Random RRset order decides these: both sides within what the suite accepts is no
        # difference of reading.
        if not (
            d.label in ORDER_DEPENDENT
            and {d.theirs, d.ours}
            <= set(CASES[d.label].results)
            | set(KNOWN[impl][d.label].results if d.label in KNOWN[impl] else ())
        )
    ]
    gaps = PROFILE_GAPS.get(impl, {})
    unexplained = [d for d in differences if d.label not in gaps]
    assert not unexplained, f"{len(unexplained)} differences:\n{render(unexplained)}"
    closed = sorted(set(gaps) & set(CASES) - {d.label for d in differences})
    assert not closed, f"{impl}: no longer different, remove from profile_gaps.yaml: {closed}"


def test_docs_list_every_departure() -> None:
    """docs/receivers.md shows the table of known_departures.yaml, row for row."""
    text = (Path(__file__).parents[2] / "docs" / "receivers.md").read_text(encoding="utf-8")
    rows = {line for line in text.splitlines() if line.startswith("| ")}
    for impl, cases in KNOWN.items():
        for name, departure in cases.items():
            start = f"| {impl} | `{name}` | {departure.section} |"
            assert any(row.startswith(start) for row in rows), f"docs/receivers.md: no {start}"
    counts = {impl: len(cases) for impl, cases in KNOWN.items()}
    summary = (
        f"pyspf departs on {counts['pyspf']}, Mail::SPF on {counts['mailspf']}, "
        f"mailauth on {counts['mailauth']}, libspf2 on {counts['libspf2']}."
    )
    assert summary in " ".join(text.split()), summary
