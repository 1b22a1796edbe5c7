"""Which catalog services a published SPF record already lists.

:func:`match_terms` maps terms (``include:_spf.eu.mailgun.org``) back onto services with
the parameters that render them (``{mailgun: {region: eu}}``). Every way a service's
terms can come out is tried: parameters whose pattern lists values are enumerated, open
ones (an account id) are captured by a regular expression, and each candidate is checked
by rendering the service with what was captured. ``spfmanager init --from-dns`` uses it,
and so can DMARC discovery to name the senders of a record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from itertools import product
from typing import TYPE_CHECKING

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from spfmanager.catalog.service import Root, Service, network_term, parameter_values
from spfmanager.errors import ConfigError
from spfmanager.spf.results import Qualifier

if TYPE_CHECKING:
    from spfmanager.catalog import Catalog
    from spfmanager.spf.terms import Term

__all__ = ["ServiceMatch", "match_terms"]

_Rank = tuple[int, int, bool, bool, int, str]


@dataclass(frozen=True)
class ServiceMatch:
    """A catalog service found in a record: its id, the parameters that render the terms
    it matched (defaults left out), and those terms."""

    id: str
    params: dict[str, str]
    terms: tuple[str, ...]

    def yaml(self) -> str:
        if not self.params:
            return self.id
        values = ", ".join(f"{n}: {json.dumps(v)}" for n, v in sorted(self.params.items()))
        return f"{{{self.id}: {{{values}}}}}"


_SENTINEL = re.compile("\x00([A-Za-z_][A-Za-z0-9_]*)\x00")


@dataclass(frozen=True)
class _Variant:
    """One way a service's terms can come out: the parameters fixed to listed values (an
    optional one left out: its default) and a regular expression per term, capturing the
    parameters whose pattern is open (an account id)."""

    service: Service
    fixed: dict[str, str]
    patterns: tuple[re.Pattern[str], ...]


def _variants(service: Service) -> list[_Variant]:
    templates = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    listed: dict[str, list[str | None]] = {}
    open_names: list[str] = []
    for name, parameter in service.parameters.items():
        allowed = parameter_values(parameter)
        if allowed is None:
            open_names.append(name)
        else:
            listed[name] = ([] if parameter.required else [None]) + list(allowed)
    defaults = {n: p.default for n, p in service.parameters.items() if p.default is not None}
    own: tuple[IPv4Network | IPv6Network, ...] = (*service.ip4, *service.ip6)
    networks = [network_term(n).render() for n in own]
    variants: list[_Variant] = []
    for combination in product(*listed.values()):
        fixed = {n: v for n, v in zip(listed, combination, strict=True) if v is not None}
        values = defaults | fixed | {n: f"\x00{n}\x00" for n in open_names}
        try:
            rendered = [
                f"{mechanism}:{templates.from_string(t).render(values).strip()}"
                for mechanism, group in (("include", service.include), ("a", service.a))
                for t in group
            ]
        except TemplateError:
            continue
        patterns = tuple(_term_pattern(t) for t in (*rendered, *networks))
        variants.append(_Variant(service, fixed, patterns))
    return variants


def _term_pattern(text: str) -> re.Pattern[str]:
    """A rendered term as a regular expression; each sentinel captures its parameter."""
    pieces = _SENTINEL.split(text)  # literal, name, literal, name, ...
    seen: set[str] = set()
    regex = re.escape(pieces[0].lower())
    for name, literal in zip(pieces[1::2], pieces[2::2], strict=True):
        regex += f"(?P={name})" if name in seen else f"(?P<{name}>[a-z0-9_.-]+?)"
        seen.add(name)
        regex += re.escape(literal.lower())
    return re.compile(regex)


def match_terms(terms: Sequence[Term], catalog: Catalog) -> list[ServiceMatch]:
    """The catalog services whose every term is in ``terms`` (passing terms only), in
    record order; the parameters of each are verified by rendering the service's terms
    with them. Where two services claim a term, the one matching more terms wins, then
    the one with fewer parameters. A service that adds no term (``root: none``) never
    matches.
    """

    texts = [t.render().lower() for t in terms if getattr(t, "qualifier", None) is Qualifier.PASS]
    candidates: list[tuple[_Rank, ServiceMatch]] = []
    for service in catalog:
        if not service.adds_terms:
            continue
        for variant in _variants(service):
            remaining = list(texts)
            while (match := _match(variant, remaining)) is not None:
                remaining = [t for t in remaining if t not in match.terms]
                if (ranked := _ranked(service, match, texts)) is not None:
                    candidates.append(ranked)
    chosen: list[ServiceMatch] = []
    taken: set[str] = set()
    for _, match in sorted(candidates, key=lambda item: item[0]):
        if taken.isdisjoint(match.terms):  # a service may be there twice: two accounts
            chosen.append(match)
            taken.update(match.terms)
    return sorted(chosen, key=lambda m: min(texts.index(t) for t in m.terms))


def _ranked(
    service: Service, match: ServiceMatch, texts: list[str]
) -> tuple[_Rank, ServiceMatch] | None:
    """``match`` with its rank (most terms, fewest parameters, then a service whose terms
    belong in this record before a ``root: none`` one, a verified one before the others,
    the first in the record) when the service's own rendering with its parameters gives
    exactly its terms: ``include:mailgun.org`` is Mailgun's before Customer.io's."""
    try:
        rendered = {t.render().lower() for t in service.terms(match.params)}
    except ConfigError:
        return None  # a captured value its pattern refuses
    if rendered != set(match.terms):
        return None
    first = min(texts.index(t) for t in match.terms)
    elsewhere = service.root is Root.NONE  # its terms belong on another name: less likely
    rank = (-len(match.terms), len(match.params), elsewhere, not service.verified, first)
    return (*rank, service.id), match


def _match(variant: _Variant, texts: list[str]) -> ServiceMatch | None:
    """The record terms ``variant`` matches, one each, with consistent captures."""
    captured: dict[str, str] = {}
    used: list[str] = []
    for pattern in variant.patterns:
        for text in texts:
            if text in used:
                continue
            hit = pattern.fullmatch(text)
            if hit is None:
                continue
            values = hit.groupdict()
            if any(captured.get(n, v) != v for n, v in values.items()):
                continue
            captured.update(values)
            used.append(text)
            break
        else:
            return None
    service = variant.service
    params = variant.fixed | captured
    params = {n: v for n, v in params.items() if service.parameters[n].default != v}
    return ServiceMatch(service.id, params, tuple(used))
