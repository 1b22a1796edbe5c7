"""How far each upstream service's authorized address space moved since the last apply.

A vendor whose record drops to ``v=spf1 -all`` (or ``?all``), or loses most of its
addresses, is the flattener's blind spot: the result is still a valid, proven record — of
the wrong thing. Each service's terms (a catalog service, an ``include``, an ``a``/``mx``
host: whatever DNS decides) are measured on their own, as the number of addresses they
give ``pass``; :func:`compare_sizes` turns the change since the last apply into notes, and
into refusals past the intent's thresholds (``max_service_shrink``/``max_service_growth``).
Static ``ip4``/``ip6`` lists are not measured: they change only with the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spfmanager.flatten.decisions import normal_form, passing_addresses
from spfmanager.publish.state import ServiceSizes
from spfmanager.spf.terms import Record, Term

if TYPE_CHECKING:
    from spfmanager.compile import Intent
    from spfmanager.flatten.analyze import Analyzer

#: Config fields whose terms' addresses come from DNS.
MEASURED_FIELDS = frozenset({"services", "include", "a", "mx"})


def service_sizes(intent: Intent, analyzer: Analyzer) -> ServiceSizes:
    """Addresses each DNS-backed source of ``intent`` gives ``pass``, per address family."""
    groups: dict[str, list[Term]] = {}
    for term, sources in zip(intent.record.terms, intent.sources, strict=True):
        for source in sources:
            if source.field in MEASURED_FIELDS:
                groups.setdefault(str(source), []).append(term)
    return {
        label: passing_addresses(normal_form(analyzer.analyze(Record(tuple(terms)), intent.domain)))
        for label, terms in groups.items()
    }


@dataclass(frozen=True)
class ServiceDrift:
    """One service's change in one address family."""

    service: str
    version: int
    before: int
    after: int
    refused: bool

    @property
    def change(self) -> float:
        """The relative change: -1.0 for all addresses gone, 1.0 for doubled."""
        return (self.after - self.before) / self.before

    def describe(self) -> str:
        verb = "shrank" if self.after < self.before else "grew"
        text = (
            f"{self.service}: IPv{self.version} addresses {verb} from {self.before:,} to "
            f"{self.after:,} ({self.change:+.0%}) since the last apply"
        )
        if self.after == 0:
            text += " (did the vendor drop to '-all' or '?all'?)"
        return text + (": refused without --force" if self.refused else "")

    @property
    def data(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "family": f"ipv{self.version}",
            "before": self.before,
            "after": self.after,
            "change": round(self.change, 4),
            "refused": self.refused,
        }


def compare_sizes(
    before: Mapping[str, Mapping[int, int]] | None,
    after: Mapping[str, Mapping[int, int]] | None,
    max_shrink: float,
    max_growth: float,
) -> list[ServiceDrift]:
    """Every service whose addresses changed; ``refused`` past a threshold (fractions).

    Only services measured both times count: one just added or removed is a config change.
    A family that had no address before cannot shrink and its growth has no ratio: it is
    left to the absolute maximum of authorized addresses.
    """
    if not before or not after:
        return []
    drift: list[ServiceDrift] = []
    for service in sorted(before.keys() & after.keys()):
        for version in (4, 6):
            old = before[service].get(version, 0)
            new = after[service].get(version, 0)
            if old in (new, 0):
                continue
            ratio = (new - old) / old
            refused = -ratio > max_shrink if new < old else ratio > max_growth
            drift.append(ServiceDrift(service, version, old, new, refused))
    return drift
