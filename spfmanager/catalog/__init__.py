"""The bundled catalog of email sending services, one YAML data file per service.

>>> catalog = load_catalog()
>>> [t.render() for t in catalog.get("microsoft365").terms()]
['include:spf.protection.outlook.com']
>>> catalog.get("office365").id
'microsoft365'

A service answers to its id and to each of its ``aliases`` (``office365`` is
``microsoft365``) wherever an id is accepted. :mod:`spfmanager.catalog.match` maps the
terms of a published record back onto services.

May import :mod:`spfmanager.spf` and :mod:`spfmanager.errors` only.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

import yaml
from pydantic import ValidationError

from spfmanager.catalog.service import (
    BundledService,
    Category,
    Parameter,
    Root,
    Service,
    ServiceDefinition,
    ServiceId,
    network_term,
    parameter_values,
)
from spfmanager.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "BundledService",
    "Catalog",
    "Category",
    "Parameter",
    "Root",
    "Service",
    "ServiceDefinition",
    "ServiceId",
    "load_catalog",
    "network_term",
    "parameter_values",
]


@dataclass(frozen=True)
class Catalog:
    """Services by id: the bundled ones, optionally extended by a config's own.

    ``aliases`` maps each alias to its service's id; an alias that is also an id, or the
    alias of two services, is a :class:`ConfigError`.
    """

    services: Mapping[str, Service]
    aliases: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        aliases: dict[str, str] = {}
        problems: list[str] = []
        for service in self.services.values():
            for alias in service.aliases:
                if alias in self.services:
                    problems.append(f"alias {alias!r} of {service.id!r} is a service id")
                elif alias in aliases and aliases[alias] != service.id:
                    problems.append(
                        f"alias {alias!r} names both {aliases[alias]!r} and {service.id!r}"
                    )
                else:
                    aliases[alias] = service.id
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "aliases", aliases)

    def __contains__(self, service_id: object) -> bool:
        return service_id in self.services or service_id in self.aliases

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services.values())

    def __len__(self) -> int:
        return len(self.services)

    def close_matches(self, service_id: str) -> list[str]:
        """Known ids that look like ``service_id``, best first, at most three.

        First the ids that start with it or that it starts with (``google`` ->
        ``google-workspace``, ``zoho-eu`` -> ``zoho``), then ids and names that contain
        it, from three letters on (``exchange`` -> ``microsoft365``), then difflib's close
        spellings (``mailgnu`` -> ``mailgun``). Aliases count as their service's id
        (``gsuit`` -> ``google-workspace`` through ``gsuite``). Case and punctuation do
        not count.
        """
        wanted = _squeeze(service_id)
        names = {**{i: i for i in self.services}, **self.aliases}  # a name -> its id
        found: list[str] = []
        if wanted:
            # ids before aliases, each shortest first
            ordered = sorted(names, key=lambda i: (i in self.aliases, len(i), i))
            found += [names[i] for i in ordered if _squeeze(i).startswith(wanted)]
            found += [names[i] for i in ordered if wanted.startswith(_squeeze(i))]
            if len(wanted) >= _MIN_SUBSTRING:
                found += [
                    names[i]
                    for i in ordered
                    if wanted in _squeeze(i) or wanted in _squeeze(self.services[names[i]].name)
                ]
        close = difflib.get_close_matches(service_id.lower(), names, n=3, cutoff=0.6)
        if close:  # only the spellings about as close as the closest: not every sibling id
            best = _ratio(service_id.lower(), close[0])
            found += [names[c] for c in close if _ratio(service_id.lower(), c) >= best - 0.1]
        return list(dict.fromkeys(found))[:3]

    def resolve(self, service_id: str) -> str:
        """The id ``service_id`` names: itself, or the service it is an alias of."""
        return self.aliases.get(service_id, service_id)

    def unknown_message(self, service_id: str) -> str:
        """A message for an unknown id, suggesting close matches."""
        close = self.close_matches(service_id)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown service {service_id!r}{hint}"

    def get(self, service_id: str) -> Service:
        """The service ``service_id`` (an id or an alias); :class:`ConfigError` with
        suggestions when unknown."""
        try:
            return self.services[self.resolve(service_id)]
        except KeyError:
            raise ConfigError([self.unknown_message(service_id)]) from None

    def extended(self, extra: Mapping[str, ServiceDefinition]) -> Catalog:
        """This catalog plus user-defined services; a user's entry replaces a bundled one
        (with that id, or the one it is an alias of: the alias then names the user's)."""
        if not extra:
            return self
        services = dict(self.services)
        for service_id, definition in extra.items():
            replaced = self.resolve(service_id)
            if replaced in services:
                log.warning("service %r from the config replaces the bundled entry", service_id)
            if replaced != service_id:  # the user took a bundled alias as its id
                bundled = services[replaced]
                kept = tuple(a for a in bundled.aliases if a != service_id)
                services[replaced] = bundled.model_copy(update={"aliases": kept})
            services[service_id] = Service(id=service_id, **dict(definition))
        return Catalog(services)


_MIN_SUBSTRING = 3  # shorter fragments ("ma", "s") are in too many ids to be a hint


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _squeeze(text: str) -> str:
    """``text`` lower case, letters and digits only: "Google Workspace" -> "googleworkspace"."""
    return "".join(c for c in text.lower() if c.isalnum())


def _load_file(path: Traversable) -> BundledService:
    where = f"catalog file {path.name}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError([f"{where}: invalid YAML: {exc}"]) from None
    try:
        service = BundledService.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            [
                f"{where}: {'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
        ) from None
    if f"{service.id}.yaml" != path.name:
        raise ConfigError([f"{where}: id {service.id!r} does not match the file name"])
    return service


@cache
def load_catalog() -> Catalog:
    """The bundled services, each file validated; a bad file raises :class:`ConfigError`."""
    directory = files("spfmanager.catalog").joinpath("services")
    paths = sorted((p for p in directory.iterdir() if p.name.endswith(".yaml")), key=str)
    services = {}
    for path in paths:
        service = _load_file(path)
        services[service.id] = service
    log.debug("loaded %d catalog services", len(services))
    return Catalog(services)
