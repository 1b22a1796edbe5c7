"""``apply_plan`` against a real zone file and a real SQLite state store."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import StalePlanError, UnsafePlanError, VisibilityTimeoutError
from spfmanager.providers.zonefile import ZoneFileProvider
from spfmanager.publish.apply import RETIRE_GRACE_SECONDS, ApplyItem, ApplyReport, apply_plan
from spfmanager.publish.build import DomainBuild
from spfmanager.publish.changes import Change, Create, Delete, RecordSet, Update
from spfmanager.publish.plan import Phase, Plan, plan_domain
from spfmanager.publish.state import State
from tests.publish.test_plan import (
    DOMAIN,
    NOW,
    PROVIDER,
    build_domain,
    chain_of,
    rrset,
)

Zone = dict[str, RecordSet]


class WatchedZoneFile(ZoneFileProvider):
    """The zone-file adapter, keeping the zone as the file holds it after each write.

    ``after_write`` runs after each write, as another writer acting between two phases.
    """

    def __init__(self, zone: str, directory: Path) -> None:
        super().__init__(zone, directory=directory)
        self.writes: list[tuple[list[Change], Zone]] = []
        self.after_write: Callable[[int], None] | None = None

    def _apply(self, changes: Sequence[Change]) -> None:
        super()._apply(changes)
        self.writes.append((list(changes), self.list_records()))
        if self.after_write is not None:
            self.after_write(len(self.writes))


class Site:
    """One zone file and one state store in a directory, and the plans made against them."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(exist_ok=True)
        self.provider = WatchedZoneFile(DOMAIN, directory / "zones")
        self.state = State(f"sqlite:///{directory / 'state.db'}")
        self.zone_path = directory / "zones" / f"{DOMAIN}.zone"

    def providers(self, name: str, zone: str) -> ZoneFileProvider:
        assert (name, zone) == (PROVIDER, DOMAIN)
        return self.provider

    def zone(self) -> Zone:
        return self.provider.list_records()

    def plan(
        self, domain_build: DomainBuild, resolver: SnapshotResolver, now: datetime = NOW
    ) -> Plan:
        current = self.zone()
        pending = self.state.pending(PROVIDER, DOMAIN)
        return Plan((plan_domain(domain_build, PROVIDER, current, pending, now, resolver),), now)

    def apply(
        self, plan: Plan | Sequence[ApplyItem], now: datetime = NOW, **options: Any
    ) -> ApplyReport:
        return apply_plan(plan, self.providers, self.state, now=now, sleep=never, **options)

    def generation(self, generation: int, now: datetime = NOW, **domain: Any) -> DomainBuild:
        """Build, plan and apply one generation; the build."""
        domain_build, resolver = build_domain(generation, **domain)
        plan = self.plan(domain_build, resolver, now)
        assert not plan.unsafe, plan.unsafe
        self.apply(plan, now)
        return domain_build

    def write(self, *changes: Change) -> None:
        """Another writer changes the zone."""
        ZoneFileProvider(DOMAIN, directory=self.provider.path.parent).apply(changes)

    def pending_names(self) -> set[str]:
        return {p.name for p in self.state.pending(PROVIDER, DOMAIN)}


def never(seconds: float) -> None:
    raise AssertionError("a zone file serves what was written at once: no visibility wait")


def served_texts(domain_build: DomainBuild) -> dict[str, tuple[str, ...]]:
    assert domain_build.result is not None
    return {name: (text,) for name, text in domain_build.result.texts.items()}


def texts(zone: Zone) -> dict[str, tuple[str, ...]]:
    return {name: rs.values for name, rs in zone.items()}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def test_first_apply_writes_the_chain_before_the_root(site: Site) -> None:
    domain_build, resolver = build_domain(1)
    plan = site.plan(domain_build, resolver)
    report = site.apply(plan)
    assert [[type(c) for c in changes] for changes, _ in site.provider.writes] == [
        [Create, Create],
        [Create],
    ]
    (_, after_chain), (_, after_root) = site.provider.writes
    assert set(after_chain) == set(chain_of(domain_build))  # no root yet
    assert texts(after_root) == served_texts(domain_build)
    assert report.applied == [c.change for c in plan.changes]
    assert site.state.last_good(DOMAIN) == domain_build.result.records  # type: ignore[union-attr]
    assert site.state.applied(PROVIDER, DOMAIN) == [[f"create {c.name}" for c in plan.changes]]


