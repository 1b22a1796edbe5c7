"""The whole job for a config file: load -> compile -> build -> plan -> apply.

:class:`Workspace` ties a config to its DNS resolver, state store and provider adapters,
and is what the CLI commands and the daemon drive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from spfmanager.compile import Intent, compile_config
from spfmanager.config import Config, Mode, load_config
from spfmanager.config.models import MacroBackend
from spfmanager.dns.base import Resolver
from spfmanager.dns.txt import split_strings
from spfmanager.flatten import Flattener
from spfmanager.macro.names import owner_of
from spfmanager.macro.zone import kept_sections
from spfmanager.providers.base import Provider
from spfmanager.publish.apply import RETIRE_GRACE_SECONDS, ApplyItem, ApplyReport, apply_plan
from spfmanager.publish.build import DomainBuild, Progress, build
from spfmanager.publish.changes import RecordSet
from spfmanager.publish.collector import batch_collector
from spfmanager.publish.connect import EMBEDDED_NAME, open_provider, provider_settings
from spfmanager.publish.drift import ServiceMeter
from spfmanager.publish.macro import (
    MacroData,
    MacroPlan,
    ZoneChanges,
    build_macro_domains,
    check_macro_backend,
    check_macro_names,
    data_path,
    delegation_changes,
    delegation_notes,
    delegation_zone,
    glue_names,
    macro_intents,
    read_data_file,
    record_changes,
    records_zone,
    retiring_domains,
    shared_data,
)
from spfmanager.publish.plan import Plan, foreign_values, plan_domain
from spfmanager.publish.state import State, utcnow


class Workspace:
    """A loaded config with its resolver, state and (lazily opened) providers."""

    def __init__(
        self,
        config: Config,
        config_path: Path,
        resolver: Resolver,
        *,
        state: State | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.base_dir = config_path.parent
        self.resolver = resolver
        self.intents: list[Intent] = compile_config(config)
        check_macro_names(config, self.intents)
        check_macro_backend(config)
        self._state = state
        self._providers: dict[tuple[str, str], Provider] = {}
        self._current: dict[tuple[str, str], dict[str, RecordSet]] = {}
        # The macro dataset of this run's flattener: built once for every chunk of a pass.
        self._macro: tuple[Flattener, list[DomainBuild], MacroData] | None = None

    @classmethod
    def load(
        cls,
        path: str | Path,
        resolver: Resolver,
        *,
        state_url: str | None = None,
        state: State | None = None,
    ) -> Workspace:
        """The config at ``path``; the state store ``state`` (one already open, as the
        daemon keeps between passes), else ``state_url``, else the config's."""
        path = Path(path)
        config = load_config(path)
        workspace = cls(config, path, resolver, state=state)
        if state is None and state_url is not None:
            workspace._state = State(state_url)
        return workspace

    @property
    def state(self) -> State:
        """The state store (SQLite beside the config unless the config says otherwise)."""
        if self._state is None:
            url = self.config.state.url
            prefix = "sqlite:///"
            if url.startswith(prefix) and not url.startswith(prefix + "/"):
                url = prefix + str(self.base_dir / url[len(prefix) :])
            self._state = State(url)
        return self._state

    def provider_name(self, intent: Intent) -> str:
        return provider_settings(self.config, intent.provider)[0]

    def provider(self, name: str, zone: str) -> Provider:
        key = (name, zone)
        if key not in self._providers:
            _, settings = provider_settings(self.config, None if name == EMBEDDED_NAME else name)
            self._providers[key] = open_provider(settings, zone, self.base_dir)
        return self._providers[key]

    def current(self, intent: Intent) -> dict[str, RecordSet]:
        """The zone's TXT record sets as the provider has them now (listed once per run)."""
        return self.listed(self.provider_name(intent), intent.zone)

    def listed(self, name: str, zone: str) -> dict[str, RecordSet]:
        """Provider ``name``'s TXT record sets of ``zone`` now (listed once per run)."""
        key = (name, zone)
        if key not in self._current:
            self._current[key] = self.provider(*key).list_records()
        return self._current[key]

    @property
    def macro_path(self) -> Path | None:
        """The macro data file (relative to the config file), when there is a section."""
        return None if self.config.macro is None else data_path(self.config, self.base_dir)

    def build(
        self,
        *,
        progress: Progress | None = None,
        flattener: Flattener | None = None,
        domains: Collection[str] | None = None,
    ) -> list[DomainBuild]:
        """Flatten every domain (or only ``domains``); the root's other TXT values count
        against its answer size. Macro-mode domains get their macro root record, the
        dataset of every macro-mode domain being built and proven as a whole."""

        def others(intent: Intent) -> list[tuple[str, ...]]:
            root = self.current(intent).get(intent.domain)
            return [split_strings(v) for v in foreign_values(root)]

        flattener = flattener or Flattener(self.resolver)
        wanted = [i for i in self.intents if domains is None or i.domain in domains]
        flat = [i for i in wanted if i.mode is not Mode.MACRO]
        builds = {
            id(b.intent): b
            for b in build(
                flat,
                self.resolver,
                other_root_txt=others,
                progress=progress,
                flattener=flattener,
            )
        }
        if len(flat) < len(wanted):
            for b in self.macro_build(flattener)[0]:
                builds[id(b.intent)] = b
                if progress is not None and (domains is None or b.intent.domain in domains):
                    progress(b.intent.domain)
        return [builds[id(i)] for i in wanted]

    def macro_build(
        self, flattener: Flattener | None = None
    ) -> tuple[list[DomainBuild], MacroData]:
        """Every macro-mode domain's build and the shared dataset (built once per
        flattener: the daemon plans a pass in chunks)."""
        flattener = flattener or Flattener(self.resolver)
        if self._macro is not None and self._macro[0] is flattener:
            return self._macro[1], self._macro[2]
        path = self.macro_path
        assert self.config.macro is not None and path is not None  # compile checked it
        builds, data = build_macro_domains(
            macro_intents(self.intents), self.resolver, self.config.macro, path,
            flattener=flattener, retiring=self.macro_retiring(path),
        )  # fmt: skip
        self._macro = (flattener, builds, data)
        return builds, data

    def macro_retiring(self, path: Path) -> list[str]:
        """Domains that left macro mode whose macro answers must stay served
        (:func:`~spfmanager.publish.macro.retiring_domains`). Only those that still have
        answers are looked at: sections in the data file (rbldnsd), names in the provider
        zone (records backend; the plan lists that zone anyway)."""
        settings = self.config.macro
        assert settings is not None
        others = [i for i in self.intents if i.mode is not Mode.MACRO]
        if not others:
            return []
        if settings.backend is MacroBackend.RBLDNSD:
            text = read_data_file(path)
            served: set[str | None] = (
                set(kept_sections(text, [i.domain for i in others])) if text else set()
            )
        else:
            chosen, zone = records_zone(settings, self.config.defaults.provider)
            under = f".{settings.zone}"
            served = {
                owner_of(n[: -len(under)])
                for n in self.listed(provider_settings(self.config, chosen)[0], zone)
                if n.endswith(under)
            }
        others = [i for i in others if i.domain in served]
        if not others:
            return []

        def root_values(intent: Intent) -> tuple[str, ...]:
            root = self.current(intent).get(intent.domain)
            return () if root is None else root.values

        return retiring_domains(
            others, settings.zone, root_values, self.state.published_at, utcnow(),
            RETIRE_GRACE_SECONDS,
        )  # fmt: skip

    def plan(
        self,
        *,
        now: datetime | None = None,
        progress: Progress | None = None,
        flattener: Flattener | None = None,
        domains: Collection[str] | None = None,
    ) -> Plan:
        """Build and plan every domain (or only ``domains``)."""
        with batch_collector():
            return self._plan(now=now, progress=progress, flattener=flattener, domains=domains)

    def _plan(
        self,
        *,
        now: datetime | None,
        progress: Progress | None,
        flattener: Flattener | None,
        domains: Collection[str] | None,
    ) -> Plan:
        now = now or utcnow()
        flattener = flattener or Flattener(self.resolver)
        plans = []
        builds = self.build(progress=progress, flattener=flattener, domains=domains)
        meter = ServiceMeter(flattener)  # identical intents are measured once
        pending = self.state.all_pending()
        baselines = self.state.all_service_sizes()
        probed: set[tuple[str, ...]] = set()  # record shapes whose safety probe passed
        for domain_build in builds:
            intent = domain_build.intent
            provider = self.provider_name(intent)
            built = domain_build.result is not None
            ranges, sizes = meter.measure(intent) if built else (None, None)
            shared = built and flattener.shares(intent.record)  # its form is the build's
            plans.append(
                plan_domain(
                    domain_build,
                    provider,
                    self.current(intent),
                    pending.get((provider, intent.zone), []),
                    now,
                    self.resolver,
                    analyzer=flattener.analyzer(intent.keep),
                    sizes=sizes,
                    baseline=baselines.get(intent.domain),
                    ranges=ranges,
                    intent_form=flattener.normal_form(intent.record, intent.domain, intent.keep)
                    if shared
                    else None,
                    probed=probed,
                )
            )
        macro: MacroPlan | None = None
        mine = {p.domain for p in plans if p.build.intent.mode is Mode.MACRO}
        if mine:
            builds, data = self.macro_build(flattener)
            unsafe = [p.domain for p in plans if p.domain in mine and p.unsafe]
            if unsafe:  # the data file is shared: publishing it publishes every domain's
                what = shared_data(data.settings)
                reason = f"{what} shared with {', '.join(unsafe)}, held unsafe"
                plans = [
                    replace(p, unsafe=(*p.unsafe, reason))
                    if p.domain in mine and p.domain not in unsafe
                    else p
                    for p in plans
                ]
            zones = self.macro_zone_changes(data)
            notes: tuple[str, ...] = ()
            settings = data.settings
            needs_delegation = settings.backend is MacroBackend.RBLDNSD or (
                settings.provider_zone in (None, settings.zone)
            )
            if data.built and settings.delegation is None and needs_delegation:
                notes = tuple(delegation_notes(data, self.resolver))
            domains = tuple(b.intent.domain for b in builds)
            macro = MacroPlan(data, data.changed, domains, notes, zones)
        return Plan(tuple(plans), now, macro=macro)

    def macro_zone_changes(self, data: MacroData) -> tuple[ZoneChanges, ...]:
        """The records backend's changes (when its records are proven) and the
        delegation's, each listed from its provider now."""
        settings = data.settings
        default = self.config.defaults.provider
        out: list[ZoneChanges] = []
        if settings.backend is MacroBackend.RECORDS and data.zone_records is not None:
            chosen, zone = records_zone(settings, default)
            name = provider_settings(self.config, chosen)[0]
            changes = record_changes(data, self.listed(name, zone))
            out.append(ZoneChanges("records", name, zone, tuple(changes), data.entries))
        if settings.delegation is not None:
            chosen, zone = delegation_zone(settings, default)
            name = provider_settings(self.config, chosen)[0]
            provider = self.provider(name, zone)
            ns = provider.list_records({settings.zone}, "NS").get(settings.zone)
            current: dict[tuple[str, str], RecordSet] = {} if ns is None else {ns.key: ns}
            glue = glue_names(settings, ns)
            for rtype in ("A", "AAAA"):
                for rrset in provider.list_records(glue, rtype).values():
                    current[rrset.key] = rrset
            changes = delegation_changes(settings, current)
            out.append(ZoneChanges("delegation", name, zone, tuple(changes)))
        return tuple(out)

    def apply(
        self,
        plan: Plan | list[ApplyItem],
        *,
        force: bool = False,
        now: datetime | None = None,
        sleep: Callable[[float], None] | None = None,
        retire_grace: float = RETIRE_GRACE_SECONDS,
        progress: Progress | None = None,
        macro: MacroData | None = None,
        macro_zones: Sequence[ZoneChanges] = (),
    ) -> ApplyReport:
        """Apply ``plan`` (see :func:`~spfmanager.publish.apply.apply_plan`); ``progress``
        hears of each change applied and of each wait for records to become visible.
        ``macro``: the data file of a saved plan's macro-mode domains (written first)."""
        report = apply_plan(
            plan,
            self.provider,
            self.state,
            force=force,
            now=now,
            sleep=sleep or time.sleep,
            retire_grace=retire_grace,
            progress=progress,
            macro=macro,
            macro_zones=macro_zones,
        )
        self._current.clear()  # the zones changed: list them again next time
        return report
