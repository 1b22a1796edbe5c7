"""Compare each real receiver library with spfmanager's evaluator under that receiver's profile.

Usage (from any test, with the ``receiver_lab`` fixture of ``tests/conformance/conftest``)::

    differences = compare(lab, "pyspf", zonedata, [Query("192.0.2.1", "a@example.com", "h")])
    assert not differences, render(differences)

spfmanager is evaluated with ``profile=PROFILES[impl]`` through a LiveResolver on the
very BIND server the libraries query, serving the same zonedata: so a difference is a
difference of reading, never of what was served (BIND cannot serve ``TIMEOUT`` and merges
identical records; both sides see that alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import spfmanager
from spfmanager.spf.profiles import PROFILES
from tests.conformance.receivers import Batch, Outcome, Query, ReceiverLab, Zonedata


@dataclass(frozen=True)
class Difference:
    """A query where the library and spfmanager (under its profile) disagree."""

    impl: str
    label: str  # the caller's name for the probe (a suite test name, say)
    query: Query
    theirs: str  # the library's RFC 7208 result name (or "exception")
    ours: str  # spfmanager's, with profile=PROFILES[impl]
    their_detail: str
    our_reason: str

    def __str__(self) -> str:
        q = self.query
        return (
            f"{self.impl} {self.label}: {q.ip} from {q.mailfrom or '<>'} helo {q.helo}: "
            f"{self.impl}={self.theirs} spfmanager={self.ours} "
            f"({self.impl}: {self.their_detail[:120]!r}; spfmanager: {self.our_reason[:120]!r})"
        )


def ours(lab: ReceiverLab, impl: str, zonedata: Zonedata, query: Query) -> spfmanager.SPFResult:
    """spfmanager's evaluation of ``query`` under ``impl``'s profile, over the lab's server."""
    lab.serve(zonedata)
    return spfmanager.evaluate(
        query.ip,
        query.mailfrom,
        query.helo,
        resolver=lab.resolver(),
        profile=PROFILES[impl],
    )


def compare(
    lab: ReceiverLab,
    impl: str,
    zonedata: Zonedata,
    probes: Sequence[Query],
    labels: Sequence[str] | None = None,
) -> list[Difference]:
    """Every probe where ``impl`` and spfmanager (``profile=PROFILES[impl]``) disagree."""
    return compare_many(lab, impl, [(Batch(zonedata, tuple(probes)), labels)])


def compare_many(
    lab: ReceiverLab,
    impl: str,
    batches: Sequence[tuple[Batch, Sequence[str] | None]],
    answers: Sequence[Sequence[Outcome]] | None = None,
) -> list[Difference]:
    """:func:`compare` over many batches (one library run for all of them). ``answers``,
    when given, are the library's outcomes of those batches from an earlier run."""
    if answers is None:
        answers = lab.run_many(impl, [batch for batch, _ in batches])
    differences = []
    for (batch, labels), outcomes in zip(batches, answers, strict=True):
        names = list(labels) if labels is not None else [str(i) for i in range(len(outcomes))]
        for label, query, theirs in zip(names, batch.queries, outcomes, strict=True):
            difference = _difference(lab, impl, batch.zonedata, label, query, theirs)
            if difference is not None:
                differences.append(difference)
    return differences


def _difference(
    lab: ReceiverLab, impl: str, zonedata: Zonedata, label: str, query: Query, theirs: Outcome
) -> Difference | None:
    mine = ours(lab, impl, zonedata, query)
    if mine.result.value == theirs.name:
        return None
    return Difference(
        impl, label, query, theirs.name, mine.result.value, theirs.detail, mine.reason
    )


def render(differences: Sequence[Difference]) -> str:
    """One line per difference, for assertion messages and reports."""
    return "\n".join(str(d) for d in differences) or "no differences"
