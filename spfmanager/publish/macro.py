"""Macro mode in the publish stage: the macro-mode domains' root records and the one rbldnsd
data file that answers them all (docs/macro.md).

The dataset is built and proven *as a whole* (:mod:`spfmanager.macro`): every macro-mode
domain of the config shares the ``combined`` data file, so either all of them are proven
and the file may be rewritten, or none is and the last good file stays. A domain that
cannot be built (a broken or unanswered upstream, a name too long, a failed proof) fails
the others too: they keep their last good root record and data (no proof, no output).

Each macro-mode domain's :class:`~spfmanager.publish.build.DomainBuild` holds a
:class:`~spfmanager.flatten.FlattenResult` with one record, the macro root, so that
planning, applying, the state store and the daemon treat it like any root; its
``dataset`` is the shared :class:`MacroData`. Applying writes the data file first
(:func:`write_data`), before any root changes: a receiver never meets a root record whose
names the data file does not answer yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spfmanager.compile import Intent, locate
from spfmanager.config.models import Config, MacroConfig, Mode
from spfmanager.dns.base import Resolver, RRType, normalize_name
from spfmanager.dns.txt import split_strings
from spfmanager.errors import (
    ConfigError,
    DNSError,
    FlattenError,
    MacroError,
    RefusalCause,
    VerificationError,
)
from spfmanager.flatten import Flattener, FlattenResult
from spfmanager.flatten.decisions import Decisions, passing_addresses
from spfmanager.flatten.pack import PackedRecord, answer_size
from spfmanager.flatten.program import Opaque
from spfmanager.flatten.refusals import refusal
from spfmanager.flatten.verify import Proof
from spfmanager.macro import DatasetResolver, MacroProof, MacroRecord, write_dataset
from spfmanager.macro.names import check_names, query_name
from spfmanager.macro.prove import prove
from spfmanager.macro.zone import plan_form, render_dataset
from spfmanager.publish.build import DomainBuild
from spfmanager.spf.profiles import RECEIVER_PROFILES, Profile
from spfmanager.spf.results import Result

#: The client address whose macro name plan queries to check the zone's delegation.
DELEGATION_PROBE = "192.0.2.1"


@dataclass(frozen=True)
class MacroData:
    """The proven combined dataset of every macro-mode domain of a config, or why none."""

    settings: MacroConfig
    path: Path  # the data file (absolute, or relative to the working directory)
    text: str | None  # None: not built (see ``error``)
    records: tuple[MacroRecord, ...] = ()
    error: str | None = None

    @property
    def zone(self) -> str:
        return self.settings.zone

    @property
    def entries(self) -> int:
        """Lines answering addresses (each subzone's catch-all and its ranges)."""
        return sum(r.entries for r in self.records)

    def record(self, domain: str) -> MacroRecord:
        """The macro record of ``domain`` (KeyError when it is not in the dataset)."""
        for record in self.records:
            if record.domain == domain:
                return record
        raise KeyError(domain)

    def resolver(self, base: Resolver) -> Resolver:
        """``base`` with the macro zone answered from this dataset (as rbldnsd will)."""
        if self.text is None:
            return base
        return DatasetResolver(base, self.text, self.zone)

    def current(self) -> str | None:
        """The data file's text now (None: there is none, or it cannot be read)."""
        try:
            return self.path.read_text(encoding="ascii")
        except (OSError, UnicodeError):
            return None

    @property
    def changed(self) -> bool:
        """True when the data file does not hold this dataset (False when not built)."""
        return self.text is not None and self.current() != self.text


@dataclass(frozen=True)
class MacroPlan:
    """What a plan does with the data file: rewrite it or not; notes (the delegation)."""

    data: MacroData
    changed: bool
    domains: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def line(self) -> str:
        """``macro data: macro.data: 42 entries, changed`` (the plan's macro line)."""
        if self.data.text is None:
            return f"macro data: {self.data.path}: not built, the last good file stays"
        state = "changed" if self.changed else "unchanged"
        return f"macro data: {self.data.path}: {self.data.entries} entries, {state}"

    @property
    def json(self) -> dict[str, Any]:
        return {
            "zone": self.data.zone,
            "data_file": str(self.data.path),
            "entries": self.data.entries if self.data.text is not None else None,
            "changed": self.changed,
            "error": self.data.error,
            "domains": list(self.domains),
            "notes": list(self.notes),
            "dataset": self.data.text,
        }


def data_path(config: Config, base_dir: Path) -> Path:
    """The data file of ``config``'s ``macro:`` section, relative to the config file."""
    assert config.macro is not None
    return base_dir / config.macro.data_file


def check_macro_names(config: Config, intents: Sequence[Intent]) -> None:
    """ConfigError (located) for every macro-mode domain whose names would be too long
    under the macro zone (RFC 7208 7.3 would truncate them; see
    :func:`spfmanager.macro.names.check_names`)."""
    if config.macro is None:
        return  # compiling reports a macro-mode domain without the section
    found = []
    for intent in intents:
        if intent.mode is not Mode.MACRO:
            continue
        try:
            check_names(intent.domain, config.macro.zone)
        except MacroError as exc:
            found.append(locate(config, ("domains", intent.domain), str(exc)))
    if found:
        raise ConfigError([text for _, text in sorted(found, key=lambda item: item[0])])


def macro_intents(intents: Sequence[Intent]) -> list[Intent]:
    return [i for i in intents if i.mode is Mode.MACRO]


@dataclass(frozen=True)
class _Failure:
    error: str
    transient: bool
    cause: RefusalCause


def build_macro_domains(
    intents: Sequence[Intent],
    resolver: Resolver,
    settings: MacroConfig,
    path: Path,
    *,
    flattener: Flattener | None = None,
    profiles: Sequence[Profile] = RECEIVER_PROFILES,
) -> tuple[list[DomainBuild], MacroData]:
    """The builds of ``intents``, all macro-mode, and their shared dataset; every one
    fails when one does."""
    flattener = flattener or Flattener(resolver)
    zone = normalize_name(settings.zone)
    records: dict[str, MacroRecord] = {}
    failures: dict[str, _Failure] = {}
    for intent in intents:
        try:
            form = flattener.normal_form(intent.record, intent.domain, intent.keep)
            refused = refusal(intent.domain, form)
            if refused is not None:
                raise refused
            records[intent.domain] = plan_form(intent.domain, form, zone, intent.policy.qualifier)
        except FlattenError as exc:
            failures[intent.domain] = _Failure(str(exc), exc.transient, exc.cause)
        except DNSError as exc:
            failures[intent.domain] = _Failure(str(exc), True, RefusalCause.TRANSIENT_DNS)
        except MacroError as exc:
            failures[intent.domain] = _Failure(f"macro mode: {exc}", False, RefusalCause.OTHER)
    text: str | None = None
    proofs: dict[str, MacroProof] = {}
    if not failures:
        ordered = [records[i.domain] for i in intents]
        try:
            text = render_dataset(
                ordered,
                zone,
                ttl=settings.ttl,
                nameservers=settings.nameservers,
                hostmaster=settings.contact,
            )
        except MacroError as exc:
            failures = {
                i.domain: _Failure(f"macro mode: {exc}", False, RefusalCause.OTHER) for i in intents
            }
    if text is not None:
        for intent in intents:
            try:
                proofs[intent.domain] = prove(
                    intent.record, records[intent.domain], text, flattener.resolver,
                    profiles=profiles,
                )  # fmt: skip
            except VerificationError as exc:
                failures[intent.domain] = _Failure(
                    f"verification failed: {exc}", False, RefusalCause.NOT_EQUIVALENT
                )
            except DNSError as exc:
                failures[intent.domain] = _Failure(str(exc), True, RefusalCause.TRANSIENT_DNS)
    if failures:
        first = next(iter(failures))
        data = MacroData(settings, path, None, error=f"{first}: {failures[first].error}")
        builds = []
        for intent in intents:
            own = failures.get(intent.domain)
            if own is None:  # proven itself, but its data file is shared with a failure
                own = _Failure(
                    f"not published: the macro data file is shared with {first}, which "
                    f"failed ({failures[first].error})",
                    True,
                    failures[first].cause,
                )
            builds.append(DomainBuild(intent, None, own.error, own.transient, own.cause))
        return builds, data
    assert text is not None
    data = MacroData(settings, path, text, tuple(records[i.domain] for i in intents))
    builds = [
        DomainBuild(
            intent,
            _result(intent, records[intent.domain], proofs[intent.domain], flattener),
            dataset=data,
        )
        for intent in intents
    ]
    return builds, data


def _result(
    intent: Intent, record: MacroRecord, proof: MacroProof, flattener: Flattener
) -> FlattenResult:
    """The macro root as a one-record :class:`FlattenResult` (what plan and apply take)."""
    strings = split_strings(record.root)
    packed = PackedRecord(
        intent.domain, record.root, strings, answer_size(intent.domain, [strings])
    )
    form = list(record.intent_form)
    kept = tuple(f"{p.term.render()}: {p.reason}" for p in form if isinstance(p, Opaque))
    analyzer = flattener.analyzer(intent.keep)
    return FlattenResult(
        domain=intent.domain,
        intent=intent.record,
        packed=(packed,),
        lookups=record.lookups,
        intent_lookups=analyzer.worst_case_lookups(intent.record, intent.domain),
        kept=kept,
        warnings=(),
        proof=Proof(
            ranges_compared=sum(proof.results.values()),
            points_evaluated=proof.probes,
            published_lookups=proof.most_lookups,
            profiles=proof.profiles,
            profile_points=proof.probes,
        ),
        dns_queries=0,
        passing=passing_addresses(form),
    )


def macro_safety(form: Sequence[Any], min4: int, min6: int) -> list[str]:
    """Passing ranges of the intent wider than the configured prefixes (the dataset
    authorizes them; the root record names no address)."""
    problems: list[str] = []
    for part in form:
        if not isinstance(part, Decisions):
            continue
        for version, least in ((4, min4), (6, min6)):
            bits = 32 if version == 4 else 128
            for s in part.segments(version):
                if s.value is not Result.PASS:
                    continue
                size = s.last - s.first + 1
                if size > 1 << (bits - least):
                    problems.append(
                        f"the macro data authorizes {size:,} IPv{version} addresses in one "
                        f"range, wider than a /{least} (min_ipv{version}_prefix)"
                    )
    return problems


def delegation_notes(data: MacroData, resolver: Resolver) -> list[str]:
    """A note with the records to add at the parent when the macro zone does not answer.

    The check asks, through ``resolver``, the TXT record of one macro name of the first
    domain (what a receiver asks): the resolver interface speaks SPF's record types only,
    so the NS records are not asked for themselves. No TXT answer (NXDOMAIN, no data, an
    error) means receivers cannot reach the rbldnsd servers yet.
    """
    if not data.records:
        return []
    from ipaddress import ip_address  # noqa: PLC0415

    record = data.records[0]
    name = query_name(ip_address(DELEGATION_PROBE), record.domain, data.zone)
    try:
        answer = resolver.query(name, RRType.TXT)
        answered = bool(answer.records)
    except DNSError:
        answered = False
    if answered:
        return []
    return [
        f"the macro zone {data.zone} does not answer ({name}: no TXT record): receivers "
        "cannot reach the rbldnsd servers yet; delegate the zone at its parent with:",
        *(f"  {line}" for line in delegation_records(data.settings)),
    ]


def delegation_records(settings: MacroConfig, glue: Mapping[str, str] | None = None) -> list[str]:
    """The NS records (and glue for nameservers inside the zone) the parent must hold."""
    zone = normalize_name(settings.zone)
    lines = [f"{zone}. {settings.ttl} IN NS {ns}." for ns in settings.nameservers]
    for ns in settings.nameservers:
        if ns == zone or ns.endswith(f".{zone}"):
            address = (glue or {}).get(ns, "<address of the rbldnsd server>")
            lines.append(f"{ns}. {settings.ttl} IN A {address}")
    return lines


def write_data(data: MacroData) -> bool:
    """Atomically write the proven dataset; False when the file holds it already."""
    if data.text is None:
        raise MacroError(f"{data.path}: no proven dataset to write ({data.error})")
    data.path.parent.mkdir(parents=True, exist_ok=True)
    return write_dataset(data.path, data.text)
