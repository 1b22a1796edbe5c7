"""The config edit that authorizes a domain's legitimate but failing senders, with its proof.

For each (domain, service) of the failing-legitimate sources: the edit adds the service (with
the parameters it was attributed with) to ``domains.NAME.services``, worded as ``explain``
words a config edit. The proof compiles the config with the edit applied, flattens the new
intent (the same flattener as ``build``) and evaluates every failing address of that
service against the new records with the bundled evaluator. Only addresses that then get
``pass`` are proven; an edit proving none is not suggested (its sources stay listed, with
why).

Without a config the proof is made on the domain's published record with the service's
terms added before its ``all``, and the edit is shown as a snippet for ``spfmanager.yaml``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from spfmanager.catalog import Catalog
from spfmanager.discover.analyze import (
    Analysis,
    Attributed,
    Params,
    Status,
    intent_records,
    passes,
)
from spfmanager.dns.base import Resolver, RRType, normalize_name
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.dns.txt import split_strings
from spfmanager.errors import DNSTemporaryError, SPFManagerError
from spfmanager.explain.config_edit import DEFAULT_FILE, ConfigEdit, EditKind
from spfmanager.flatten import Flattener
from spfmanager.flatten.analyze import spf_record
from spfmanager.spf.results import Qualifier, Result
from spfmanager.spf.terms import All, Record, Term

if TYPE_CHECKING:
    from spfmanager.config.models import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Suggestion:
    """Add ``service`` (with ``params``) to ``domains.<domain>.services``: proven to make
    ``proven_ips`` pass (``unproven_ips``: failing addresses of the service it does not)."""

    domain: str
    service: str
    service_name: str
    params: Params
    file: str | None  # the config the edit is for (None: none was given)
    line: int | None  # the line to edit in it
    snippet: str  # the YAML of the edited key
    proven_ips: tuple[str, ...]
    unproven_ips: tuple[str, ...] = ()
    messages: int = 0  # messages of the proven sources
    records: Mapping[str, Sequence[str]] = field(default_factory=dict)  # what the proof used

    @property
    def entry(self) -> str | dict[str, dict[str, str]]:
        """The list entry as the config writes it."""
        return {self.service: dict(self.params)} if self.params else self.service

    @property
    def location(self) -> str:
        return f"domains.{self.domain}.services"

    @property
    def config_edit(self) -> str:
        """The edit in one sentence, worded by ``explain``'s :class:`ConfigEdit`."""
        edit = ConfigEdit(
            EditKind.ADD,
            self.domain,
            "services",
            _flow(self.entry),
            service_name=self.service_name,
            file=self.file,
            line=self.line,
        )
        return edit.message

    @property
    def data(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "service": self.service,
            "service_name": self.service_name,
            "parameters": dict(self.params),
            "file": self.file,
            "line": self.line,
            "path": self.location,
            "config_edit": self.config_edit,
            "snippet": self.snippet,
            "proven_ips": list(self.proven_ips),
            "unproven_ips": list(self.unproven_ips),
            "messages": self.messages,
            "records": {name: list(strings) for name, strings in self.records.items()},
        }


@dataclass(frozen=True)
class Suggestions:
    """The proven edits, and why other failing services got none."""

    edits: tuple[Suggestion, ...]
    notes: tuple[str, ...] = ()


def suggest(
    analysis: Analysis,
    catalog: Catalog,
    resolver: Resolver,
    *,
    config: Config | None = None,
    config_path: str | None = None,
    flattener: Flattener | None = None,
) -> Suggestions:
    """The proven config edits for the failing-legitimate sources of ``analysis``.

    ``config_path`` is the config file as the user named it (for the wording and lines).
    """
    flattener = flattener or Flattener(resolver)
    if config is not None:
        catalog = catalog.extended(config.services)
    groups: dict[tuple[str, str, Params], list[Attributed]] = {}
    for source in analysis.with_status(Status.FAILING):
        assert source.service is not None
        key = (source.stats.domain, source.service, source.params)
        groups.setdefault(key, []).append(source)
    edits: list[Suggestion] = []
    notes: list[str] = []
    for (domain, service_id, params), sources in sorted(groups.items()):
        service = catalog.services.get(service_id)
        label = f"{service_id} for {domain}"
        if service is None:
            notes.append(f"{label}: not in the catalog")
            continue
        if not service.adds_terms:
            notes.append(
                f"{label}: {service.name} checks SPF on a return-path domain it hosts "
                "(nothing to add to your record): align DKIM, or give it a custom return-path"
            )
            continue
        try:
            if config is not None:
                edit = _config_edit(config, config_path, domain, service_id, params, flattener)
            else:
                edit = _published_edit(domain, service_id, params, catalog, flattener)
        except (SPFManagerError, _NotManaged) as exc:
            notes.append(f"{label}: no proof: {str(exc).splitlines()[0]}")
            continue
        if edit is None:
            notes.append(f"{label}: already listed; its sources fail for another reason")
            continue
        records, file, line, snippet = edit
        overlay = OverlayResolver(flattener.resolver, records)
        proven: list[str] = []
        unproven: list[str] = []
        messages = 0
        for source in sources:
            if passes(source.stats.ip, domain, overlay) is Result.PASS:
                proven.append(str(source.stats.ip))
                messages += source.stats.messages
            else:
                unproven.append(str(source.stats.ip))
        if not proven:
            notes.append(f"{label}: adding it does not make its sources pass: not suggested")
            continue
        edits.append(
            Suggestion(
                domain=domain,
                service=service_id,
                service_name=service.name,
                params=params,
                file=file,
                line=line,
                snippet=snippet,
                proven_ips=tuple(proven),
                unproven_ips=tuple(unproven),
                messages=messages,
                records={name: tuple(r[0]) for name, r in records.items()},
            )
        )
    edits.sort(key=lambda e: (-e.messages, e.domain, e.service))
    return Suggestions(tuple(edits), tuple(dict.fromkeys(notes)))


