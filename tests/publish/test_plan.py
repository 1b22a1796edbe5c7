"""``plan_domain`` and the zone helpers of :mod:`spfmanager.publish.plan`, on real builds.

Builds come from the real flattener over an offline snapshot; the zones are hand-built
record sets. Three "generations" of one upstream service give three different chains, as
three rollovers in a row would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from spfmanager.compile import compile_config
from spfmanager.config.models import Config
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.publish.build import DomainBuild, build
from spfmanager.publish.changes import (
    Change,
    Create,
    Delete,
    RecordSet,
    Update,
    change_from_data,
)
from spfmanager.publish.plan import (
    DomainPlan,
    Phase,
    Plan,
    PlannedChange,
    foreign_values,
    owned_chain_names,
    plan_domain,
    protected,
    references,
    zone_after,
)
from spfmanager.publish.state import PendingDeletion, ServiceSizes

DOMAIN = "example.com"
PROVIDER = "local"
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SMALL = "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:5::/48 -all"
SERVICES: dict[str, Any] = {
    "small": {"name": "Small", "include": ["_spf.small.test"]},
    "bulk": {"name": "Bulk", "include": ["_spf.bulk.test"]},
}
Zone = dict[str, RecordSet]


def bulk_record(generation: int) -> str:
    """60 disjoint /16s: flattened, they need a root and two chained records."""
    ranges = " ".join(f"ip4:{100 + generation}.{i}.0.0/16" for i in range(0, 120, 2))
    return f"v=spf1 {ranges} ~all"


def upstream(generation: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "_spf.small.test": [{"TXT": SMALL}],
        "_spf.bulk.test": [{"TXT": bulk_record(generation)}],
        **overrides,
    }


def config(services: Sequence[str], domains: Iterable[str] = (DOMAIN,), **domain: Any) -> Config:
    return Config.model_validate(
        {
            "defaults": {"ttl": 300},
            "services": SERVICES,
            "domains": {name: {"services": list(services), **domain} for name in domains},
        }
    )


def build_domain(
    generation: int = 1,
    services: Sequence[str] = ("small", "bulk"),
    zonedata: Mapping[str, Any] | None = None,
    **domain: Any,
) -> tuple[DomainBuild, SnapshotResolver]:
    """One domain's build over the snapshot, and the resolver plans must share with it."""
    resolver = SnapshotResolver(upstream(generation) if zonedata is None else zonedata)
    (result,) = build(compile_config(config(services, **domain)), resolver)
    return result, resolver


def rrset(name: str, *values: str, ttl: int = 300) -> RecordSet:
    return RecordSet(name, values, ttl)


def plan_for(
    domain_build: DomainBuild,
    resolver: SnapshotResolver,
    current: Mapping[str, RecordSet] | None = None,
    pending: Sequence[PendingDeletion] = (),
    now: datetime = NOW,
    **options: Any,
) -> DomainPlan:
    return plan_domain(
        domain_build, PROVIDER, current or {}, list(pending), now, resolver, **options
    )


def published(domain_plan: DomainPlan, current: Mapping[str, RecordSet] | None = None) -> Zone:
    """The zone once ``domain_plan`` is applied to ``current``."""
    return zone_after(current or {}, (c.change for c in domain_plan.changes))


def chain_of(domain_build: DomainBuild) -> list[str]:
    assert domain_build.result is not None
    return [name for name in domain_build.result.texts if name != DOMAIN]


def pending(name: str, not_before: datetime, domain: str = DOMAIN) -> PendingDeletion:
    return PendingDeletion(PROVIDER, DOMAIN, name, domain, not_before)


def by_phase(domain_plan: DomainPlan, phase: Phase) -> list[PlannedChange]:
    return [c for c in domain_plan.changes if c.phase is phase]


def two_generations_live() -> tuple[Zone, DomainBuild, DomainBuild]:
    """The zone after generation 1 then generation 2 were applied, with nothing deleted."""
    first, first_resolver = build_domain(1)
    zone = published(plan_for(first, first_resolver))
    second, second_resolver = build_domain(2)
    zone = published(plan_for(second, second_resolver, zone), zone)
    return zone, first, second


# -- creates and updates ---------------------------------------------------------------------


