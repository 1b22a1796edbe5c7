"""Compile a domain's configuration into an :class:`Intent`: the record it should have.

The intended record is unflattened: the services' terms in config order, then the
domain's own ``ip4``, ``ip6``, ``a``, ``mx`` and ``include``, then the policy ``all``.
Identical terms appear once; :attr:`Intent.sources` says where each came from.

Compiling finds what validating the document cannot (a ``keep`` term that is not in the
record, a domain outside its zone, a service whose parameters do not render) and raises
a :class:`ConfigError` listing every such problem, located ``FILE:LINE: field: message``
through the document a loaded config keeps (``field: message`` for a config built in
memory). :func:`compile_file` loads and compiles a file in one step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from spfmanager.catalog import Catalog, Root, Service, load_catalog, network_term
from spfmanager.config.loader import load_config
from spfmanager.config.models import SELF, Mode, Policy
from spfmanager.config.schedule import ScheduleConfig
from spfmanager.errors import ConfigError
from spfmanager.files.yamlnodes import Loc, format_loc
from spfmanager.spf.parser import parse_term
from spfmanager.spf.terms import MX, A, All, Record, Term

if TYPE_CHECKING:
    from spfmanager.config.models import Config, Defaults, DomainConfig


@dataclass(frozen=True, slots=True)
class Source:
    """Where a term came from: a config field, and the service for ``services``."""

    field: str
    service: str | None = None

    def __str__(self) -> str:
        return self.field if self.service is None else f"{self.field}.{self.service}"


@dataclass(frozen=True)
class Intent:
    """The record one domain should publish, before flattening."""

    domain: str
    zone: str
    provider: str | None
    ttl: int
    lookup_budget: int  # lookups the flattened records should need; 10 is the limit
    policy: Policy
    record: Record
    keep: frozenset[str]
    sources: tuple[tuple[Source, ...], ...]  # parallel to record.terms
    max_ipv4_addresses: int = 1 << 24  # safety limit: more passing addresses need --force
    max_ipv6_addresses: int = 1 << 112
    max_service_shrink: float = 0.25  # share of a service's addresses lost: needs --force
    max_service_growth: float = 4.0  # share of a service's addresses gained: needs --force
    query_budget: int = 5000  # DNS queries flattening this domain may send
    flatten_deadline: float = 60.0  # seconds flattening this domain may take
    min_ipv4_prefix: int = 8  # safety: an authorized IPv4 range wider than this needs --force
    min_ipv6_prefix: int = 16
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)  # when the daemon runs it
    ttl_override: bool = False  # set the root RRset's TTL even when other TXT values share it
    notes: tuple[str, ...] = ()  # advice on the config that is no error (plan prints them)
    mode: Mode = Mode.FLATTEN  # macro: published through the config's macro zone

    def sources_of(self, term: Term) -> tuple[Source, ...]:
        """Every config origin of ``term`` (empty when it is not in the record)."""
        for candidate, sources in zip(self.record.terms, self.sources, strict=True):
            if candidate == term:
                return sources
        return ()


def _host_term(mechanism: type[A] | type[MX], target: str) -> Term:
    if target == SELF:
        return mechanism()
    return parse_term(f"{mechanism.__name__.lower()}:{target}")


def _build(
    name: str, domain: DomainConfig, catalog: Catalog, defaults: Defaults
) -> tuple[Intent, list[tuple[Loc, str]]]:
    problems: list[tuple[Loc, str]] = []
    origins: dict[Term, list[Source]] = {}  # insertion-ordered: the record order

    def add(term: Term, source: Source) -> None:
        origins.setdefault(term, []).append(source)

    notes: list[str] = []
    zone = domain.zone or name
    for index, use in enumerate(domain.services):
        try:
            service = catalog.get(use.id)
            terms = service.terms(use.parameters)
        except ConfigError as exc:
            problems.extend((("services", index), p) for p in exc.problems)
            continue
        for term in terms:
            add(term, Source("services", service.id))
        if note := _placement_note(use.id, service, terms, at_apex=name == zone):
            notes.append(note)
    networks: tuple[IPv4Network | IPv6Network, ...] = (*domain.ip4, *domain.ip6)
    for network in networks:
        add(network_term(network), Source(f"ip{network.version}"))
    for target in domain.a:
        add(_host_term(A, target), Source("a"))
    for target in domain.mx:
        add(_host_term(MX, target), Source("mx"))
    for target in domain.include:
        add(parse_term(f"include:{target}"), Source("include"))
    policy = domain.policy or defaults.policy
    add(All(policy.qualifier), Source("policy"))

    rendered = {term.render() for term in origins}
    for index, kept in enumerate(domain.keep):
        if kept not in rendered:
            problems.append(
                (
                    ("keep", index),
                    f"{kept!r} is not a term of this record; keep only lists terms "
                    "that services, ip4, ip6, a, mx or include put there",
                )
            )
    if name != zone and not name.endswith(f".{zone}"):
        problems.append((("zone",), f"{name} is not inside zone {zone}"))
    intent = Intent(
        domain=name,
        zone=zone,
        provider=domain.provider or defaults.provider,
        ttl=domain.ttl if domain.ttl is not None else defaults.ttl,
        lookup_budget=domain.lookup_budget or defaults.lookup_budget,
        policy=policy,
        record=Record(tuple(origins)),
        keep=frozenset(domain.keep),
        sources=tuple(tuple(s) for s in origins.values()),
        max_ipv4_addresses=1
        << (32 - _first(domain.max_authorized_ipv4, defaults.max_authorized_ipv4)),
        max_ipv6_addresses=1
        << (128 - _first(domain.max_authorized_ipv6, defaults.max_authorized_ipv6)),
        max_service_shrink=_first(domain.max_service_shrink, defaults.max_service_shrink) / 100,
        max_service_growth=_first(domain.max_service_growth, defaults.max_service_growth) / 100,
        query_budget=_first(domain.query_budget, defaults.query_budget),
        flatten_deadline=_first(domain.flatten_deadline, defaults.flatten_deadline),
        min_ipv4_prefix=_first(domain.min_ipv4_prefix, defaults.min_ipv4_prefix),
        min_ipv6_prefix=_first(domain.min_ipv6_prefix, defaults.min_ipv6_prefix),
        schedule=domain.schedule or defaults.schedule,
        ttl_override=(
            defaults.ttl_override if domain.ttl_override is None else domain.ttl_override
        ),
        notes=tuple(dict.fromkeys(notes)),
        mode=domain.mode or defaults.mode,
    )
    return intent, problems


def _placement_note(used: str, service: Service, terms: list[Term], at_apex: bool) -> str | None:
    """Advice when a service's terms do not belong in this record (its ``root``): a
    ``root: none`` service that adds nothing, or one listed at a zone apex where it only
    spends lookups (its terms belong on the return-path name the vendor hosts)."""
    if not service.adds_terms:
        return f"{used} adds no term: nothing to add to your SPF record (root: none)"
    lookups = sum(getattr(t, "lookups", 0) for t in terms)
    spends = f"it spends {lookups} lookup{'s' if lookups != 1 else ''}"
    if not at_apex:
        return None  # a subdomain: may well be the custom return-path itself
    if service.root is Root.NONE:
        return (
            f"{used} does not need an include in the root record (it checks SPF on its own "
            f"return-path domain); {spends}"
        )
    if service.root is Root.OPTIONAL:
        return (
            f"{used} is needed only if you set a custom return-path on this domain; "
            f"otherwise {spends} for nothing"
        )
    return None


_N = TypeVar("_N", int, float)


def _first(value: _N | None, default: _N) -> _N:
    return default if value is None else value


def compile_domain(name: str, domain: DomainConfig, catalog: Catalog, defaults: Defaults) -> Intent:
    """The :class:`Intent` of one domain; :class:`ConfigError` lists every problem."""
    intent, problems = _build(name, domain, catalog, defaults)
    if problems:
        raise ConfigError(
            [f"{format_loc(('domains', name, *loc))}: {message}" for loc, message in problems]
        )
    return intent


def compile_config(config: Config, catalog: Catalog | None = None) -> list[Intent]:
    """One :class:`Intent` per configured domain, in config order.

    Raises :class:`ConfigError` listing every problem of every domain, each as
    ``FILE:LINE: field: message`` in file order when ``config`` was loaded from a file
    (its :attr:`~spfmanager.config.Config.source`), else as ``field: message`` in
    config order.
    """
    catalog = (load_catalog() if catalog is None else catalog).extended(config.services)
    intents: list[Intent] = []
    found: list[tuple[int, str]] = []
    for name, domain in config.domains.items():
        intent, problems = _build(name, domain, catalog, config.defaults)
        intents.append(intent)
        found.extend(locate(config, ("domains", name, *loc), message) for loc, message in problems)
        if intent.mode is Mode.MACRO:
            found.extend(_macro_problems(config, name, domain))
    if found:
        raise ConfigError([text for _, text in sorted(found, key=lambda item: item[0])])
    return intents


def _macro_problems(config: Config, name: str, domain: DomainConfig) -> list[tuple[int, str]]:
    """A macro-mode domain needs the ``macro:`` section. (Whether its names fit under the
    macro zone is the engine's check: :func:`spfmanager.publish.macro.check_macro_names`.)"""
    where: Loc = ("domains", name, "mode") if domain.mode is not None else ("defaults", "mode")
    if config.macro is None:
        return [
            locate(
                config,
                where,
                f"{name}: mode macro needs a top-level 'macro:' section (zone, data_file, "
                "nameservers; see docs/macro.md)",
            )
        ]
    return []


def locate(config: Config, loc: Loc, message: str) -> tuple[int, str]:
    """(line, text) of a problem at ``loc``; line 0 without a source document."""
    if config.source is None:
        return 0, f"{format_loc(loc)}: {message}"
    line = config.source.line(loc)
    return line, f"{config.source.name}:{line}: {format_loc(loc)}: {message}"


def compile_file(path: str | Path, catalog: Catalog | None = None) -> tuple[Config, list[Intent]]:
    """Load and compile a config file: the config and its intents.

    A :class:`ConfigError` lists every problem, located: those of the document (see
    :func:`~spfmanager.config.load_config`) or, when there are none, those compiling finds.
    """
    config = load_config(path, catalog)
    return config, compile_config(config, catalog)
