"""Compile a domain's configuration into an :class:`Intent`: the record it should have.

The intended record is unflattened: the services' terms in config order, then the
domain's own ``ip4``, ``ip6``, ``a``, ``mx`` and ``include``, then the policy ``all``.
Identical terms appear once; :attr:`Intent.sources` says where each came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import TYPE_CHECKING, TypeVar

from spfmanager.catalog import Catalog, load_catalog, network_term
from spfmanager.config.models import SELF, Policy
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
    lookup_budget: int
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

    for index, use in enumerate(domain.services):
        try:
            terms = catalog.get(use.id).terms(use.parameters)
        except ConfigError as exc:
            problems.extend((("services", index), p) for p in exc.problems)
            continue
        for term in terms:
            add(term, Source("services", use.id))
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
    zone = domain.zone or name
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
    )
    return intent, problems


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


def config_problems(config: Config, catalog: Catalog | None = None) -> list[tuple[Loc, str]]:
    """Problems only compiling reveals, located in the config (for the loader)."""
    catalog = (load_catalog() if catalog is None else catalog).extended(config.services)
    found: list[tuple[Loc, str]] = []
    for name, domain in config.domains.items():
        _, problems = _build(name, domain, catalog, config.defaults)
        found.extend((("domains", name, *loc), message) for loc, message in problems)
    return found


def compile_config(config: Config, catalog: Catalog | None = None) -> list[Intent]:
    """One :class:`Intent` per configured domain, in config order."""
    catalog = (load_catalog() if catalog is None else catalog).extended(config.services)
    return [
        compile_domain(name, domain, catalog, config.defaults)
        for name, domain in config.domains.items()
    ]