def test_a_rollover_switches_the_root_only_after_the_chain_and_deletes_last(site: Site) -> None:
    first = site.generation(1)
    second = site.generation(2, NOW + timedelta(seconds=10))
    later = NOW + timedelta(hours=1)
    third, resolver = build_domain(3)
    plan = site.plan(third, resolver, later)
    assert [c.phase for c in plan.changes] == [Phase.CHAIN] * 2 + [Phase.ROOT] + [Phase.CLEANUP] * 2
    site.provider.writes.clear()
    report = site.apply(plan, later)
    (chain_changes, after_chain), (root_changes, after_root), (cleanup_changes, after_cleanup) = (
        site.provider.writes
    )
    assert {c.name for c in chain_changes} == set(chain_of(third))
    assert after_chain[DOMAIN].values == served_texts(second)[DOMAIN]  # still the old root
    assert set(chain_of(first)) <= set(after_chain)
    assert [c.name for c in root_changes] == [DOMAIN]
    assert after_root[DOMAIN].values == served_texts(third)[DOMAIN]
    assert set(chain_of(first)) <= set(after_root)  # deletions come last
    assert all(isinstance(c, Delete) for c in cleanup_changes)
    assert set(after_cleanup) == {DOMAIN, *chain_of(second), *chain_of(third)}
    assert report.deleted_pending == sorted(chain_of(first))
    assert site.pending_names() == set(chain_of(second))
    assert [len(entry) for entry in site.state.applied(PROVIDER, DOMAIN)] == [3, 3, 5]


def test_a_create_is_refused_when_the_name_appeared_meanwhile(site: Site) -> None:
    domain_build, resolver = build_domain(1)
    plan = site.plan(domain_build, resolver)
    site.write(Create(rrset(DOMAIN, "v=spf1 -all")))
    before = site.zone_path.read_bytes()
    with pytest.raises(StalePlanError, match=f"{DOMAIN} appeared since the plan was made"):
        site.apply(plan)
    assert site.zone_path.read_bytes() == before  # not even the chain was written
    assert site.state.applied(PROVIDER, DOMAIN) == []


def test_an_update_is_refused_when_the_name_changed_or_went(site: Site) -> None:
    site.generation(1)
    second, resolver = build_domain(2)
    plan = site.plan(second, resolver)
    root = site.zone()[DOMAIN]
    site.write(Update(root, rrset(DOMAIN, *root.values, "verification=1")))
    before = site.zone_path.read_bytes()
    with pytest.raises(StalePlanError, match=f"{DOMAIN} changed since the plan was made"):
        site.apply(plan)
    assert site.zone_path.read_bytes() == before
    site.write(Delete(site.zone()[DOMAIN]))
    with pytest.raises(StalePlanError, match=f"{DOMAIN} changed since the plan was made"):
        site.apply(plan)
    assert DOMAIN not in site.zone() and not set(chain_of(second)) & set(site.zone())


def test_a_delete_is_refused_when_the_name_changed_and_skipped_when_gone(site: Site) -> None:
    first = site.generation(1)
    second = site.generation(2)
    later = NOW + timedelta(hours=1)
    second_again, resolver = build_domain(2)
    plan = site.plan(second_again, resolver, later)
    assert {c.name for c in plan.changes} == set(chain_of(first))
    victim, other = sorted(chain_of(first))
    site.write(Update(site.zone()[victim], rrset(victim, "v=spf1 ip4:192.0.2.1 -all")))
    before = site.zone_path.read_bytes()
    with pytest.raises(StalePlanError, match=f"{victim} changed since the plan was made"):
        site.apply(plan, later)
    assert site.zone_path.read_bytes() == before
    # Someone deleted it instead: that deletion is in effect, the other one still to do.
    site.write(Delete(site.zone()[victim]))
    report = site.apply(plan, later)
    assert [c.name for c in report.applied] == [other]
    assert site.state.applied(PROVIDER, DOMAIN)[-1] == [f"delete {other}"]
    assert set(site.zone()) == {DOMAIN, *chain_of(second)}


