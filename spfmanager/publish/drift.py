"""How far each upstream service's authorized address space moved since the last apply.

A vendor whose record drops to ``v=spf1 -all`` (or ``?all``), or loses most of its
addresses, is the flattener's blind spot: the result is still a valid, proven record — of
the wrong thing. Each service's terms (a catalog service, an ``include``, an ``a``/``mx``
host: whatever DNS decides) are measured on their own, as the number of addresses they
give ``pass``; :func:`compare_sizes` turns the change since the last apply into notes, and
into refusals past the intent's thresholds (``max_service_shrink``/``max_service_growth``).
Static ``ip4``/``ip6`` lists are not measured: they change only with the config.

:func:`published_range_changes` is what a plan shows a human: per service, the ranges that
start or stop passing compared with the records published now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_network
from typing import TYPE_CHECKING, Any

from spfmanager.flatten.decisions import NormalPart, normal_form, passing_ranges
from spfmanager.publish.state import ServiceSizes
from spfmanager.spf.ranges import range_networks, subtract_ranges
from spfmanager.spf.terms import Record, Term

if TYPE_CHECKING:
    from spfmanager.compile import Intent
    from spfmanager.flatten.analyze import Analyzer
    from spfmanager.flatten.flattener import Flattener

ServiceRanges = dict[str, dict[str, list[str]]]  # service -> "4"/"6" -> CIDRs that pass

#: Config fields whose terms' addresses come from DNS.
MEASURED_FIELDS = frozenset({"services", "include", "a", "mx"})


def service_records(intent: Intent) -> dict[str, Record]:
    """The terms of each DNS-backed source of ``intent``, as a record of their own."""
    groups: dict[str, list[Term]] = {}
    for term, sources in zip(intent.record.terms, intent.sources, strict=True):
        for source in sources:
            if source.field in MEASURED_FIELDS:
                groups.setdefault(str(source), []).append(term)
    return {label: Record(tuple(terms)) for label, terms in groups.items()}


def service_ranges(
    intent: Intent,
    analyzer: Analyzer,
    *,
    form_of: Callable[[Record, str], Sequence[NormalPart]] | None = None,
) -> ServiceRanges:
    """The CIDRs each DNS-backed source of ``intent`` gives ``pass``, per address family.

    ``form_of(record, domain)`` gives a record's normal form (default: analysed afresh).
    """
    ranges: ServiceRanges = {}
    for label, record in service_records(intent).items():
        if form_of is None:
            form: Sequence[NormalPart] = normal_form(analyzer.analyze(record, intent.domain))
        else:
            form = form_of(record, intent.domain)
        ranges[label] = {str(v): _cidrs(form, v) for v in (4, 6)}
    return ranges


class ServiceMeter:
    """Measures the services of many intents in one run: each service (same terms, same
    ``keep``, not depending on the domain) is measured once, whatever intents it is in.

    Read only, the ranges and sizes it returns: other plans hold the same objects.
    """

    def __init__(self, flattener: Flattener) -> None:
        self.flattener = flattener
        self._known: dict[tuple[object, ...], tuple[dict[str, list[str]], dict[int, int]]] = {}

    def measure(self, intent: Intent) -> tuple[ServiceRanges, ServiceSizes]:
        """The CIDRs and the address counts each DNS-backed source of ``intent`` passes."""
        keep = frozenset(intent.keep)
        ranges: ServiceRanges = {}
        sizes: ServiceSizes = {}
        for label, record in service_records(intent).items():
            shared = self.flattener.shares(record)
            key = (label, record.render(), keep, None if shared else intent.domain)
            known = self._known.get(key)
            if known is None:
                form = self.flattener.normal_form(record, intent.domain, keep)
                cidrs = {str(v): _cidrs(form, v) for v in (4, 6)}
                known = self._known[key] = (cidrs, sizes_of({label: cidrs})[label])
            ranges[label], sizes[label] = known
        return ranges, sizes


def sizes_of(ranges: Mapping[str, Mapping[str, Sequence[str]]]) -> ServiceSizes:
    """Addresses per service and family in ``ranges``."""
    return {
        service: {
            int(v): sum(ip_network(c).num_addresses for c in cidrs) for v, cidrs in fam.items()
        }
        for service, fam in ranges.items()
    }


def service_sizes(intent: Intent, analyzer: Analyzer) -> ServiceSizes:
    """Addresses each DNS-backed source of ``intent`` gives ``pass``, per address family."""
    return sizes_of(service_ranges(intent, analyzer))


def range_changes(
    before: Mapping[str, Mapping[str, Sequence[str]]] | None,
    after: Mapping[str, Mapping[str, Sequence[str]]] | None,
) -> list[str]:
    """Address-level differences, one line per service and range: ``+ svc 192.0.2.0/24``."""
    lines: list[str] = []
    before, after = before or {}, after or {}
    for service in sorted(before.keys() | after.keys()):
        for version in ("4", "6"):
            old = before.get(service, {}).get(version, ())
            new = after.get(service, {}).get(version, ())
            lines += [f"- {service} {n}" for n in _minus(old, new, version)]
            lines += [f"+ {service} {n}" for n in _minus(new, old, version)]
    return lines


#: The label of addresses no measured service accounts for: ``ip4``/``ip6`` written in the
#: config, or terms of the records published now that the config no longer has.
OTHER = "other"


@dataclass(frozen=True)
class RangeChange:
    """One service's CIDRs that start (``added``) or stop (``removed``) passing."""

    service: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """``+ 192.0.2.0/24`` and ``- 198.51.100.0/24``, one per range, removals first."""
        return [f"- {c}" for c in self.removed] + [f"+ {c}" for c in self.added]

    @property
    def data(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "removed": list(self.removed)}