def test_an_empty_zone_gets_every_chained_name_then_the_root() -> None:
    domain_build, resolver = build_domain()
    assert domain_build.result is not None
    texts = domain_build.result.texts
    assert len(texts) == 3  # the bulk service needs a chain
    domain_plan = plan_for(domain_build, resolver)
    chain = by_phase(domain_plan, Phase.CHAIN)
    assert sorted(c.name for c in chain) == sorted(chain_of(domain_build))
    for change in chain:
        assert change.change == Create(rrset(change.name, texts[change.name]))
        assert change.domain == DOMAIN and change.kind == "create"
    (root,) = by_phase(domain_plan, Phase.ROOT)
    assert root.change == Create(rrset(DOMAIN, texts[DOMAIN]))
    assert not by_phase(domain_plan, Phase.CLEANUP)
    assert domain_plan.retire == () and domain_plan.cancel == () and domain_plan.unsafe == ()
    assert domain_plan.retire_after == 300  # no root yet: the intent's TTL
    assert domain_plan.zone == DOMAIN and domain_plan.provider == PROVIDER


def test_a_zone_holding_the_build_needs_no_change() -> None:
    domain_build, resolver = build_domain()
    zone = published(plan_for(domain_build, resolver))
    again = plan_for(domain_build, resolver, zone)
    assert again.changes == () and again.unsafe == () and again.retire == ()
    assert not Plan((again,), NOW).has_changes


def test_a_different_ttl_is_an_update_of_every_name() -> None:
    domain_build, resolver = build_domain()
    zone = published(plan_for(domain_build, resolver))
    old_ttl = {name: replace(rs, ttl=3600) for name, rs in zone.items()}
    domain_plan = plan_for(domain_build, resolver, old_ttl)
    assert {c.name for c in domain_plan.changes} == set(zone)
    for change in domain_plan.changes:
        assert change.change == Update(old_ttl[change.name], zone[change.name])
    assert {c.name for c in by_phase(domain_plan, Phase.ROOT)} == {DOMAIN}
    assert domain_plan.retire_after == 3600  # the TTL of the root being replaced


def test_a_chained_name_holding_another_value_is_updated_and_the_root_left_alone() -> None:
    domain_build, resolver = build_domain()
    zone = published(plan_for(domain_build, resolver))
    name = chain_of(domain_build)[-1]
    tampered = {**zone, name: rrset(name, "v=spf1 -all")}
    domain_plan = plan_for(domain_build, resolver, tampered)
    (change,) = domain_plan.changes
    assert change.phase is Phase.CHAIN
    assert change.change == Update(tampered[name], zone[name])


def test_the_root_update_keeps_foreign_txt_values() -> None:
    domain_build, resolver = build_domain()
    assert domain_build.result is not None
    root_text = domain_build.result.texts[DOMAIN]
    old = rrset(DOMAIN, "google-site-verification=abc", "v=spf1 ip4:192.0.2.1 -all", ttl=600)
    domain_plan = plan_for(domain_build, resolver, {DOMAIN: old})
    (root,) = by_phase(domain_plan, Phase.ROOT)
    # One TTL per RRset (RFC 2181 5.2): the verification value's 600 stays, and the plan says so.
    kept = rrset(DOMAIN, "google-site-verification=abc", root_text, ttl=600)
    assert root.change == Update(old, kept)
    assert any("TTL kept at 600, not 300" in n and "ttl_override" in n for n in domain_plan.notes)
    # A root that already holds the record beside foreign values is in sync.
    chain = {n: rrset(n, domain_build.result.texts[n]) for n in chain_of(domain_build)}
    in_sync = {**chain, DOMAIN: rrset(DOMAIN, "zzz=keep", root_text)}
    assert plan_for(domain_build, resolver, in_sync).changes == ()
    # Two SPF records (a permerror) become one; the foreign value stays.
    doubled = {**chain, DOMAIN: rrset(DOMAIN, "v=spf1 -all", root_text, "zzz=keep")}
    (root,) = plan_for(domain_build, resolver, doubled).changes
    assert root.change == Update(doubled[DOMAIN], rrset(DOMAIN, "zzz=keep", root_text))


def test_ttl_override_sets_a_shared_roots_ttl_and_a_lone_root_follows_ttl() -> None:
    old = rrset(DOMAIN, "google-site-verification=abc", "v=spf1 ip4:192.0.2.1 -all", ttl=600)
    overridden, resolver = build_domain(ttl_override=True)
    assert overridden.result is not None
    (root,) = by_phase(plan_for(overridden, resolver, {DOMAIN: old}), Phase.ROOT)
    assert root.change == Update(
        old, rrset(DOMAIN, "google-site-verification=abc", overridden.result.texts[DOMAIN])
    )
    lone = rrset(DOMAIN, "v=spf1 ip4:192.0.2.1 -all", ttl=600)  # nothing else shares it
    plain, resolver = build_domain()
    assert plain.result is not None
    (root,) = by_phase(plan_for(plain, resolver, {DOMAIN: lone}), Phase.ROOT)
    assert root.change == Update(lone, rrset(DOMAIN, plain.result.texts[DOMAIN]))


