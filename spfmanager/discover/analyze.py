"""Who sends as a domain: report rows aggregated per source, each attributed to a service.

A *source* is one IP sending as one domain (the report's ``policy_published`` domain). Its
rows are summed: messages, the SPF and DKIM results the receivers saw, DMARC alignment,
envelope and header domains, reporters, and messages per day and SPF result (a report's
rows count on the UTC day of its period's middle: reports carry no per-message times).

Attribution is by longest-prefix match over the catalog, flattened: every service's terms
(with the parameters the config uses, else its defaults or examples) are resolved into the
address ranges they give ``pass`` by :mod:`spfmanager.flatten` through the run's resolver,
and indexed per prefix length (a lookup is one dict probe per prefix length present). With
``reverse_dns``, a source no range matches is PTR-looked-up and matched against the
catalog's reverse-DNS patterns.

Each source then gets a :class:`Status`: ``authorized`` when the domain's intent gives it
``pass`` (the config's compiled intent, flattened, evaluated by the bundled evaluator; with
no config, the record published now), ``failing-legitimate`` when a service matches but the
intent does not pass it, ``unknown`` when no service matches.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from ipaddress import (
    IPv4Network,
    IPv6Network,
)
from typing import TYPE_CHECKING, Any

from spfmanager.catalog import Catalog, Service
from spfmanager.catalog.service import Root
from spfmanager.discover.model import IPAddress, Report
from spfmanager.dns.base import Resolver, RRType, normalize_name
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.dns.txt import split_strings
from spfmanager.errors import DNSTemporaryError, SPFManagerError
from spfmanager.flatten import Flattener
from spfmanager.flatten.decisions import Decisions, passing_ranges
from spfmanager.publish.build import flatten_intent
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.ranges import range_networks
from spfmanager.spf.results import Result
from spfmanager.spf.terms import Record

if TYPE_CHECKING:
    from spfmanager.compile import Intent
    from spfmanager.config.models import Config

log = logging.getLogger(__name__)

Network = IPv4Network | IPv6Network
Params = tuple[tuple[str, str], ...]  # sorted (name, value) pairs, as ServiceUse keeps them

# A service's terms are analysed as the record of a name under a reserved TLD (RFC 2606):
# nothing there is ever queried (the terms name their targets), as explain's probe does.
PROBE_SUFFIX = "service.spfmanager.invalid"
NO_RESULT = "none"  # a row without an SPF (or DKIM) auth result


class Status(StrEnum):
    """What a source is, for the domain it sends as."""

    AUTHORIZED = "authorized"  # the intent passes it
    FAILING = "failing-legitimate"  # a known service the intent does not pass
    UNKNOWN = "unknown"  # no service: spoofing, or a forgotten system


# -- aggregation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceStats:
    """The rows of one source (``ip`` sending as ``domain``), summed over every report."""

    domain: str
    ip: IPAddress
    messages: int
    spf: Mapping[str, int]  # auth_results SPF result -> messages
    dkim: Mapping[str, int]  # auth_results DKIM: "pass" when any signature passed
    dmarc_spf: Mapping[str, int]  # policy_evaluated spf (aligned): pass/fail -> messages
    dmarc_dkim: Mapping[str, int]
    dispositions: Mapping[str, int]
    envelope_domains: Mapping[str, int]  # envelope_from and SPF auth domains
    header_from: Mapping[str, int]
    reporters: Mapping[str, int]
    days: Mapping[date, Mapping[str, int]]  # day -> SPF result -> messages
    first_seen: datetime
    last_seen: datetime

    @property
    def data(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "ip": str(self.ip),
            "messages": self.messages,
            "spf": dict(self.spf),
            "dkim": dict(self.dkim),
            "dmarc": {"spf": dict(self.dmarc_spf), "dkim": dict(self.dmarc_dkim)},
            "dispositions": dict(self.dispositions),
            "envelope_domains": dict(self.envelope_domains),
            "header_from": dict(self.header_from),
            "reporters": dict(self.reporters),
            "days": {d.isoformat(): dict(r) for d, r in sorted(self.days.items())},
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
        }


@dataclass
class _Tally:
    messages: int = 0
    spf: Counter[str] = field(default_factory=Counter)
    dkim: Counter[str] = field(default_factory=Counter)
    dmarc_spf: Counter[str] = field(default_factory=Counter)
    dmarc_dkim: Counter[str] = field(default_factory=Counter)
    dispositions: Counter[str] = field(default_factory=Counter)
    envelope: Counter[str] = field(default_factory=Counter)
    header_from: Counter[str] = field(default_factory=Counter)
    reporters: Counter[str] = field(default_factory=Counter)
    days: dict[date, Counter[str]] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None


def aggregate(reports: Iterable[Report], domain: str | None = None) -> list[SourceStats]:
    """The sources of ``reports`` (only those about ``domain`` when given), most messages
    first. A report is about a domain when its policy domain is that domain; a row of
    another report counts too when its header_from is."""
    wanted = None if domain is None else normalize_name(domain)
    tallies: dict[tuple[str, IPAddress], _Tally] = {}
    for report in reports:
        policy_domain = normalize_name(report.domain) if report.domain else ""
        day = _day(report.begin, report.end)
        reporter = report.org_name.strip() or "(unnamed reporter)"
        for row in report.rows:
            header = normalize_name(row.header_from) if row.header_from else ""
            if wanted is not None and wanted not in (policy_domain, header):
                continue
            owner = wanted or policy_domain or header
            tally = tallies.setdefault((owner, row.source_ip), _Tally())
            count = row.count
            tally.messages += count
            tally.spf[_spf_result(row.spf)] += count
            tally.dkim[_dkim_result(row.dkim)] += count
            tally.dmarc_spf[row.spf_aligned or NO_RESULT] += count
            tally.dmarc_dkim[row.dkim_aligned or NO_RESULT] += count
            tally.dispositions[row.disposition or NO_RESULT] += count
            envelopes = {normalize_name(a.domain) for a in row.spf if a.domain}
            if row.envelope_from:
                envelopes.add(normalize_name(row.envelope_from))
            for name in envelopes:
                tally.envelope[name] += count
            if header:
                tally.header_from[header] += count
            tally.reporters[reporter] += count
            tally.days.setdefault(day, Counter())[_spf_result(row.spf)] += count
            tally.first = report.begin if tally.first is None else min(tally.first, report.begin)
            tally.last = report.end if tally.last is None else max(tally.last, report.end)
    sources = [_freeze(owner, ip, t) for (owner, ip), t in tallies.items()]
    sources.sort(key=lambda s: (-s.messages, s.domain, s.ip.version, int(s.ip)))
    return sources


def _freeze(domain: str, ip: IPAddress, t: _Tally) -> SourceStats:
    assert t.first is not None and t.last is not None
    return SourceStats(
        domain=domain,
        ip=ip,
        messages=t.messages,
        spf=_ranked(t.spf),
        dkim=_ranked(t.dkim),
        dmarc_spf=_ranked(t.dmarc_spf),
        dmarc_dkim=_ranked(t.dmarc_dkim),
        dispositions=_ranked(t.dispositions),
        envelope_domains=_ranked(t.envelope),
        header_from=_ranked(t.header_from),
        reporters=_ranked(t.reporters),
        days={d: _ranked(c) for d, c in sorted(t.days.items())},
        first_seen=t.first,
        last_seen=t.last,
    )


def _ranked(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def _day(begin: datetime, end: datetime) -> date:
    """The UTC day a report's rows count on: the middle of its period."""
    end = max(end, begin)
    middle = begin + (end - begin) / 2
    if middle.tzinfo is not None:
        middle = middle.astimezone(UTC)
    return middle.date()


