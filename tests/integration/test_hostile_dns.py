"""spfmanager against a hostile DNS server on 127.0.0.1 (:mod:`tests.integration.hostile_dns`).

Issue 7, "never publish a broken record": an answer that is not clean (TC over TCP, a CNAME
chain that stops nowhere, a referral) is a transient error, so ``plan`` keeps the last good
record; flattening has a query budget and a deadline per domain, ``check`` a deadline.
Every test is bounded in time (asserted) and talks only to 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from spfmanager.cli import app
from spfmanager.dns.base import RRType, query_within
from spfmanager.errors import DNSTemporaryError, FlattenError, RefusalCause
from spfmanager.flatten import Flattener
from tests.integration.hostile_dns import HostileDNS

pytestmark = pytest.mark.integration

ZONE = "hostile.test"
SILENT = [f"s{i}.{ZONE}" for i in range(60)]


@pytest.fixture
def server() -> Iterator[HostileDNS]:
    with HostileDNS(ZONE) as hostile:
        hostile.add(f"mail.{ZONE}", "A", "192.0.2.10", "192.0.2.11")
        hostile.add(f"vendor.{ZONE}", "TXT", f"v=spf1 a:mail.{ZONE} ip4:198.51.100.0/24 -all")
        hostile.add(f"tc.{ZONE}", "A", "192.0.2.20", "192.0.2.21")
        hostile.truncate(f"tc.{ZONE}")
        hostile.add(f"tc-vendor.{ZONE}", "TXT", "v=spf1 ip4:203.0.113.0/24 -all")
        hostile.truncate(f"tc-vendor.{ZONE}")
        hostile.add(f"uses-tc.{ZONE}", "TXT", f"v=spf1 include:tc-vendor.{ZONE} -all")
        hostile.cname(f"cut.{ZONE}", "mail.elsewhere.example")  # out of zone: not chased
        hostile.cname(f"loop1.{ZONE}", f"loop2.{ZONE}")
        hostile.cname(f"loop2.{ZONE}", f"loop1.{ZONE}")
        hostile.cname(f"alias.{ZONE}", f"mail.{ZONE}")
        hostile.cname(f"alias-nodata.{ZONE}", f"vendor.{ZONE}")  # vendor has no A: NODATA
        hostile.cname(f"dangling.{ZONE}", f"gone.{ZONE}")  # in zone: a clean NXDOMAIN
        hostile.lame(f"lame.{ZONE}")
        hostile.bare(f"bare.{ZONE}")
        hostile.fanout(f"fan.{ZONE}", width=20, depth=4)
        for name in SILENT:
            hostile.silent(name)
        hostile.add(
            f"slow.{ZONE}", "TXT", "v=spf1 " + " ".join(f"include:{n}" for n in SILENT) + " -all"
        )
        yield hostile


def cli(server: HostileDNS, *args: str) -> tuple[Result, float]:
    """Run the CLI against ``server``; the result and the seconds it took."""
    started = time.monotonic()
    result = CliRunner().invoke(
        app, [*args, "--nameserver", server.host, "--port", str(server.port)]
    )
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result, elapsed


# -- the live resolver: only clean answers are believed --------------------------------------


def test_clean_answers_are_believed(server: HostileDNS) -> None:
    resolver = server.resolver(cache=False)
    addresses = {IPv4Address("192.0.2.10"), IPv4Address("192.0.2.11")}
    assert set(resolver.query(f"mail.{ZONE}", RRType.A).records) == addresses
    assert set(resolver.query(f"alias.{ZONE}", RRType.A).records) == addresses
    for name in (f"vendor.{ZONE}", f"alias-nodata.{ZONE}", f"bare.{ZONE}"):
        nodata = resolver.query(name, RRType.A)  # SOA for the last name, or AA without chain
        assert nodata.is_void and not nodata.nxdomain, name
    assert resolver.query(f"dangling.{ZONE}", RRType.A).nxdomain
    assert resolver.query(f"nothing.{ZONE}", RRType.TXT).nxdomain


@pytest.mark.parametrize(
    ("name", "rrtype", "reason"),
    [
        (f"tc.{ZONE}", RRType.A, "truncated answer .* even over TCP"),  # one of two records
        (f"tc-vendor.{ZONE}", RRType.TXT, "truncated answer .* even over TCP"),  # none of one
        (f"cut.{ZONE}", RRType.A, "CNAME chain .* stops at mail.elsewhere.example"),
        (f"loop1.{ZONE}", RRType.A, "CNAME chain is too long"),
        (f"lame.{ZONE}", RRType.A, "not authoritative and gave no SOA"),
    ],
)
def test_unclean_answers_are_temporary(
    server: HostileDNS, name: str, rrtype: RRType, reason: str
) -> None:
    with pytest.raises(DNSTemporaryError, match=reason):
        server.resolver(cache=False).query(name, rrtype)


def test_query_within_gives_up_in_time(server: HostileDNS) -> None:
    resolver = server.resolver(timeout=2.0, lifetime=5.0)
    started = time.monotonic()
    with pytest.raises(DNSTemporaryError, match="timeout"):
        query_within(resolver, SILENT[0], RRType.TXT, 0.3)
    assert time.monotonic() - started < 1.0  # not the resolver's 5 s lifetime


# -- flatten: transient errors, query budget, deadline ---------------------------------------


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (f"v=spf1 a:tc.{ZONE} -all", "truncated answer"),
        (f"v=spf1 include:tc-vendor.{ZONE} -all", "truncated answer"),
        (f"v=spf1 include:vendor.{ZONE} a:cut.{ZONE} -all", "CNAME chain"),
        (f"v=spf1 a:loop1.{ZONE} -all", "CNAME chain is too long"),
        (f"v=spf1 mx:lame.{ZONE} -all", "not authoritative"),
    ],
)
def test_flatten_refuses_answers_that_are_not_clean(
    server: HostileDNS, record: str, reason: str
) -> None:
    result, _ = cli(server, "flatten", record, "-d", "example.com")
    assert result.exit_code == 1
    assert reason in result.stderr and "transient: try again later" in result.stderr
    with pytest.raises(FlattenError, match=reason) as raised:
        Flattener(server.resolver()).flatten(record, "example.com")
    assert raised.value.transient
    assert raised.value.cause is RefusalCause.TRANSIENT_DNS


def test_flatten_fan_out_stops_at_the_query_budget(server: HostileDNS) -> None:
    record = f"v=spf1 include:fan.{ZONE} -all"
    result, elapsed = cli(server, "flatten", record, "-d", "example.com", "--query-budget", "300")
    assert result.exit_code == 1
    assert "flattening example.com needed more than 300 DNS queries (query_budget)" in (
        result.stderr
    )
    assert len(set(server.asked)) == 300  # 20 ** 4 names were there to ask
    assert elapsed < 5


def test_budget_is_per_domain_and_known_answers_are_free(server: HostileDNS) -> None:
    flattener = Flattener(server.resolver())
    good = flattener.flatten(f"v=spf1 include:vendor.{ZONE} -all", "good.example")
    assert flattener.meter.queries == 3  # vendor TXT, mail A, mail AAAA
    for domain in ("one.example", "two.example"):
        with pytest.raises(FlattenError, match=f"flattening {domain} needed more than 100") as e:
            flattener.flatten(
                f"v=spf1 include:fan.{ZONE} ip4:192.0.2.1 -all", domain, query_budget=100
            )
        assert not e.value.transient  # a tree this large will not shrink by itself
    assert flattener.meter.queries == 3 + 100 + 100  # two's first 100 answers were known
    again = flattener.flatten(f"v=spf1 include:vendor.{ZONE} -all", "good.example", query_budget=1)
    assert again.texts == good.texts and flattener.meter.queries == 203


def test_flatten_deadline_with_silent_servers(server: HostileDNS) -> None:
    record = "v=spf1 " + " ".join(f"include:{n}" for n in SILENT[:10]) + " -all"
    result, elapsed = cli(server, "flatten", record, "-d", "example.com", "--deadline", "1.5")
    assert result.exit_code == 1
    assert "flattening example.com took longer than 1.5 s (flatten_deadline)" in result.stderr
    assert elapsed < 3  # one query would have had the resolver's 5 s lifetime


# -- build and plan: budget and deadline from the config, the last good record kept ----------


def write_config(tmp_path: Path, domains: dict[str, Any], **defaults: Any) -> Path:
    config = {
        "defaults": {"policy": "-all", "ttl": 300, "provider": "local", **defaults},
        "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
        "state": {"url": "sqlite:///state.db"},
        "domains": domains,
    }
    path = tmp_path / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_build_fails_only_the_domains_over_budget_or_deadline(
    server: HostileDNS, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        {
            "ok.example": {"include": [f"vendor.{ZONE}"]},
            "fan.example": {"include": [f"fan.{ZONE}"]},
            "slow.example": {"include": SILENT[:5]},
        },
        query_budget=200,
        flatten_deadline=1.0,
    )
    result, elapsed = cli(server, "build", "-c", str(config), "--json")
    assert result.exit_code == 1  # domains that cannot be built are errors
    assert "not built" in result.stderr and "fan.example" in result.stderr
    builds = {b["domain"]: b for b in json.loads(result.stdout)}
    assert builds["ok.example"]["records"][0]["text"] == (
        "v=spf1 ip4:192.0.2.10/31 ip4:198.51.100.0/24 -all"
    )
    fan = builds["fan.example"]
    assert fan["error"] == "flattening fan.example needed more than 200 DNS queries (query_budget)"
    assert not fan["transient"]
    slow = builds["slow.example"]
    assert slow["error"] == "flattening slow.example took longer than 1 s (flatten_deadline)"
    assert slow["transient"]
    assert elapsed < 6


@pytest.mark.parametrize(
    ("break_upstream", "reason"),
    [
        (lambda s: s.truncate(f"mail.{ZONE}"), "truncated answer"),
        (lambda s: s.cname(f"mail.{ZONE}", "mail.elsewhere.example"), "CNAME chain"),
    ],
    ids=["tc-over-tcp", "cname-to-nowhere"],
)
def test_plan_keeps_the_last_good_record(
    server: HostileDNS, tmp_path: Path, break_upstream: Any, reason: str
) -> None:
    config = write_config(tmp_path, {"example.com": {"a": [f"mail.{ZONE}"]}})
    args = ("-c", str(config))
    result, _ = cli(server, "apply", *args)
    assert result.exit_code == 0
    zone_file = tmp_path / "zones" / "example.com.zone"
    published = zone_file.read_text(encoding="utf-8")
    assert "v=spf1 ip4:192.0.2.10/31 -all" in published

    break_upstream(server)
    result, _ = cli(server, "plan", *args, "--json")
    assert result.exit_code == 1
    (domain,) = json.loads(result.stdout)["domains"]
    assert reason in domain["error"] and domain["transient"]
    assert domain["changes"] == [] and domain["notes"] == ["keeping the last good record"]
    result, _ = cli(server, "apply", *args)
    assert result.exit_code == 1
    assert zone_file.read_text(encoding="utf-8") == published


# -- check: bounded by its node cap and its deadline -----------------------------------------


def test_check_deadline_with_silent_includes(server: HostileDNS) -> None:
    result, elapsed = cli(server, "check", f"slow.{ZONE}", "--deadline", "1.5", "--json")
    assert result.exit_code == 1  # as when the domain's DNS is unreachable
    audit = json.loads(result.stdout)
    (finding,) = [f for f in audit["findings"] if f["code"] == "deadline-exceeded"]
    assert finding["severity"] == "error" and "lookup(s) were not done" in finding["message"]
    assert len(audit["not_done"]) == 60 and not audit["complete"]
    assert {c["status"] for c in audit["tree"]["children"]} == {"not-done"}
    assert audit["verdict"]["result"] == "temperror"
    assert elapsed < 3  # 60 silent includes: 300 s at the resolver's 5 s lifetime each


def test_check_fan_out_is_cut_by_the_node_cap(server: HostileDNS) -> None:
    result, elapsed = cli(server, "check", f"fan.{ZONE}", "--json")
    assert result.exit_code == 2
    audit = json.loads(result.stdout)
    assert "tree-truncated" in {f["code"] for f in audit["findings"]}
    assert audit["not_done"] == [] and elapsed < 6


def test_check_reports_a_truncated_include_as_a_dns_error(server: HostileDNS) -> None:
    result, _ = cli(server, "check", f"uses-tc.{ZONE}", "--json")
    assert result.exit_code == 2
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert "dns-error" in codes and "include-missing" not in codes