def test_foreign_values_are_the_non_spf_values() -> None:
    assert foreign_values(None) == ()
    values = ("v=spf1 -all", "google-site-verification=x", "v=spf10 other", "V=SPF1 ~all")
    assert foreign_values(rrset(DOMAIN, *values)) == ("google-site-verification=x", "v=spf10 other")


# -- phases, retirement and cleanup ------------------------------------------------------------


def test_a_third_generation_creates_switches_then_deletes_the_due_first() -> None:
    zone, first, second = two_generations_live()
    third, resolver = build_domain(3)
    due = [pending(name, NOW - timedelta(seconds=1)) for name in chain_of(first)]
    domain_plan = plan_for(third, resolver, zone, due)
    assert [c.phase for c in domain_plan.changes] == [
        Phase.CHAIN,
        Phase.CHAIN,
        Phase.ROOT,
        Phase.CLEANUP,
        Phase.CLEANUP,
    ]
    assert {c.name for c in by_phase(domain_plan, Phase.CHAIN)} == set(chain_of(third))
    cleanup = by_phase(domain_plan, Phase.CLEANUP)
    assert [c.change for c in cleanup] == [Delete(zone[n]) for n in sorted(chain_of(first))]
    assert set(domain_plan.retire) == set(chain_of(second))  # scheduled, not deleted
    assert domain_plan.unsafe == ()
    assert any(n.startswith("retire ") for n in domain_plan.notes)
    after = published(domain_plan, zone)
    assert set(after) == {DOMAIN, *chain_of(second), *chain_of(third)}


def test_plan_changes_are_ordered_chain_root_cleanup_across_domains() -> None:
    assert Phase.CHAIN < Phase.ROOT < Phase.CLEANUP
    zone, first, _ = two_generations_live()
    due = [pending(name, NOW) for name in chain_of(first)]
    third, resolver = build_domain(3)
    com = plan_for(third, resolver, zone, due)
    org_resolver = SnapshotResolver(upstream(3))
    (org_build,) = build(compile_config(config(["small", "bulk"], ["example.org"])), org_resolver)
    org = plan_domain(org_build, PROVIDER, {}, [], NOW, org_resolver)
    changes = Plan((org, com), NOW).changes
    keys = [c.sort_key() for c in changes]
    assert keys == sorted(keys)
    assert [(c.phase, c.domain) for c in changes] == [
        (Phase.CHAIN, "example.com"),
        (Phase.CHAIN, "example.com"),
        (Phase.CHAIN, "example.org"),
        (Phase.CHAIN, "example.org"),
        (Phase.ROOT, "example.com"),
        (Phase.ROOT, "example.org"),
        (Phase.CLEANUP, "example.com"),
        (Phase.CLEANUP, "example.com"),
    ]


def test_a_pending_deletion_is_carried_out_only_once_due() -> None:
    zone, first, second = two_generations_live()
    resolver = SnapshotResolver(upstream(2))
    names = chain_of(first)
    not_yet = plan_for(
        second, resolver, zone, [pending(n, NOW + timedelta(seconds=1)) for n in names]
    )
    assert not_yet.changes == ()
    assert not_yet.retire == ()  # already scheduled: not scheduled twice
    exactly = plan_for(second, resolver, zone, [pending(n, NOW) for n in names])
    assert [(c.phase, c.change) for c in exactly.changes] == [
        (Phase.CLEANUP, Delete(zone[n])) for n in sorted(names)
    ]
    # Only the due one of the two goes.
    mixed = [pending(names[0], NOW), pending(names[1], NOW + timedelta(hours=1))]
    (only,) = plan_for(second, resolver, zone, mixed).changes
    assert only.name == names[0]


def test_retire_lists_only_owned_unwanted_unscheduled_names() -> None:
    zone, first, second = two_generations_live()
    resolver = SnapshotResolver(upstream(3))
    third, _ = build_domain(3)
    sub = "_spf1-0123abcd.mail.example.com"  # another domain's chain in the same zone
    zone = {**zone, sub: rrset(sub, "v=spf1 -all")}
    scheduled = [pending(chain_of(first)[0], NOW + timedelta(hours=1))]
    domain_plan = plan_for(third, resolver, zone, scheduled)
    assert set(domain_plan.retire) == {chain_of(first)[1], *chain_of(second)}
    assert sub not in {c.name for c in domain_plan.changes}