def passing_cidrs(form: Sequence[NormalPart]) -> dict[str, list[str]]:
    """The CIDRs a normal form gives ``pass``, per family (``"4"``/``"6"``)."""
    return {str(v): _cidrs(form, v) for v in (4, 6)}


def published_range_changes(
    published: Mapping[str, Sequence[str]],
    planned: Mapping[str, Sequence[str]],
    services: Mapping[str, Mapping[str, Sequence[str]]],
    *,
    sizes: Mapping[str, Mapping[int, int]] | None = None,
    baseline: Mapping[str, Mapping[int, int]] | None = None,
) -> list[RangeChange]:
    """Per service, the ranges that start or stop passing when ``planned`` replaces
    ``published`` (each: family -> CIDRs the domain's records pass).

    ``services`` are the CIDRs each service authorizes now. An added range is one that
    ``planned`` passes and ``published`` does not, listed under each service that authorizes
    it (under :data:`OTHER` when none does: the config's own ``ip4``/``ip6``). The records
    published now carry no per-service attribution, so a removed range is listed under the
    services that can have lost it: those of ``baseline`` (the sizes recorded at the last
    apply) that left the config or shrank since (``sizes``: their size now), together; under
    :data:`OTHER` when there are none. Only services with a change are listed, sorted.
    """
    added: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    for version in ("4", "6"):
        old = published.get(version, ())
        new = planned.get(version, ())
        gained = _minus(new, old, version)
        lost = _minus(old, new, version)
        if gained:
            claimed: list[str] = []
            for service, families in services.items():
                cidrs = families.get(version, ())
                mine = _minus(cidrs, _minus(cidrs, gained, version), version)  # cidrs & gained
                if mine:
                    added.setdefault(service, []).extend(mine)
                claimed += cidrs
            rest = _minus(gained, claimed, version)
            if rest:
                added.setdefault(OTHER, []).extend(rest)
        if lost:
            label = ", ".join(_losers(int(version), services, sizes, baseline)) or OTHER
            removed.setdefault(label, []).extend(lost)
    return [
        RangeChange(label, tuple(added.get(label, ())), tuple(removed.get(label, ())))
        for label in sorted(added.keys() | removed.keys(), key=lambda s: (s == OTHER, s))
    ]


def _losers(
    version: int,
    services: Mapping[str, object],
    sizes: Mapping[str, Mapping[int, int]] | None,
    baseline: Mapping[str, Mapping[int, int]] | None,
) -> list[str]:
    """Services of the last apply that left the config, or that pass fewer ``version``
    addresses now than then."""
    losers: list[str] = []
    for service, families in sorted((baseline or {}).items()):
        if not families.get(version, 0):
            continue
        gone = service not in services
        shrank = sizes is not None and sizes.get(service, {}).get(version, 0) < families[version]
        if gone or shrank:
            losers.append(service)
    return losers


def _cidrs(form: Sequence[NormalPart], version: int) -> list[str]:
    return _networks(passing_ranges(form, version), version)


def _spans(cidrs: Sequence[str]) -> list[tuple[int, int]]:
    nets = [ip_network(c) for c in cidrs]
    return sorted((int(n.network_address), int(n.broadcast_address)) for n in nets)


def _networks(spans: Sequence[tuple[int, int]], version: int) -> list[str]:
    """The fewest CIDRs covering ``spans`` (inclusive integer ranges) of one family."""
    return [str(n) for n in range_networks(spans, version)]


def _minus(a: Sequence[str], b: Sequence[str], version: str) -> list[str]:
    """CIDRs of the addresses in ``a`` that are not in ``b``."""
    return _networks(subtract_ranges(_spans(a), _spans(b)), int(version))


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
