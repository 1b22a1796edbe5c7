"""The official RFC 7208 test suite (and RFC 4408 where the rule did not change),
driven through the public API only."""

from __future__ import annotations

import pytest

import spfmanager
from tests.spf.suite import SuiteCase, load_suite

RFC7208 = list(load_suite("rfc7208-tests.yml"))

# Every RFC 4408 test lists the RFC 7208 result among its acceptable ones where the rule changed.
RFC4408 = list(load_suite("rfc4408-tests.yml"))


def run_case(case: SuiteCase) -> spfmanager.SPFResult:
    resolver = spfmanager.SnapshotResolver(case.zonedata)
    return spfmanager.evaluate(
        case.host, case.mailfrom, case.helo, resolver=resolver, default_explanation="DEFAULT"
    )


@pytest.mark.parametrize("case", RFC7208, ids=[c.id for c in RFC7208])
def test_rfc7208(case: SuiteCase) -> None:
    outcome = run_case(case)
    assert outcome.result in case.results, f"{case.spec}: {outcome.reason}"
    if case.explanation is not None and outcome.result == "fail":
        assert outcome.explanation == case.explanation


@pytest.mark.parametrize("case", RFC4408, ids=[c.id for c in RFC4408])
def test_rfc4408_unchanged_rules(case: SuiteCase) -> None:
    outcome = run_case(case)
    assert outcome.result in case.results, f"{case.spec}: {outcome.reason}"
    if case.explanation is not None and outcome.result == "fail":
        assert outcome.explanation == case.explanation


def test_suites_are_complete() -> None:
    assert len(RFC7208) == 203
    assert len(RFC4408) == 191