def test_another_domains_due_deletion_is_not_this_domains_to_carry_out() -> None:
    domain_build, resolver = build_domain()
    zone = published(plan_for(domain_build, resolver))
    sub = "_spf1-0123abcd.mail.example.com"
    zone[sub] = rrset(sub, "v=spf1 -all")
    domain_plan = plan_for(domain_build, resolver, zone, [pending(sub, NOW, "mail.example.com")])
    assert domain_plan.changes == ()


def test_a_name_wanted_again_is_cancelled_not_deleted() -> None:
    zone, first, _ = two_generations_live()
    first_again, resolver = build_domain(1)  # a revert to generation 1
    due = [pending(name, NOW - timedelta(days=1)) for name in chain_of(first)]
    domain_plan = plan_for(first_again, resolver, zone, due)
    assert not by_phase(domain_plan, Phase.CLEANUP)
    assert not by_phase(domain_plan, Phase.CHAIN)  # the names are still there
    assert [c.name for c in by_phase(domain_plan, Phase.ROOT)] == [DOMAIN]
    assert set(domain_plan.cancel) == set(chain_of(first))
    assert all(n not in domain_plan.retire for n in chain_of(first))
    for name in chain_of(first):
        assert (
            f"keep {name}: wanted again; its scheduled deletion is cancelled" in domain_plan.notes
        )
    # A name wanted again that is gone meanwhile is created, and its deletion still cancelled.
    gone = {n: rs for n, rs in zone.items() if n != chain_of(first)[0]}
    domain_plan = plan_for(first_again, resolver, gone, due)
    assert [c.change for c in by_phase(domain_plan, Phase.CHAIN)] == [
        Create(zone[chain_of(first)[0]])
    ]
    assert set(domain_plan.cancel) == set(chain_of(first))


def test_a_due_name_a_staying_record_points_at_is_kept() -> None:
    domain_build, resolver = build_domain()
    zone = published(plan_for(domain_build, resolver))
    old = "_spf1-deadbeef.example.com"
    other = "mail.example.com"
    zone[old] = rrset(old, "v=spf1 ip4:192.0.2.9 -all")
    zone[other] = rrset(other, f"v=spf1 include:{old} -all")
    domain_plan = plan_for(domain_build, resolver, zone, [pending(old, NOW)])
    assert domain_plan.changes == ()
    assert domain_plan.cancel == (old,)
    assert f"keep {old}: a record staying in the zone points at it" in domain_plan.notes
    # Once nothing points at it, it goes.
    del zone[other]
    (change,) = plan_for(domain_build, resolver, zone, [pending(old, NOW)]).changes
    assert change.change == Delete(zone[old]) and change.phase is Phase.CLEANUP


# -- the zone helpers --------------------------------------------------------------------------


def test_owned_chain_names_are_this_domains_generated_names() -> None:
    names = [
        "example.com",
        "_spf2-89abcdef.example.com",
        "_spf1-01234567.example.com",
        "_spf1-01234567.mail.example.com",  # a subdomain's
        "_spf1-0123456.example.com",  # hash too short
        "_spf1-0123456g.example.com",  # not hex
        "_spf-01234567.example.com",  # no index
        "_spf1-01234567.example.org",
        "_dmarc.example.com",
    ]
    assert owned_chain_names(names, "example.com") == [
        "_spf1-01234567.example.com",
        "_spf2-89abcdef.example.com",
    ]
    assert owned_chain_names(names, "mail.example.com") == ["_spf1-01234567.mail.example.com"]


def test_zone_after_applies_creates_updates_and_deletes() -> None:
    a, b, c = "a.example.com", "b.example.com", "c.example.com"
    current = {a: rrset(a, "v=spf1 -all"), b: rrset(b, "v=spf1 ~all")}
    changes: list[Change] = [
        Update(current[a], rrset(a, "v=spf1 ?all", ttl=60)),
        Delete(current[b]),
        Create(rrset(c, "v=spf1 +all")),
        Delete(rrset("gone.example.com", "x")),  # deleting a missing name is a no-op
    ]
    assert zone_after(current, changes) == {
        a: rrset(a, "v=spf1 ?all", ttl=60),
        c: rrset(c, "v=spf1 +all"),
    }
    assert set(current) == {a, b}  # the input is not changed


