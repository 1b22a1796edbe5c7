"""Fixtures: one :class:`~tests.conformance.receivers.ReceiverLab` for the session, and the
RFC 7208 suite's outcomes per implementation, computed once."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conformance.receivers import Outcome, ReceiverLab, require
from tests.conformance.suite import run_suite
from tests.integration.bind import require_named

SuiteOutcomes = Callable[[str], dict[str, Outcome]]


@pytest.fixture(scope="session")
def receiver_lab() -> Iterator[ReceiverLab]:
    """A BIND on 127.0.0.1 for the session, with the drivers of every implementation."""
    require_named()
    with ReceiverLab() as lab:
        yield lab


@pytest.fixture(scope="session")
def suite_outcomes(receiver_lab: ReceiverLab) -> SuiteOutcomes:
    """``suite_outcomes(impl)``: every RFC 7208 suite test's outcome from ``impl`` (run once
    per session, one batch per scenario); skips when ``impl`` is not installed."""
    cache: dict[str, dict[str, Outcome]] = {}

    def outcomes(impl: str) -> dict[str, Outcome]:
        require(impl)
        if impl not in cache:
            cache[impl] = run_suite(receiver_lab, impl)
        return cache[impl]

    return outcomes