def test_a_chained_name_changed_after_the_chain_write_stops_the_switch(site: Site) -> None:
    first = site.generation(1)
    second, resolver = build_domain(2)
    plan = site.plan(second, resolver)
    target = chain_of(second)[0]
    site.provider.writes.clear()

    def meddle(write: int) -> None:
        if write == 1:  # right after the chain phase: another writer
            site.write(Update(site.zone()[target], rrset(target, "v=spf1 -all")))

    site.provider.after_write = meddle
    with pytest.raises(VisibilityTimeoutError, match=f"{target} not visible"):
        site.apply(plan, visibility_timeout=0.0)
    assert len(site.provider.writes) == 1
    assert site.zone()[DOMAIN].values == served_texts(first)[DOMAIN]  # the root not switched


def test_a_wanted_chained_name_gone_before_the_root_switch_stops_the_switch(site: Site) -> None:
    first = site.generation(1)
    second = site.generation(2)
    first_again, resolver = build_domain(1)
    plan = site.plan(first_again, resolver)  # a revert: only the root changes
    assert [c.phase for c in plan.changes] == [Phase.ROOT]
    gone = chain_of(first)[-1]
    site.write(Delete(site.zone()[gone]))  # a cleanup run deleted it meanwhile
    with pytest.raises(StalePlanError, match=f"{gone} does not hold the proven record"):
        site.apply(plan)
    assert site.zone()[DOMAIN].values == served_texts(second)[DOMAIN]
    assert len(site.state.applied(PROVIDER, DOMAIN)) == 2


def test_changes_already_in_effect_are_neither_applied_nor_logged(site: Site) -> None:
    domain_build, resolver = build_domain(1)
    plan = site.plan(domain_build, resolver)
    site.apply(plan)
    before = site.zone_path.read_bytes()
    again = site.apply(plan)
    assert again.applied == [] and again.scheduled == []
    assert site.zone_path.read_bytes() == before  # not rewritten: the serial is the same
    assert len(site.state.applied(PROVIDER, DOMAIN)) == 1


def test_a_chain_another_run_created_is_skipped_and_only_the_root_applied(site: Site) -> None:
    domain_build, resolver = build_domain(1)
    plan = site.plan(domain_build, resolver)
    chain = [c.change for c in plan.changes if c.phase is Phase.CHAIN]
    site.write(*chain)
    report = site.apply(plan)
    assert [c.name for c in report.applied] == [DOMAIN]
    assert site.state.applied(PROVIDER, DOMAIN) == [[f"create {DOMAIN}"]]
    assert texts(site.zone()) == served_texts(domain_build)


def test_a_saved_plan_reads_back_as_the_same_items_and_applies_the_same(tmp_path: Path) -> None:
    sites = [Site(tmp_path / "live"), Site(tmp_path / "saved")]
    first = sites[0].generation(1, ttl=900)
    sites[1].generation(1, ttl=900)
    later = NOW + timedelta(hours=1)
    second, resolver = build_domain(2)
    plan = sites[0].plan(second, resolver, later)
    saved = json.loads(json.dumps(plan.data))
    items = ApplyItem.from_data(saved)
    assert items == ApplyItem.from_plan(plan)
    (item,) = items
    assert item.retire_after == 900 and set(item.retire) == set(chain_of(first))
    reports = [sites[0].apply(plan, later), sites[1].apply(items, later)]
    assert reports[0].applied == reports[1].applied == [c.change for c in plan.changes]
    assert texts(sites[0].zone()) == texts(sites[1].zone())
    assert served_texts(second).items() <= texts(sites[1].zone()).items()
    for each in sites:
        assert each.pending_names() == set(item.retire)
        assert each.state.last_good(DOMAIN) == second.result.records  # type: ignore[union-attr]