def test_references_follows_static_includes_and_redirects() -> None:
    records = {
        "example.com": rrset(
            "example.com",
            "v=spf1 include:A.example.com. ~include:%{i}.m.example.com redirect=b.example.com",
            "note include:n.example.com",  # not an SPF record
        ),
        "a.example.com": rrset("a.example.com", "v=spf1 include:outside.test -all"),
        "b.example.com": rrset("b.example.com", "v=spf1 redirect=c.example.com"),
        "c.example.com": rrset("c.example.com", "v=spf1 include:b.example.com -all"),  # cycle
        "n.example.com": rrset("n.example.com", "v=spf1 -all"),
        "m.example.com": rrset("m.example.com", "v=spf1 -all"),
        "broken.example.com": rrset("broken.example.com", "v=spf1 include:n.example.com foo"),
    }
    assert references(records, "example.com") == {"a.example.com", "b.example.com", "c.example.com"}
    assert references(records, "c.example.com") == {"b.example.com", "c.example.com"}
    assert references(records, "n.example.com") == set()
    assert references(records, "missing.example.com") == set()
    assert references(records, "broken.example.com") == set()  # unparsable: no targets


def test_protected_keeps_only_what_a_staying_record_reaches() -> None:
    records = {
        "example.com": rrset("example.com", "v=spf1 include:x.example.com -all"),
        "x.example.com": rrset("x.example.com", "v=spf1 redirect=y.example.com"),
        "y.example.com": rrset("y.example.com", "v=spf1 -all"),
        "z.example.com": rrset("z.example.com", "v=spf1 redirect=y.example.com"),
        "t.example.com": rrset("t.example.com", "token include:z.example.com"),
    }
    assert protected(records, ["x.example.com", "y.example.com", "z.example.com"]) == {
        "x.example.com",
        "y.example.com",
    }
    assert protected(records, ["z.example.com", "absent.example.com"]) == set()
    # The root and x go together; y stays for z, which stays.
    assert protected(records, ["example.com", "x.example.com", "y.example.com"]) == {
        "y.example.com"
    }
    assert protected(records, ["example.com", "x.example.com"]) == set()


# -- safety ------------------------------------------------------------------------------------


def test_more_addresses_than_the_maximum_is_unsafe() -> None:
    domain_build, resolver = build_domain(max_authorized_ipv4=16)
    domain_plan = plan_for(domain_build, resolver)
    assert domain_plan.unsafe == (
        "authorizes 3,932,416 IPv4 addresses, over the maximum of 65,536 "
        "(is '+all' or a huge range coming from upstream?)",
    )
    assert Plan((domain_plan,), NOW).unsafe == [f"{DOMAIN}: {domain_plan.unsafe[0]}"]
    ipv6_build, resolver = build_domain(services=["small"], max_authorized_ipv6=96)
    assert plan_for(ipv6_build, resolver).unsafe == (
        "authorizes more than 4,294,967,296 IPv6 addresses",
    )
    within, resolver = build_domain(max_authorized_ipv4=8)
    assert plan_for(within, resolver).unsafe == ()


def test_service_drift_past_a_threshold_is_unsafe_and_below_it_a_note() -> None:
    domain_build, resolver = build_domain(services=["small"])
    sizes: ServiceSizes = {"services.small": {4: 256, 6: 1 << 80}}
    shrunk = plan_for(
        domain_build, resolver, sizes=sizes, baseline={"services.small": {4: 1024, 6: 1 << 80}}
    )
    assert shrunk.unsafe == (
        "services.small: IPv4 addresses shrank from 1,024 to 256 (-75%) since the last apply: "
        "refused without --force",
    )
    (drift,) = shrunk.drift
    assert (drift.service, drift.version, drift.before, drift.after, drift.refused) == (
        "services.small",
        4,
        1024,
        256,
        True,
    )
    assert shrunk.service_sizes == sizes
    slightly = plan_for(
        domain_build, resolver, sizes=sizes, baseline={"services.small": {4: 280, 6: 1 << 80}}
    )
    assert slightly.unsafe == ()
    assert "services.small: IPv4 addresses shrank from 280 to 256 (-9%) since the last apply" in (
        slightly.notes
    )
    grown = plan_for(
        domain_build, resolver, sizes=sizes, baseline={"services.small": {4: 50, 6: 1 << 80}}
    )
    assert [u.split(":")[0] for u in grown.unsafe] == ["services.small"]
    assert "grew from 50 to 256" in grown.unsafe[0]
    # No baseline (a first apply): nothing to compare.
    assert plan_for(domain_build, resolver, sizes=sizes).drift == ()


