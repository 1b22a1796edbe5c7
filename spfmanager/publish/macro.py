"""Macro mode in the publish stage: the macro-mode domains' root records and the one
rbldnsd data file, or the one set of wildcard records (``backend: records``), that answers
them all (docs/macro.md); and the macro zone's delegation at its parent.

Every macro-mode domain of the config shares the ``combined`` data file (or the records),
and each is proven against the dataset as it will be served (:mod:`spfmanager.macro`). A
domain that cannot be built (a broken or unanswered upstream, a name too long, a failed
proof) keeps its last good root record and its last good answers: the rbldnsd dataset is
rewritten with that domain's sections copied from the data file now, and the records
backend leaves that domain's names as they are (:attr:`MacroData.kept`); the other domains
are published. A problem of the dataset as a whole (two domains' subzones colliding) keeps
every domain at its last good data (no proof, no output).

Each macro-mode domain's :class:`~spfmanager.publish.build.DomainBuild` holds a
:class:`~spfmanager.flatten.FlattenResult` with one record, the macro root, so that
planning, applying, the state store and the daemon treat it like any root; its
``dataset`` is the shared :class:`MacroData`. Applying writes the data file first
(:func:`write_data`), then the :class:`ZoneChanges` (the records backend's records in one
atomic batch, then the delegation), before any root changes: a receiver never meets a root
record whose names are not answered yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from spfmanager.compile import Intent, locate
from spfmanager.config.models import Config, MacroBackend, MacroConfig, Mode
from spfmanager.dns.base import Resolver, RRType, in_zone, normalize_name
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
from spfmanager.macro import (
    DatasetResolver,
    MacroProof,
    MacroRecord,
    RecordsResolver,
    render_records,
    write_dataset,
)
from spfmanager.macro.names import check_names, owner_of, query_name
from spfmanager.macro.prove import prove
from spfmanager.macro.zone import kept_sections, plan_form, render_dataset
from spfmanager.publish.build import DomainBuild
from spfmanager.publish.changes import Change, Create, Delete, RecordSet, Update, change_from_data
from spfmanager.spf.profiles import RECEIVER_PROFILES, Profile
from spfmanager.spf.results import Result

#: The client address whose macro name plan queries to check the zone's delegation.
DELEGATION_PROBE = "192.0.2.1"


@dataclass(frozen=True)
class MacroData:
    """The proven combined dataset of every macro-mode domain of a config, or why none."""

    settings: MacroConfig
    path: Path  # the data file (absolute, or relative to the working directory)
    text: str | None  # the rbldnsd dataset; None: not built (see ``error``) or records
    records: tuple[MacroRecord, ...] = ()
    error: str | None = None
    zone_records: Mapping[str, str] | None = None  # records backend: name -> TXT text
    kept: tuple[str, ...] = ()  # domains not built now, served their last good answers
    retiring: tuple[str, ...] = ()  # left macro mode; still served while roots may name them

    @property
    def zone(self) -> str:
        return self.settings.zone

    @property
    def built(self) -> bool:
        """A proven dataset (rbldnsd) or proven records (records backend) is here."""
        return self.text is not None or self.zone_records is not None

    @property
    def entries(self) -> int:
        """Lines answering addresses (each subzone's catch-all and its ranges), or the
        records backend's names."""
        if self.zone_records is not None:
            return len(self.zone_records)
        return sum(r.entries for r in self.records)

    def record(self, domain: str) -> MacroRecord:
        """The macro record of ``domain`` (KeyError when it is not in the dataset)."""
        for record in self.records:
            if record.domain == domain:
                return record
        raise KeyError(domain)

    def resolver(self, base: Resolver) -> Resolver:
        """``base`` with the macro zone answered from this dataset (as rbldnsd will), or
        from the records (as an authoritative server will)."""
        if self.zone_records is not None:
            return RecordsResolver(base, self.zone_records, self.zone)
        if self.text is None:
            return base
        return DatasetResolver(base, self.text, self.zone)

    def current(self) -> str | None:
        """The data file's text now (None: there is none, or it cannot be read)."""
        return read_data_file(self.path)

    @property
    def changed(self) -> bool:
        """True when the data file does not hold this dataset (False when not built, and
        for the records backend, whose changes are :class:`ZoneChanges`)."""
        return self.text is not None and self.current() != self.text

    def record_sets(self) -> list[RecordSet]:
        """The records backend's TXT record sets (none for rbldnsd)."""
        ttl = self.settings.ttl
        return [RecordSet(n, (v,), ttl) for n, v in sorted((self.zone_records or {}).items())]


@dataclass(frozen=True)
class ZoneChanges:
    """Changes macro mode makes in one provider zone before any root record: the records
    backend's records (``purpose`` "records") or the macro zone's delegation ("delegation")."""

    purpose: str
    provider: str
    zone: str
    changes: tuple[Change, ...]
    names: int = 0  # records: the names the macro zone has (for the plan's line)

    @property
    def line(self) -> str:
        """``macro records: pdns zone spf.example.net: 1,204 names, 12 to change``."""
        count = len(self.changes)
        change = f"{count:,} to change" if count else "in sync"
        what = f"{self.names:,} names, " if self.purpose == "records" else ""
        return f"macro {self.purpose}: {self.provider} zone {self.zone}: {what}{change}"

    @property
    def json(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "provider": self.provider,
            "zone": self.zone,
            "names": self.names,
            "changes": [c.data for c in self.changes],
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ZoneChanges:
        """Read :attr:`json` back (raises KeyError/TypeError/ValueError)."""
        changes = tuple(change_from_data(c) for c in data["changes"])
        return cls(
            str(data["purpose"]), str(data["provider"]), str(data["zone"]), changes,
            int(data.get("names", 0)),
        )  # fmt: skip


@dataclass(frozen=True)
class MacroPlan:
    """What a plan does with the data file: rewrite it or not; notes (the delegation)."""

    data: MacroData
    file_changed: bool  # the data file is to be rewritten (read once, when planned)
    domains: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    zones: tuple[ZoneChanges, ...] = field(default=())

    @property
    def changed(self) -> bool:
        """The data file is rewritten, or a macro zone changes."""
        return self.file_changed or any(z.changes for z in self.zones)

    @property
    def line(self) -> str:
        """``macro data: macro.data: 42 entries, changed`` (the plan's macro line)."""
        if self.data.settings.backend is MacroBackend.RECORDS:
            if not self.data.built:
                return "macro records: not built, the last good records stay"
            return "; ".join(z.line for z in self.zones if z.purpose == "records")
        if self.data.text is None:
            return f"macro data: {self.data.path}: not built, the last good file stays"
        state = "changed" if self.file_changed else "unchanged"
        return f"macro data: {self.data.path}: {self.data.entries} entries, {state}"

    @property
    def lines(self) -> list[str]:
        """The data line, the domains kept at their last good answers, the delegation's."""
        kept = [
            f"macro: {domain} keeps its last good answers (not built now)"
            for domain in self.data.kept
        ]
        kept += [
            f"macro: {domain} left macro mode; its answers stay while receivers may hold its "
            "old root"
            for domain in self.data.retiring
        ]
        return [self.line, *kept, *(z.line for z in self.zones if z.purpose == "delegation")]

    @property
    def json(self) -> dict[str, Any]:
        return {
            "zone": self.data.zone,
            "data_file": str(self.data.path),
            "entries": self.data.entries if self.data.built else None,
            "changed": self.changed,
            "error": self.data.error,
            "domains": list(self.domains),
            "kept": list(self.data.kept),
            "retiring": list(self.data.retiring),
            "notes": list(self.notes),
            "backend": self.data.settings.backend.value,
            "dataset": self.data.text,
            "zones": [z.json for z in self.zones],
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


def shared_data(settings: MacroConfig) -> str:
    """What every macro-mode domain shares: "the macro data file is" or "the macro records
    are" (the subject of the messages saying so)."""
    if settings.backend is MacroBackend.RECORDS:
        return "the macro records are"
    return "the macro data file is"


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
    retiring: Sequence[str] = (),
) -> tuple[list[DomainBuild], MacroData]:
    """The builds of ``intents``, all macro-mode, and their shared dataset: the ones that
    cannot be built keep their last good answers in it (see the module docstring), and so
    do the ``retiring`` domains (no longer in macro mode, but receivers may still hold a
    root naming their macro names: see :func:`retiring_domains`)."""
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
    served: str | dict[str, str] | None = None
    proofs: dict[str, MacroProof] = {}
    # The last good dataset, where the kept domains' sections are copied from.
    last_good = read_data_file(path) if settings.backend is MacroBackend.RBLDNSD else None
    order = [*(i.domain for i in intents), *retiring]
    for _ in range(len(intents)):  # each round drops the domains whose proof failed
        ok = [i for i in intents if i.domain not in failures]
        if not ok:
            break
        kept = [*(i.domain for i in intents if i.domain in failures), *retiring]
        try:
            served = _render(
                settings, [records[i.domain] for i in ok], zone, kept, last_good, order
            )
        except MacroError as exc:  # the dataset as a whole: nothing of it is published
            failures = {
                i.domain: _Failure(f"macro mode: {exc}", False, RefusalCause.OTHER) for i in intents
            }
            break
        failed = False
        for intent in ok:
            try:
                proofs[intent.domain] = prove(
                    intent.record, records[intent.domain], served, flattener.resolver,
                    profiles=profiles,
                )  # fmt: skip
            except VerificationError as exc:
                failures[intent.domain] = _Failure(
                    f"verification failed: {exc}", False, RefusalCause.NOT_EQUIVALENT
                )
                failed = True
            except DNSError as exc:
                failures[intent.domain] = _Failure(str(exc), True, RefusalCause.TRANSIENT_DNS)
                failed = True
        if not failed:
            break
    ok = [i for i in intents if i.domain not in failures]
    if not ok or served is None:
        first = next(iter(failures))
        data = MacroData(settings, path, None, error=f"{first}: {failures[first].error}")
        return [_failed(i, failures[i.domain]) for i in intents], data
    ordered_records = tuple(records[i.domain] for i in ok)
    kept_domains = tuple(i.domain for i in intents if i.domain in failures)
    zone_records = None if isinstance(served, str) else served
    text = served if isinstance(served, str) else None
    data = MacroData(
        settings, path, text, ordered_records, zone_records=zone_records, kept=kept_domains,
        retiring=tuple(retiring),
    )  # fmt: skip
    builds = [
        _failed(intent, failures[intent.domain])
        if intent.domain in failures
        else DomainBuild(
            intent,
            _result(intent, records[intent.domain], proofs[intent.domain], flattener),
            dataset=data,
        )
        for intent in intents
    ]
    return builds, data


def names_macro_zone(values: Sequence[str], zone: str) -> bool:
    """A TXT set at a domain holds a macro root of ``zone`` (a domain-spec under it)."""
    return any(f".{zone}" in value and "%{ir}" in value for value in values)


def retiring_domains(
    intents: Sequence[Intent],
    zone: str,
    root_values: Callable[[Intent], Sequence[str]],
    published_at: Callable[[str], datetime | None],
    now: datetime,
    grace: float,
) -> list[str]:
    """Domains of the config not in macro mode now whose macro names receivers may still
    ask for: their published root (``root_values``) still names the macro zone (this
    apply switches it), or their records were applied less than the root's TTL plus
    ``grace`` seconds ago (a receiver may have cached the old macro root). Their answers
    stay served until then; they are never deleted under a root that names them."""
    out = []
    for intent in intents:
        if intent.mode is Mode.MACRO:
            continue
        if names_macro_zone(root_values(intent), zone):
            out.append(intent.domain)
            continue
        applied = published_at(intent.domain)
        if applied is not None and now < applied + timedelta(seconds=intent.ttl + grace):
            out.append(intent.domain)
    return out


def _failed(intent: Intent, failure: _Failure) -> DomainBuild:
    return DomainBuild(intent, None, failure.error, failure.transient, failure.cause)


def read_data_file(path: Path) -> str | None:
    """The data file's text now (None: there is none, or it cannot be read)."""
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeError):
        return None


def _render(
    settings: MacroConfig,
    records: Sequence[MacroRecord],
    zone: str,
    kept: Sequence[str],
    last_good: str | None,
    order: Sequence[str],
) -> str | dict[str, str]:
    """What serves ``records``: the records backend's names, or the rbldnsd dataset with the
    ``kept`` domains' sections copied from the ``last_good`` one, in config ``order``."""
    if settings.backend is MacroBackend.RECORDS:
        return render_records(records, zone)
    sections = kept_sections(last_good, kept) if last_good and kept else {}
    return render_dataset(
        records,
        zone,
        ttl=settings.ttl,
        nameservers=settings.nameservers,
        hostmaster=settings.contact,
        kept=sections,
        order=order,
    )


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


def delegation_records(settings: MacroConfig) -> list[str]:
    """The NS records (and glue for nameservers inside the zone) the parent must hold."""
    zone = normalize_name(settings.zone)
    lines = [f"{zone}. {settings.ttl} IN NS {ns}." for ns in settings.nameservers]
    for ns in settings.nameservers:
        if in_zone(ns, zone):
            lines.append(f"{ns}. {settings.ttl} IN A <address of the rbldnsd server>")
    return lines


def check_macro_backend(config: Config) -> None:
    """ConfigError (located) when the macro section's providers cannot carry what it asks:
    the records backend needs an adapter applying a batch atomically (a receiver must never
    meet half of a rollover), a delegation one that manages NS records."""
    from spfmanager.providers.registry import provider_class  # noqa: PLC0415
    from spfmanager.publish.connect import provider_settings  # noqa: PLC0415

    settings = config.macro
    if settings is None:
        return
    problems = []
    default = config.defaults.provider
    if settings.backend is MacroBackend.RECORDS:
        name, provider = provider_settings(config, records_zone(settings, default)[0])
        adapter = provider_class(provider.kind)
        if not adapter.atomic_batches:
            problems.append(
                locate(
                    config,
                    ("macro", "provider"),
                    f"{name} ({provider.kind}) does not apply a batch of "
                    "changes atomically: receivers could meet half a rollover; use PowerDNS, "
                    "Route 53, RFC 2136 or zone files",
                )
            )
    if settings.delegation is not None:
        name, provider = provider_settings(config, delegation_zone(settings, default)[0])
        adapter = provider_class(provider.kind)
        if "NS" not in adapter.record_types:
            problems.append(
                locate(
                    config,
                    ("macro", "delegation", "provider"),
                    f"{name} ({provider.kind}) cannot publish NS records",
                )
            )
    if problems:
        raise ConfigError([text for _, text in sorted(problems, key=lambda item: item[0])])


def records_zone(settings: MacroConfig, default_provider: str | None) -> tuple[str | None, str]:
    """(provider name, zone) holding the records backend's names."""
    return settings.provider or default_provider, settings.provider_zone or settings.zone


def delegation_zone(settings: MacroConfig, default_provider: str | None) -> tuple[str | None, str]:
    """(provider name, parent zone) holding the macro zone's delegation."""
    assert settings.delegation is not None and settings.parent_zone is not None
    return settings.delegation.provider or default_provider, settings.parent_zone


def record_changes(data: MacroData, current: Mapping[str, RecordSet]) -> list[Change]:
    """The changes that make the provider zone's TXT sets strictly under the macro zone
    exactly the proven records (others are not macro mode's); the names of domains kept at
    their last good answers or retiring (``data.kept``, ``data.retiring``) stay as they
    are."""
    under = f".{data.zone}"
    kept = {*data.kept, *data.retiring}
    have = {
        (n, "TXT"): rs
        for n, rs in current.items()
        if n.endswith(under) and owner_of(n[: -len(under)]) not in kept
    }
    return diff_sets(data.record_sets(), have)


def delegation_sets(settings: MacroConfig) -> list[RecordSet]:
    """The macro zone's NS set and its nameservers' glue A/AAAA sets."""
    assert settings.delegation is not None
    ttl = settings.ttl
    sets = [RecordSet(settings.zone, tuple(sorted(settings.nameservers)), ttl, "NS")]
    for name, addresses in sorted(settings.delegation.glue.items()):
        for rtype, version in (("A", 4), ("AAAA", 6)):
            found = sorted({a for a in addresses if ip_address(a).version == version})
            if found:
                sets.append(RecordSet(name, tuple(found), ttl, rtype))
    return sets


def glue_names(settings: MacroConfig, current_ns: RecordSet | None) -> set[str]:
    """Names whose A/AAAA sets are the delegation's: nameservers inside the macro zone,
    configured now or named by the NS set published now (their glue goes with them)."""
    zone = settings.zone
    named = set(settings.nameservers) | set(current_ns.values if current_ns else ())
    return {n for n in named if in_zone(n, zone)}


def delegation_changes(
    settings: MacroConfig, current: Mapping[tuple[str, str], RecordSet]
) -> list[Change]:
    """The changes that make the parent's delegation of the macro zone the configured one
    (``current``: the NS set at the zone and the A/AAAA sets at :func:`glue_names`)."""
    return diff_sets(delegation_sets(settings), current)


def diff_sets(
    desired: Sequence[RecordSet], current: Mapping[tuple[str, str], RecordSet]
) -> list[Change]:
    """Creates, updates and deletes turning ``current`` into ``desired`` (keys of
    ``current`` not desired are deleted)."""
    changes: list[Change] = []
    wanted = {rs.key: rs for rs in desired}
    for key, rrset in wanted.items():
        have = current.get(key)
        if have is None:
            changes.append(Create(rrset))
        elif sorted(have.values) != sorted(rrset.values) or have.ttl != rrset.ttl:
            changes.append(Update(have, rrset))
    changes += [Delete(rs) for key, rs in sorted(current.items()) if key not in wanted]
    return changes


def write_data(data: MacroData) -> bool:
    """Atomically write the proven dataset; False when the file holds it already."""
    if data.text is None:
        raise MacroError(f"{data.path}: no proven dataset to write ({data.error})")
    data.path.parent.mkdir(parents=True, exist_ok=True)
    return write_dataset(data.path, data.text)