def test_apply_drops_the_cancelled_deletions_only(site: Site) -> None:
    first = site.generation(1)
    second = site.generation(2)
    assert site.pending_names() == set(chain_of(first))
    first_again, resolver = build_domain(1)  # a revert: generation 1's names are wanted again
    plan = site.plan(first_again, resolver, NOW + timedelta(hours=1))
    (domain_plan,) = plan.domains
    assert set(domain_plan.cancel) == set(chain_of(first))
    report = site.apply(plan, NOW + timedelta(hours=1))
    assert [c.name for c in report.applied] == [DOMAIN]
    assert site.pending_names() == set(chain_of(second))  # retired by the revert
    assert set(chain_of(first)) <= set(site.zone())


def test_retired_names_wait_for_the_old_roots_ttl_and_the_grace(site: Site) -> None:
    first = site.generation(1, ttl=900)
    second, resolver = build_domain(2)
    plan = site.plan(second, resolver, NOW)
    (domain_plan,) = plan.domains
    assert domain_plan.retire_after == 900  # the old root's TTL, not the new one's 300
    report = site.apply(plan, NOW, retire_grace=7.0)
    assert {p.name for p in report.scheduled} == set(chain_of(first))
    for deletion in site.state.pending(PROVIDER, DOMAIN):
        waited = (deletion.not_before - NOW).total_seconds()
        assert 900 + 7.0 <= waited < 900 + 7.0 + 30  # counted from the end of the switch
        assert (deletion.provider, deletion.zone, deletion.domain) == (PROVIDER, DOMAIN, DOMAIN)
    stored = {p.name: p.not_before for p in site.state.pending(PROVIDER, DOMAIN)}
    assert stored == {p.name: p.not_before for p in report.scheduled}
    # The default grace.
    third, resolver = build_domain(3)
    report = site.apply(site.plan(third, resolver, NOW), NOW)
    waited = min((p.not_before - NOW).total_seconds() for p in report.scheduled)
    assert waited >= 300 + RETIRE_GRACE_SECONDS


def test_a_due_name_something_points_at_again_is_kept(site: Site) -> None:
    first = site.generation(1)
    second = site.generation(2)
    later = NOW + timedelta(hours=1)
    second_again, resolver = build_domain(2)
    saved = json.loads(json.dumps(site.plan(second_again, resolver, later).data))
    link1, link2 = chain_of(first)
    # Meanwhile a record staying in the zone came to point at the chain's last link.
    other = f"mail.{DOMAIN}"
    site.write(Create(rrset(other, f"v=spf1 include:{link2} -all")))
    report = site.apply(ApplyItem.from_data(saved), later)
    assert report.kept == [link2]
    assert report.deleted_pending == [link1]
    assert [c.name for c in report.applied] == [link1]
    assert set(site.zone()) == {DOMAIN, other, link2, *chain_of(second)}
    # Its deletion is cancelled, as a plan would cancel it; the next plan retires it again.
    assert site.pending_names() == set()
    (domain_plan,) = site.plan(second_again, resolver, later).domains
    assert domain_plan.retire == (link2,) and domain_plan.changes == ()


def test_an_unsafe_plan_is_refused_unless_forced(site: Site) -> None:
    domain_build, resolver = build_domain(1, max_authorized_ipv4=16)
    plan = site.plan(domain_build, resolver)
    assert plan.unsafe
    with pytest.raises(UnsafePlanError, match="authorizes 3,932,416 IPv4 addresses"):
        site.apply(plan)
    assert not site.zone_path.exists()
    site.apply(plan, force=True)
    assert texts(site.zone()) == served_texts(domain_build)


def test_apply_records_the_service_sizes_baseline(site: Site) -> None:
    domain_build, resolver = build_domain(1)
    sizes = {"services.bulk": {4: 60 << 16, 6: 0}, "services.small": {4: 256, 6: 1 << 80}}
    domain_plan = plan_domain(domain_build, PROVIDER, {}, [], NOW, resolver, sizes=sizes)
    site.apply(Plan((domain_plan,), NOW))
    assert site.state.service_sizes(DOMAIN) == sizes
