"""The whole job for a config file: load -> compile -> build -> plan -> apply.

:class:`Workspace` ties a config to its DNS resolver, state store and provider adapters,
and is what the CLI commands and the daemon drive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path

from spfmanager.compile import Intent, compile_config
from spfmanager.config import Config, load_config
from spfmanager.dns.base import Resolver
from spfmanager.dns.txt import split_strings
from spfmanager.flatten import Flattener
from spfmanager.providers.base import Provider
from spfmanager.publish.apply import RETIRE_GRACE_SECONDS, ApplyItem, ApplyReport, apply_plan
from spfmanager.publish.build import DomainBuild, Progress, build
from spfmanager.publish.changes import TxtRecordSet
from spfmanager.publish.collector import batch_collector
from spfmanager.publish.connect import EMBEDDED_NAME, open_provider, provider_settings
from spfmanager.publish.drift import ServiceMeter
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
        self._state = state
        self._providers: dict[tuple[str, str], Provider] = {}
        self._current: dict[tuple[str, str], dict[str, TxtRecordSet]] = {}

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

    def current(self, intent: Intent) -> dict[str, TxtRecordSet]:
        """The zone's TXT record sets as the provider has them now (listed once per run)."""
        key = (self.provider_name(intent), intent.zone)
        if key not in self._current:
            self._current[key] = self.provider(*key).list_records()
        return self._current[key]

    def build(
        self,
        *,
        progress: Progress | None = None,
        flattener: Flattener | None = None,
        domains: Collection[str] | None = None,
    ) -> list[DomainBuild]:
        """Flatten every domain (or only ``domains``); the root's other TXT values count
        against its answer size."""

        def others(intent: Intent) -> list[tuple[str, ...]]:
            root = self.current(intent).get(intent.domain)
            return [split_strings(v) for v in foreign_values(root)]

        return build(
            [i for i in self.intents if domains is None or i.domain in domains],
            self.resolver,
            other_root_txt=others,
            progress=progress,
            flattener=flattener,
        )

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
        return Plan(tuple(plans), now)

    def apply(
        self,
        plan: Plan | list[ApplyItem],
        *,
        force: bool = False,
        now: datetime | None = None,
        sleep: Callable[[float], None] | None = None,
        retire_grace: float = RETIRE_GRACE_SECONDS,
        progress: Progress | None = None,
    ) -> ApplyReport:
        """Apply ``plan`` (see :func:`~spfmanager.publish.apply.apply_plan`); ``progress``
        hears of each change applied and of each wait for records to become visible."""
        report = apply_plan(
            plan,
            self.provider,
            self.state,
            force=force,
            now=now,
            sleep=sleep or time.sleep,
            retire_grace=retire_grace,
            progress=progress,
        )
        self._current.clear()  # the zones changed: list them again next time
        return report
