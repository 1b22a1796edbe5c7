"""The RFC 7208 test suite (``tests/data/spf-suite/rfc7208-tests.yml``) as receiver batches.

The suite is loaded by :func:`tests.spf.suite.load_suite`, as the evaluator's own suite
test does; each scenario (one zonedata, many tests) is one :class:`~.receivers.Batch`.
:data:`UNSERVABLE` names the tests a real server cannot reproduce: they meet a name marked
``TIMEOUT`` (BIND answers it, so the timeout the suite expects never happens).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import spfmanager
from spfmanager.dns.base import Answer, RRType, normalize_name
from spfmanager.errors import DNSTemporaryError
from tests.conformance.receivers import Batch, Outcome, Query, ReceiverLab
from tests.spf.suite import SuiteCase, load_suite

SUITE_FILE = "rfc7208-tests.yml"
RFC7208 = list(load_suite(SUITE_FILE))
KNOWN_DEPARTURES_FILE = Path(__file__).parent / "known_departures.yaml"


class _TimeoutProbe:
    """A SnapshotResolver that notes whether a query met a name marked TIMEOUT."""

    def __init__(self, zonedata: Mapping[str, Any]) -> None:
        self._inner = spfmanager.SnapshotResolver(zonedata)
        self._names = {
            normalize_name(str(name)) for name, entries in zonedata.items() if "TIMEOUT" in entries
        }
        self.timed_out = False

    def query(self, name: str, rrtype: RRType) -> Answer:
        try:
            return self._inner.query(name, rrtype)
        except DNSTemporaryError:
            self.timed_out = self.timed_out or normalize_name(name) in self._names
            raise


def _meets_timeout(case: SuiteCase) -> bool:
    probe = _TimeoutProbe(case.zonedata)
    spfmanager.evaluate(case.host, case.mailfrom, case.helo, resolver=probe)
    return probe.timed_out


UNSERVABLE = frozenset(case.name for case in RFC7208 if _meets_timeout(case))

# Tests whose result depends on the order of an RRset in the answer, which BIND randomises
# (as real DNS does): the suite accepts two results for each, and libraries that stop
# after the first names (MX hosts, PTR names) vary between runs.
ORDER_DEPENDENT = {
    "mx-limit": "which 10 of the 11 MX hosts come first (4.6.4)",
    "ptr-limit": "which 10 of the 11 PTR names come first (4.6.4)",
    "p-macro-multiple": "which validated PTR name %{p} expands to (7.3)",
}


def query_of(case: SuiteCase) -> Query:
    return Query(case.host, case.mailfrom, case.helo)


def scenarios(cases: Iterable[SuiteCase] = RFC7208) -> list[tuple[Batch, list[SuiteCase]]]:
    """One batch per scenario, with its cases in batch order."""
    grouped: dict[str, list[SuiteCase]] = {}
    for case in cases:
        grouped.setdefault(case.scenario, []).append(case)
    return [
        (Batch(group[0].zonedata, tuple(query_of(c) for c in group)), group)
        for group in grouped.values()
    ]


def run_suite(lab: ReceiverLab, impl: str) -> dict[str, Outcome]:
    """Every suite test's outcome from ``impl``, by test name (one batch per scenario)."""
    plan = scenarios()
    answers = lab.run_many(impl, [batch for batch, _ in plan])
    return {
        case.name: outcome
        for (_, cases), outcomes in zip(plan, answers, strict=True)
        for case, outcome in zip(cases, outcomes, strict=True)
    }


def departures(outcomes: Mapping[str, Outcome]) -> dict[str, str]:
    """The servable tests whose result the suite does not accept, with the result name
    given (``"exception"`` where the library raised)."""
    expected = {case.name: case.results for case in RFC7208}
    return {
        name: outcome.name
        for name, outcome in sorted(outcomes.items())
        if name not in UNSERVABLE and outcome.name not in expected[name]
    }


@dataclass(frozen=True)
class KnownDeparture:
    """One committed departure: the test, the result(s) the library gives, and why."""

    impl: str
    case: str
    results: tuple[str, ...]  # RFC 7208 result names or "exception"; more than one: any
    section: str  # the RFC 7208 section the library departs from
    reason: str


def known_departures() -> dict[str, dict[str, KnownDeparture]]:
    """``known_departures.yaml``: per implementation, per test, the documented departure."""
    data = yaml.safe_load(KNOWN_DEPARTURES_FILE.read_text(encoding="utf-8")) or {}
    known: dict[str, dict[str, KnownDeparture]] = {}
    for impl, cases in data.items():
        known[impl] = {}
        for case, entry in (cases or {}).items():
            result = entry["result"]
            results = tuple(str(r) for r in result) if isinstance(result, list) else (str(result),)
            known[impl][case] = KnownDeparture(
                impl, case, results, str(entry["section"]), str(entry["reason"])
            )
    return known


PROFILE_GAPS_FILE = Path(__file__).parent / "profile_gaps.yaml"


def profile_gaps() -> dict[str, dict[str, str]]:
    """``profile_gaps.yaml``: per implementation, the suite tests and probes where its
    profile does not yet give the library's result, each with why (a reading not modelled).
    The conformance tests fail on any other difference, and on a listed one that closed."""
    data = yaml.safe_load(PROFILE_GAPS_FILE.read_text(encoding="utf-8")) or {}
    return {
        str(impl): {str(k): str(v) for k, v in (gaps or {}).items()} for impl, gaps in data.items()
    }