def _spf_result(results: Sequence[Any]) -> str:
    """The MAIL FROM check's result (the HELO check's when it is the only one)."""
    mfrom = [r for r in results if (r.scope or "mfrom") == "mfrom"]
    chosen = mfrom or list(results)
    return chosen[0].result.lower() if chosen else NO_RESULT


def _dkim_result(results: Sequence[Any]) -> str:
    """``pass`` when any signature passed, else the first signature's result."""
    if any(r.result.lower() == "pass" for r in results):
        return "pass"
    return results[0].result.lower() if results else NO_RESULT


# -- the catalog, flattened ----------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRange:
    """The networks one service (with ``params``) gives ``pass``, resolved now."""

    service: str
    params: Params
    networks: tuple[Network, ...]
    elsewhere: bool = False  # root: none, its terms never go in the domain's own record


@dataclass(frozen=True)
class Match:
    """The catalog entries a source address falls in, at the longest matching prefix."""

    network: str  # the CIDR, or "ptr:HOST" for a reverse-DNS match
    candidates: tuple[tuple[str, Params], ...]  # (service, params), most specific first


class ServiceIndex:
    """Longest-prefix match of addresses over the catalog's networks.

    Per family, one dict per prefix length present (network integer -> entries); a lookup
    probes the lengths longest first, so it costs at most 33 (IPv4) or 129 (IPv6) dict
    probes, in practice the few lengths the catalog uses. Entries sharing a network are
    ordered: services whose terms go in the domain's record before ``root: none`` ones (a
    platform that relays through Mailgun on its own return-path), then the most specific
    (fewest addresses in all: Mailgun before a service including Mailgun and more), then
    by id.
    """

    def __init__(self, ranges: Iterable[ServiceRange]) -> None:
        ranges = list(ranges)
        size = {
            (r.service, r.params): (r.elsewhere, sum(n.num_addresses for n in r.networks))
            for r in ranges
        }
        tables: dict[int, dict[int, dict[int, set[tuple[str, Params]]]]] = {4: {}, 6: {}}
        for entry in ranges:
            for network in entry.networks:
                table = tables[network.version].setdefault(network.prefixlen, {})
                table.setdefault(int(network.network_address), set()).add(
                    (entry.service, entry.params)
                )

        def order(entries: set[tuple[str, Params]]) -> tuple[tuple[str, Params], ...]:
            return tuple(sorted(entries, key=lambda e: (size[e], e)))

        self._tables = {
            version: sorted(
                ((length, {k: order(v) for k, v in table.items()}) for length, table in t.items()),
                key=lambda item: -item[0],
            )
            for version, t in tables.items()
        }

    def __len__(self) -> int:
        return sum(len(table) for t in self._tables.values() for _, table in t)

    def lookup(self, ip: IPAddress) -> Match | None:
        bits = ip.max_prefixlen
        value = int(ip)
        for length, table in self._tables[ip.version]:
            key = value >> (bits - length) << (bits - length) if length else 0
            found = table.get(key)
            if found is not None:
                network = (IPv4Network if ip.version == 4 else IPv6Network)((key, length))
                return Match(str(network), found)
        return None


