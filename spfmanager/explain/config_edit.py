"""The config edit behind a record fix: which service, or which address, to add to which
domain of ``spfmanager.yaml`` so that the sender stays authorised at every rebuild.

A record fix (fix.py) is what to publish today; spfmanager would overwrite it at its next
apply unless the config says the same. So for a sender that is not authorised, the service
of the catalog (bundled, plus the config's own ``services:``) whose records give ``pass``
for the connecting IP is named, evaluated through the same DNS as the explanation; when no
service covers it, the address itself goes under ``ip4``/``ip6``.

This package may not import :mod:`spfmanager.config`: the command reads the config and
hands over a :class:`ConfigView` of it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address, ip_network
from typing import Any

from spfmanager.catalog import Catalog, Service, load_catalog
from spfmanager.dns.base import Resolver, normalize_name
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.dns.txt import MAX_TXT_STRING
from spfmanager.errors import DNSTemporaryError, SPFManagerError
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.results import Result
from spfmanager.spf.terms import IP4, IP6, Term

log = logging.getLogger(__name__)

DEFAULT_FILE = "spfmanager.yaml"
# A service's terms are evaluated as the record of a name under a reserved TLD (RFC 2606):
# the overlay answers it, so it never reaches DNS.
_PROBE_SUFFIX = "service.spfmanager.invalid"


@dataclass(frozen=True, slots=True)
class ManagedDomain:
    """One ``domains.NAME`` entry of a config, as much as a config edit needs.

    ``services`` are the ids; ``written`` the same entries as the file writes them (an id,
    or ``{id: {parameter: value}}``); ``lines`` the line of the entry (key ``""``) and of
    its ``services``, ``ip4`` and ``ip6`` keys where written.
    """

    services: tuple[str, ...] = ()
    written: tuple[str | dict[str, dict[str, str]], ...] = ()
    ip4: tuple[str, ...] = ()
    ip6: tuple[str, ...] = ()
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigView:
    """A config file as explain sees it: its path as the user named it, its domains (by
    normalized name) and the catalog it extends with its own services."""

    path: str
    domains: Mapping[str, ManagedDomain]
    catalog: Catalog


class EditKind(StrEnum):
    """What the config edit is."""

    ADD = "add"  # add the value to domains.NAME.KEY
    ADD_DOMAIN = "add-domain"  # the config does not manage the domain: add it with the value
    ALREADY_LISTED = "already-listed"  # the config says so already: the record is not current


@dataclass(frozen=True, slots=True)
class ConfigEdit:
    """Add ``value`` (a service id, or an address) under ``domains.<domain>.<key>``.

    ``file`` is the config the command was given (None: none was; the edit is then shown as
    a snippet for ``spfmanager.yaml``), ``line`` the line to edit in it, ``snippet`` the
    YAML of the edited key (None when nothing is to be written).
    """

    kind: EditKind
    domain: str
    key: str  # services | ip4 | ip6
    value: str
    service_name: str | None = None
    file: str | None = None
    line: int | None = None
    snippet: str | None = None

    @property
    def location(self) -> str:
        return f"domains.{self.domain}.{self.key}"

    @property
    def message(self) -> str:
        """The edit in one sentence."""
        what = f"`{self.value}`" + (f" ({self.service_name})" if self.service_name else "")
        where = self.file or DEFAULT_FILE
        at = f"{where} (line {self.line})" if self.line else where
        if self.kind is EditKind.ALREADY_LISTED:
            verb = "lists" if self.key == "services" else "authorises"
            return (
                f"{at} already {verb} {what} in `{self.location}`, but the published record "
                f"does not authorise it yet: run `spfmanager plan -c {where}` and apply the plan"
            )
        if self.kind is EditKind.ADD_DOMAIN:
            return (
                f"{where} does not manage {self.domain}: add it under `domains:` with "
                f"{what} in `{self.key}`, then plan and apply"
            )
        if self.file is None:
            return (
                f"if spfmanager manages {self.domain}, add {what} to `{self.location}` in "
                f"{where} (give -c FILE to name your config), then plan and apply"
            )
        return f"add {what} to `{self.location}` in {at}, then plan and apply"

    @property
    def data(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "file": self.file,
            "line": self.line,
            "domain": self.domain,
            "key": self.key,
            "path": self.location,
            "value": self.value,
            "service_name": self.service_name,
            "snippet": self.snippet,
            "message": self.message,
        }


def suggest_config_edit(
    ip: IPv4Address | IPv6Address,
    domain: str,
    helo: str,
    resolver: Resolver,
    config: ConfigView | None = None,
) -> ConfigEdit:
    """The config edit that authorises ``ip`` for ``domain`` (see the module docstring)."""
    domain = normalize_name(domain)
    catalog = config.catalog if config is not None else _bundled()
    managed = None if config is None else config.domains.get(domain)
    file = None if config is None else config.path
    listed = managed.services if managed is not None else ()
    covering = _covering(ip, helo, resolver, catalog, first=listed)
    if covering is not None:
        key, value, name = "services", covering.id, covering.name
    else:
        key = "ip4" if isinstance(ip, IPv4Address) else "ip6"
        value, name = str(ip), None
    if managed is None:
        kind = EditKind.ADD if config is None else EditKind.ADD_DOMAIN
        snippet = _snippet(domain, key, [_flow(value, key)])
        return ConfigEdit(kind, domain, key, value, name, file, None, snippet)
    line = managed.lines.get(key) or managed.lines.get("")
    if key == "services":
        if value in managed.services:
            return ConfigEdit(EditKind.ALREADY_LISTED, domain, key, value, name, file, line)
        entries = [_flow(w, key) for w in managed.written]
    else:
        networks = managed.ip4 if key == "ip4" else managed.ip6
        if any(ip in ip_network(n, strict=False) for n in networks):
            return ConfigEdit(EditKind.ALREADY_LISTED, domain, key, value, name, file, line)
        entries = [_flow(n, key) for n in networks]
    snippet = _snippet(domain, key, [*entries, _flow(value, key)])
    return ConfigEdit(EditKind.ADD, domain, key, value, name, file, line, snippet)


def service_covers(
    service: Service, ip: IPv4Address | IPv6Address, helo: str, resolver: Resolver
) -> bool:
    """Whether ``service``'s records (without parameters) give ``pass`` for ``ip``."""
    try:
        terms = service.terms()
    except SPFManagerError:
        return False  # needs parameters (an account id, a region) we cannot guess
    return bool(terms) and _terms_cover(service.id, terms, ip, helo, resolver)


