"""The bundled catalog of email sending services, one YAML data file per service.

>>> catalog = load_catalog()
>>> [t.render() for t in catalog.get("microsoft365").terms()]
['include:spf.protection.outlook.com']

May import :mod:`spfmanager.spf` and :mod:`spfmanager.errors` only.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

import yaml
from pydantic import ValidationError

from spfmanager.catalog.service import (
    Parameter,
    Service,
    ServiceDefinition,
    ServiceId,
    network_term,
)
from spfmanager.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "Catalog",
    "Parameter",
    "Service",
    "ServiceDefinition",
    "ServiceId",
    "load_catalog",
    "network_term",
    "parameter_values",
]


@dataclass(frozen=True)
class Catalog:
    """Services by id: the bundled ones, optionally extended by a config's own."""

    services: Mapping[str, Service]

    def __contains__(self, service_id: object) -> bool:
        return service_id in self.services

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services.values())

    def __len__(self) -> int:
        return len(self.services)

    def close_matches(self, service_id: str) -> list[str]:
        """Known ids that look like ``service_id``, best first, at most three.

        First the ids that start with it or that it starts with (``google`` ->
        ``google-workspace``, ``zoho-eu`` -> ``zoho``), then ids and names that contain
        it, from three letters on (``exchange`` -> ``microsoft365``), then difflib's close
        spellings (``mailgnu`` -> ``mailgun``). Case and punctuation do not count.
        """
        wanted = _squeeze(service_id)
        found: list[str] = []
        if wanted:
            ids = sorted(self.services, key=lambda i: (len(i), i))  # shortest first
            found += [i for i in ids if _squeeze(i).startswith(wanted)]
            found += [i for i in ids if wanted.startswith(_squeeze(i))]
            if len(wanted) >= _MIN_SUBSTRING:
                found += [
                    i
                    for i in ids
                    if wanted in _squeeze(i) or wanted in _squeeze(self.services[i].name)
                ]
        found += difflib.get_close_matches(service_id.lower(), self.services, n=3, cutoff=0.6)
        return list(dict.fromkeys(found))[:3]

    def unknown_message(self, service_id: str) -> str:
        """A message for an unknown id, suggesting close matches."""
        close = self.close_matches(service_id)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown service {service_id!r}{hint}"

    def get(self, service_id: str) -> Service:
        """The service ``service_id``; :class:`ConfigError` with suggestions when unknown."""
        try:
            return self.services[service_id]
        except KeyError:
            raise ConfigError([self.unknown_message(service_id)]) from None

    def extended(self, extra: Mapping[str, ServiceDefinition]) -> Catalog:
        """This catalog plus user-defined services; a user's entry replaces a bundled one."""
        if not extra:
            return self
        services = dict(self.services)
        for service_id, definition in extra.items():
            if service_id in services:
                log.warning("service %r from the config replaces the bundled entry", service_id)
            services[service_id] = Service(id=service_id, **dict(definition))
        return Catalog(services)


_MIN_SUBSTRING = 3  # shorter fragments ("ma", "s") are in too many ids to be a hint


def _squeeze(text: str) -> str:
    """``text`` lower case, letters and digits only: "Google Workspace" -> "googleworkspace"."""
    return "".join(c for c in text.lower() if c.isalnum())


_LITERAL = re.compile(r"(?:[A-Za-z0-9_-]|\\\.)+")


def parameter_values(parameter: Parameter) -> tuple[str, ...] | None:
    """The values a parameter allows when its pattern lists them (``eu|us`` -> eu, us);
    None for an open pattern (``[0-9]{1,12}``) or none."""
    if parameter.pattern is None:
        return None
    alternatives = parameter.pattern.split("|")
    if not all(_LITERAL.fullmatch(a) for a in alternatives):
        return None
    return tuple(a.replace("\\.", ".") for a in alternatives)


def _load_file(path: Traversable) -> Service:
    where = f"catalog file {path.name}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError([f"{where}: invalid YAML: {exc}"]) from None
    try:
        service = Service.model_validate(data)
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