def service_variants(
    catalog: Catalog, config: Config | None = None
) -> list[tuple[Service, Params]]:
    """Each catalog service once with the parameters every config use gives it, and once
    with its defaults (examples for required parameters) unless a use has exactly those."""
    uses: dict[str, set[Params]] = {}
    if config is not None:
        for domain in config.domains.values():
            for use in domain.services:
                uses.setdefault(use.id, set()).add(use.params)
    variants: list[tuple[Service, Params]] = []
    for service in catalog:
        seen = set(uses.get(service.id, ()))
        default = tuple(
            sorted(
                (name, p.example)
                for name, p in service.parameters.items()
                if p.required and p.default is None
            )
        )
        for params in sorted(seen | {default}):
            variants.append((service, params))
    return variants


def resolve_services(
    variants: Iterable[tuple[Service, Params]], flattener: Flattener
) -> tuple[list[ServiceRange], dict[str, str]]:
    """The networks each service variant gives ``pass``, through the project's analyzer;
    and why, for the services that could not be (fully) resolved (label -> reasons)."""
    ranges: list[ServiceRange] = []
    notes: dict[str, str] = {}
    for service, params in variants:
        label = service.id + (f" {dict(params)}" if params else "")
        try:
            terms = service.terms(dict(params))
            record = Record(tuple(terms))
            form = flattener.normal_form(record, f"{service.id}.{PROBE_SUFFIX}")
        except SPFManagerError as exc:
            notes[label] = str(exc).splitlines()[0]
            continue
        failures = [f for part in form if isinstance(part, Decisions) for f in part.failures()]
        if failures:
            notes[label] = "; ".join(dict.fromkeys(f.reason for f in failures))
        networks = [
            n for version in (4, 6) for n in range_networks(passing_ranges(form, version), version)
        ]
        elsewhere = service.root is Root.NONE
        ranges.append(ServiceRange(service.id, params, tuple(networks), elsewhere))
    return ranges, notes