# -- the JSON form -----------------------------------------------------------------------------


def test_plan_data_is_json_and_reads_back_as_the_same_changes() -> None:
    zone, first, second = two_generations_live()
    third, resolver = build_domain(3)
    assert third.result is not None
    due = [pending(name, NOW) for name in chain_of(first)]
    sizes: ServiceSizes = {
        "services.bulk": {4: 60 << 16, 6: 0},
        "services.small": {4: 256, 6: 1 << 80},
    }
    domain_plan = plan_for(third, resolver, zone, due, sizes=sizes)
    plan = Plan((domain_plan,), NOW)
    data = json.loads(json.dumps(plan.data))
    assert data["created_at"] == "2030-01-01T12:00:00+00:00"
    assert data["in_sync"] is False and data["errors"] == [] and data["unsafe"] == []
    (domain,) = data["domains"]
    assert {k: domain[k] for k in ("domain", "provider", "zone", "error", "transient")} == {
        "domain": DOMAIN,
        "provider": PROVIDER,
        "zone": DOMAIN,
        "error": None,
        "transient": False,
    }
    assert [r["name"] for r in domain["records"]] == [DOMAIN, *chain_of(third)]
    assert [r["text"] for r in domain["records"]] == list(third.result.texts.values())
    assert domain["lookups"] == 2 and domain["bytes"] == third.result.total_bytes
    assert [c["phase"] for c in domain["changes"]] == [
        "chain",
        "chain",
        "root",
        "cleanup",
        "cleanup",
    ]
    assert [c["action"] for c in domain["changes"]] == [
        "create",
        "create",
        "update",
        "delete",
        "delete",
    ]
    for saved, change in zip(domain["changes"], domain_plan.changes, strict=True):
        assert saved["domain"] == DOMAIN and saved["name"] == change.name
        assert change_from_data(saved) == change.change
    assert set(domain["retire"]) == set(chain_of(second))
    assert domain["retire_after_seconds"] == 300
    assert domain["cancel_pending"] == []
    assert domain["service_drift"] == []
    assert domain["service_addresses"] == {
        "services.bulk": {"4": 60 << 16, "6": 0},
        "services.small": {"4": 256, "6": 1 << 80},
    }
    in_sync = Plan((plan_for(third, resolver, published(domain_plan, zone)),), NOW).data
    assert in_sync["in_sync"] is True and in_sync["domains"][0]["changes"] == []


# -- a failed build ----------------------------------------------------------------------------


def test_a_transient_failure_keeps_the_root_and_its_chain() -> None:
    zone, first, second = two_generations_live()
    failed, resolver = build_domain(zonedata=upstream(2, **{"_spf.bulk.test": ["TIMEOUT"]}))
    assert failed.result is None and failed.transient
    # Every old name is due, the live chain included: only the unreferenced ones go.
    due = [pending(name, NOW) for name in (*chain_of(first), *chain_of(second))]
    domain_plan = plan_for(failed, resolver, zone, due)
    assert not by_phase(domain_plan, Phase.CHAIN) and not by_phase(domain_plan, Phase.ROOT)
    assert [c.change for c in domain_plan.changes] == [
        Delete(zone[n]) for n in sorted(chain_of(first))
    ]
    assert set(domain_plan.cancel) == set(chain_of(second))
    assert domain_plan.notes[0] == "keeping the last good record"
    assert domain_plan.retire == () and domain_plan.unsafe == ()
    data = json.loads(json.dumps(Plan((domain_plan,), NOW).data))
    (domain,) = data["domains"]
    assert domain["records"] is None and domain["lookups"] is None and domain["transient"] is True
    assert data["errors"] == [f"{DOMAIN}: {failed.error}"]
    # Nothing due: a failed build plans nothing at all.
    assert plan_for(failed, resolver, zone).changes == ()


def test_a_permanent_failure_publishes_nothing() -> None:
    zone, _, _ = two_generations_live()
    broken = upstream(2, **{"_spf.bulk.test": [{"TXT": "v=spf1 include:nowhere.test -all"}]})
    failed, resolver = build_domain(zonedata=broken)
    assert failed.result is None and not failed.transient
    domain_plan = plan_for(failed, resolver, zone)
    assert domain_plan.changes == () and domain_plan.notes == ("nothing published",)
    assert domain_plan.error is not None and "nowhere.test" in domain_plan.error