# -- helpers ---------------------------------------------------------------------------------


def _bundled() -> Catalog:
    try:
        return load_catalog()
    except (SPFManagerError, OSError) as exc:
        log.warning("service catalog unavailable, not matching known services: %s", exc)
        return Catalog({})


def _covering(
    ip: IPv4Address | IPv6Address,
    helo: str,
    resolver: Resolver,
    catalog: Catalog,
    *,
    first: Sequence[str],
) -> Service | None:
    """The first service covering ``ip``: among ``first`` (the domain's own), then the
    catalog in its order."""
    ordered = [catalog.services[i] for i in first if i in catalog.services]
    ordered += [s for s in catalog if s.id not in first]
    return next((s for s in ordered if service_covers(s, ip, helo, resolver)), None)


def _terms_cover(
    service_id: str,
    terms: Sequence[Term],
    ip: IPv4Address | IPv6Address,
    helo: str,
    resolver: Resolver,
) -> bool:
    networks = [t for t in terms if isinstance(t, IP4 | IP6)]
    if len(networks) == len(terms):  # addresses only: no DNS needed
        return any(ip in t.network for t in networks if t.network.version == ip.version)
    probe = f"{service_id}.{_PROBE_SUFFIX}"
    text = "v=spf1 " + " ".join(t.render() for t in terms) + " -all"
    strings = [text[i : i + MAX_TXT_STRING] for i in range(0, len(text), MAX_TXT_STRING)]
    overlay = OverlayResolver(resolver, {probe: [strings]})
    try:
        check = evaluate(ip, f"postmaster@{probe}", helo or probe, resolver=overlay)
    except DNSTemporaryError:
        return False
    return check.result is Result.PASS


def _flow(entry: str | dict[str, dict[str, str]], key: str) -> str:
    """One list entry in YAML flow style: ids plain, addresses and mappings quoted."""
    if isinstance(entry, dict) or key != "services":
        return json.dumps(entry)
    return entry


def _snippet(domain: str, key: str, entries: list[str]) -> str:
    return f"domains:\n  {domain}:\n    {key}: [{', '.join(entries)}]\n"