# -- reverse DNS -----------------------------------------------------------------------------


def reverse_patterns(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """Service id -> the host-name suffixes its senders' PTR names end with."""
    return {s.id: tuple(p.lower() for p in s.reverse_dns) for s in catalog if s.reverse_dns}


def ptr_names(ip: IPAddress, resolver: Resolver) -> list[str]:
    """The PTR names of ``ip`` (none when DNS does not answer)."""
    try:
        answer = resolver.query(ip.reverse_pointer, RRType.PTR)
    except DNSTemporaryError as exc:
        log.info("no PTR answer for %s: %s", ip, exc)
        return []
    return [normalize_name(n) for n in answer.names()]


def match_reverse(names: Iterable[str], patterns: Mapping[str, Sequence[str]]) -> Match | None:
    """The services whose suffix pattern the longest matches one of ``names``.

    A pattern ``*.outbound.protection.outlook.com`` matches every name below that suffix;
    one without ``*.`` only that host name.
    """
    best: tuple[int, str, set[tuple[str, Params]]] | None = None
    for name in names:
        for service, suffixes in patterns.items():
            for suffix in suffixes:
                below = suffix.startswith("*.")
                bare = suffix.removeprefix("*.")
                if name.endswith("." + bare) if below else name == bare:
                    if best is None or len(bare) > best[0]:
                        best = (len(bare), name, {(service, ())})
                    elif len(bare) == best[0]:
                        best[2].add((service, ()))
    if best is None:
        return None
    return Match(f"ptr:{best[1]}", tuple(sorted(best[2])))


# -- the domain's intent -------------------------------------------------------------------


class Policy:
    """Whether a domain's intent passes an address: the config's compiled intent,
    flattened (what ``apply`` would publish), or the record published now; evaluated by
    the bundled evaluator through ``resolver`` (answers cached per address)."""

    def __init__(
        self,
        domain: str,
        resolver: Resolver,
        *,
        intent: Intent | None = None,
        flattener: Flattener | None = None,
    ) -> None:
        self.domain = normalize_name(domain)
        self.intent = intent
        self.notes: list[str] = []
        self.resolver: Resolver = resolver
        self._results: dict[IPAddress, Result] = {}
        if intent is not None:
            records = intent_records(intent, flattener or Flattener(resolver), self.notes)
            self.resolver = OverlayResolver(resolver, records)

    @property
    def source(self) -> str:
        return "config" if self.intent is not None else "published"

    def result(self, ip: IPAddress) -> Result:
        known = self._results.get(ip)
        if known is None:
            known = self._results[ip] = passes(ip, self.domain, self.resolver)
        return known


def intent_records(
    intent: Intent, flattener: Flattener, notes: list[str] | None = None
) -> dict[str, list[list[str]]]:
    """The TXT records publishing ``intent``: flattened with its own settings, else (it
    cannot be flattened) the intent record as written at the domain."""
    try:
        result = flatten_intent(flattener, intent)
    except SPFManagerError as exc:
        if notes is not None:
            notes.append(
                f"{intent.domain}: the intent cannot be flattened ({str(exc).splitlines()[0]}); "
                "evaluating it as written"
            )
        return {intent.domain: [list(split_strings(intent.record.render()))]}
    return {name: [strings] for name, strings in result.records.items()}


def passes(ip: IPAddress, domain: str, resolver: Resolver) -> Result:
    """The SPF result of ``ip`` sending as ``postmaster@domain`` (HELO ``domain``)."""
    try:
        return evaluate(ip, f"postmaster@{domain}", domain, resolver=resolver).result
    except DNSTemporaryError:
        return Result.TEMPERROR


# -- attribution -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attributed:
    """One source, its service (if any), what the intent gives it, and its status."""

    stats: SourceStats
    status: Status
    result: Result  # what the domain's intent gives this address now
    checked_against: str  # "config" or "published"
    service: str | None = None
    params: Params = ()
    also: tuple[str, ...] = ()  # other services at the same longest prefix
    matched: str | None = None  # the CIDR (or ptr:NAME) that attributed it
    reason: str = ""

    @property
    def data(self) -> dict[str, Any]:
        data = self.stats.data
        data.update(
            service=self.service,
            service_parameters=dict(self.params),
            also=list(self.also),
            matched=self.matched,
            status=self.status.value,
            intent_result=self.result.value,
            checked_against=self.checked_against,
            reason=self.reason,
        )
        return data


@dataclass(frozen=True)
class Analysis:
    """Every source, attributed, in the order of :func:`aggregate`, and notes."""

    sources: tuple[Attributed, ...]
    notes: tuple[str, ...] = ()
    configured: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # domain -> ids
    unresolved: Mapping[str, str] = field(default_factory=dict)  # service -> why

    def with_status(self, status: Status) -> list[Attributed]:
        return [s for s in self.sources if s.status is status]


def attribute(
    sources: Sequence[SourceStats],
    catalog: Catalog,
    resolver: Resolver,
    *,
    config: Config | None = None,
    reverse_dns: bool = False,
    flattener: Flattener | None = None,
) -> Analysis:
    """Attribute ``sources`` (see the module docstring); ``catalog`` is the bundled one,
    extended here with the config's own services. A config that does not compile raises
    :class:`~spfmanager.errors.ConfigError`."""
    from spfmanager.compile import compile_config  # noqa: PLC0415  (only with a config)

    flattener = flattener or Flattener(resolver)
    notes: list[str] = []
    intents: dict[str, Intent] = {}
    configured: dict[str, tuple[str, ...]] = {}
    if config is not None:
        catalog = catalog.extended(config.services)
        intents = {i.domain: i for i in compile_config(config, catalog)}
        configured = {
            normalize_name(name): tuple(u.id for u in d.services)
            for name, d in config.domains.items()
        }
    ranges, unresolved = resolve_services(service_variants(catalog, config), flattener)
    if unresolved:
        notes.append(
            f"{len(unresolved)} catalog service(s) not (fully) resolved, so not matched: "
            + ", ".join(sorted(unresolved))
        )
    index = ServiceIndex(ranges)
    patterns: dict[str, tuple[str, ...]] = {}
    if reverse_dns:
        patterns = reverse_patterns(catalog)
        if not patterns:
            notes.append("--reverse-dns: no catalog service lists reverse-DNS patterns")
    policies: dict[str, Policy] = {}
    out: list[Attributed] = []
    for stats in sources:
        policy = policies.get(stats.domain)
        if policy is None:
            intent = intents.get(stats.domain)
            if config is not None and intent is None:
                notes.append(
                    f"{stats.domain}: not in the config; checked against its published record"
                )
            policy = policies[stats.domain] = Policy(
                stats.domain, flattener.resolver, intent=intent, flattener=flattener
            )
            notes += policy.notes
        match = index.lookup(stats.ip)
        if match is None and patterns:
            match = match_reverse(ptr_names(stats.ip, flattener.resolver), patterns)
        out.append(_attributed(stats, match, policy, configured.get(stats.domain, ())))
    return Analysis(tuple(out), tuple(dict.fromkeys(notes)), configured, unresolved)


def _attributed(
    stats: SourceStats, match: Match | None, policy: Policy, listed: Sequence[str]
) -> Attributed:
    result = policy.result(stats.ip)
    against = policy.source
    if match is None:
        status = Status.AUTHORIZED if result is Result.PASS else Status.UNKNOWN
        reason = (
            "the intent passes it (no catalog service matches)"
            if status is Status.AUTHORIZED
            else "no catalog service sends from this address"
        )
        return Attributed(stats, status, result, against, reason=reason)
    # The domain's own services first, then the index's order: a shared range (Mailgun's
    # and Mailjet's) is attributed to the one the config lists.
    candidates = sorted(match.candidates, key=lambda c: c[0] not in listed)  # stable
    service, params = candidates[0]
    also = tuple(dict.fromkeys(c[0] for c in candidates[1:] if c[0] != service))
    if result is Result.PASS:
        status, reason = Status.AUTHORIZED, f"the {against} record passes it"
    elif service in listed:
        status = Status.FAILING
        reason = (
            f"{service} is in the config but its addresses now do not include this one "
            f"(intent gives {result.value}): check its parameters"
        )
    else:
        status = Status.FAILING
        where = "the config" if against == "config" else "the published record"
        reason = f"{service} is not in {where} (intent gives {result.value})"
    return Attributed(stats, status, result, against, service, params, also, match.network, reason)