Records = dict[str, list[list[str]]]


def _config_edit(
    config: Config,
    path: str | None,
    domain: str,
    service_id: str,
    params: Params,
    flattener: Flattener,
) -> tuple[Records, str | None, int | None, str] | None:
    """The records of the config with the edit applied, the file, line and snippet; None
    when the domain lists the service already."""
    from spfmanager.compile import compile_config  # noqa: PLC0415
    from spfmanager.config.models import ServiceUse  # noqa: PLC0415

    name = next((n for n in config.domains if normalize_name(n) == domain), None)
    if name is None:
        raise _NotManaged(f"{path or DEFAULT_FILE} does not manage {domain}")
    current = config.domains[name]
    if any(use.id == service_id for use in current.services):
        return None
    use = ServiceUse(service_id, params)
    edited = current.model_copy(update={"services": (*current.services, use)})
    new_config = config.model_copy(update={"domains": {**config.domains, name: edited}})
    intents = {i.domain: i for i in compile_config(new_config)}
    records = intent_records(intents[domain], flattener)
    line = None
    source = config.source
    if source is not None:
        key = next(
            (k for k in (source.data or {}).get("domains", {}) if normalize_name(str(k)) == domain),
            name,
        )
        written = "services" in current.model_fields_set
        line = source.line(("domains", key, "services") if written else ("domains", key))
    entries = [_flow(u.to_yaml()) for u in current.services] + [_flow(use.to_yaml())]
    return records, path, line, _snippet(domain, entries)


class _NotManaged(Exception):
    """The config does not manage the domain: no edit of it to prove."""


def _published_edit(
    domain: str, service_id: str, params: Params, catalog: Catalog, flattener: Flattener
) -> tuple[Records, None, None, str]:
    """The domain's published record with the service's terms added before its ``all``."""
    terms = catalog.get(service_id).terms(dict(params))
    try:
        answer = flattener.resolver.query(domain, RRType.TXT)
    except DNSTemporaryError as exc:
        raise _NotManaged(f"DNS error reading the record of {domain}: {exc}") from None
    found = spf_record(domain, answer)
    record = found if isinstance(found, Record) else Record((All(Qualifier.FAIL),))
    new = _with_terms(record, terms)
    text = new.render()
    records = {domain: [list(split_strings(text))]}
    entry = _flow({service_id: dict(params)} if params else service_id)
    return records, None, None, _snippet(domain, [entry])


def _with_terms(record: Record, terms: Sequence[Term]) -> Record:
    """``record`` with ``terms`` (those it lacks) inserted before its ``all``, else last of
    its mechanisms (before a redirect's modifiers)."""
    existing = set(record.terms)
    new = [t for t in terms if t not in existing]
    out = list(record.terms)
    index = next((i for i, t in enumerate(out) if isinstance(t, All)), None)
    if index is None:  # after the last mechanism
        mechanisms = set(record.mechanisms)
        index = max((i + 1 for i, t in enumerate(out) if t in mechanisms), default=0)
    out[index:index] = new
    return replace(record, terms=tuple(out), source="")


def _flow(entry: str | dict[str, dict[str, str]]) -> str:
    """One list entry in YAML flow style: ids plain, mappings as JSON (valid YAML)."""
    return entry if isinstance(entry, str) else json.dumps(entry)


def _snippet(domain: str, entries: list[str]) -> str:
    return f"domains:\n  {domain}:\n    services: [{', '.join(entries)}]\n"
