"""Audits of the provider snapshot and of hand-written zonedata for every finding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spfmanager.audit import (
    Audit,
    Cause,
    Code,
    DeadlineReached,
    DeadlineResolver,
    Edge,
    NodeStatus,
    Severity,
    audit_domain,
    walk_tree,
)
from spfmanager.audit.tree import MAX_DEPTH
from spfmanager.audit.wire import txt_answer_size
from spfmanager.dns.base import RRType, TXTRecord
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.results import Result


@pytest.fixture(scope="module")
def snapshot(provider_snapshot_path: Path) -> SnapshotResolver:
    return SnapshotResolver.from_file(provider_snapshot_path)


def audit_of(zonedata: dict[str, Any], domain: str = "example.com") -> Audit:
    return audit_domain(domain, SnapshotResolver(zonedata))


def codes(audit: Audit) -> set[Cause | Code]:
    return {f.code for f in audit.findings}


# What receivers return for 192.0.2.1, an address no record lists.
EXPECTED_VERDICTS = {
    "_mailcust.gandi.net": Result.NEUTRAL,
    "_nblcust.gandi.net": Result.NEUTRAL,
    "_netblocks.google.com": Result.SOFTFAIL,
    "_netblocks2.google.com": Result.SOFTFAIL,
    "_netblocks3.google.com": Result.SOFTFAIL,
    "_spf-eu.ionos.com": Result.NEUTRAL,
    "_spf.activetrail.com": Result.FAIL,
    "_spf.eu.mailgun.org": Result.SOFTFAIL,
    "_spf.google.com": Result.SOFTFAIL,
    "_spf.mailgun.org": Result.SOFTFAIL,
    "amazonses.com": Result.FAIL,
    "aspmx.pardot.com": Result.FAIL,
    "eig.spf.a.cloudfilter.net": Result.SOFTFAIL,
    "et._spf.pardot.com": Result.FAIL,
    "github.com": Result.PERMERROR,  # include:esp.github.com is NXDOMAIN
    "info.mondialrelay.fr": Result.FAIL,
    "mail.zendesk.com": Result.SOFTFAIL,
    "mailgun.org": Result.FAIL,
    "mktomail.com": Result.SOFTFAIL,
    "mondialrelay.fr": Result.PERMERROR,  # 11 lookups
    "mx.ovh.com": Result.NEUTRAL,
    "protecmail.mondialrelay.fr": Result.FAIL,
    "sendgrid.net": Result.SOFTFAIL,
    "servers.mcsv.net": Result.FAIL,
    "spf.improvmx.com": Result.FAIL,
    "spf.mailjet.com": Result.SOFTFAIL,
    "spf.protection.outlook.com": Result.FAIL,
    "spf.sendinblue.com": Result.FAIL,
    "spf.tipimail.com": Result.SOFTFAIL,
    "spf.tmes.trendmicro.com": Result.SOFTFAIL,
    "spf.websitewelcome.com": Result.FAIL,
    "spf1.websitewelcome.com": Result.NEUTRAL,  # no all: neutral default
    "spf4.improvmx.com": Result.FAIL,
    "spf6.improvmx.com": Result.FAIL,
    "spfb.tmes.trendmicro.com": Result.SOFTFAIL,
    "spfc.tmes.trendmicro.com": Result.SOFTFAIL,
    "spfgwp.websitewelcome.com": Result.NEUTRAL,  # no all: neutral default
    "wepay.com": Result.FAIL,
}


def test_every_snapshot_name_has_an_expected_verdict(snapshot: SnapshotResolver) -> None:
    assert sorted(EXPECTED_VERDICTS) == snapshot.names()


@pytest.mark.parametrize("domain", sorted(EXPECTED_VERDICTS))
def test_snapshot_verdicts(snapshot: SnapshotResolver, domain: str) -> None:
    audit = audit_domain(domain, snapshot)
    assert audit.verdict.result is EXPECTED_VERDICTS[domain]
    assert audit.verdict.sentence
    assert audit.verdict.evaluation.result is audit.verdict.result
    json.dumps(audit.data)  # JSON-ready


def test_github_permerror_names_the_missing_includes(snapshot: SnapshotResolver) -> None:
    audit = audit_domain("github.com", snapshot)
    assert audit.verdict.result is Result.PERMERROR
    assert "esp.github.com" in audit.verdict.sentence
    missing = {f.domain for f in audit.by_code(Cause.INCLUDE_MISSING)}
    assert missing == {"esp.github.com", "_spf.salesforce.com"}
    assert all(f.severity is Severity.ERROR for f in audit.by_code(Cause.INCLUDE_MISSING))
    assert audit.has_errors
    assert "include:esp.github.com" in audit.verdict.fix
    # 5 includes in github.com + 3 in _spf.google.com; ip4 and ~all cost nothing.
    assert audit.lookups == 8
    # The two missing include targets are NXDOMAIN: void answers.
    assert audit.void_lookups == 2
    by_term = {child.term: child for child in audit.tree.children}
    assert by_term["include:esp.github.com"].status is NodeStatus.NXDOMAIN
    assert by_term["include:_spf.google.com"].total_lookups == 3
    assert len(by_term["include:_spf.google.com"].children) == 3


def test_wepay_void_lookups(snapshot: SnapshotResolver) -> None:
    audit = audit_domain("wepay.com", snapshot)
    # Bare 'a' and 'mx' at wepay.com find no A / MX data: two void lookups, at the limit.
    assert audit.void_lookups == 2
    voids = audit.by_code(Code.VOID_LOOKUP)
    assert {f.message.split("'")[1] for f in voids} == {"a", "mx"}
    assert all(f.severity is Severity.WARNING for f in voids)
    assert Cause.TOO_MANY_VOID_LOOKUPS not in codes(audit)
    # a + mx + 4 includes = 6, plus _spf.google.com's 3 includes = 9.
    assert audit.lookups == 9
    assert audit.verdict.result is Result.FAIL
    assert not audit.has_errors


def test_mondialrelay_lookup_count(snapshot: SnapshotResolver) -> None:
    audit = audit_domain("mondialrelay.fr", snapshot)
    # mondialrelay.fr: 6 includes (outlook, protecmail, tipimail, info, mailgun, amazonses) = 6
    # protecmail.mondialrelay.fr: include outlook + include sendinblue                      = 2
    # info.mondialrelay.fr: include outlook                                                 = 1
    # mailgun.org: include _spf.mailgun.org + include _spf.eu.mailgun.org                    = 2
    # every other target holds only ip4/ip6 terms                                           = 0
    assert audit.lookups == 6 + 2 + 1 + 2
    branches = {child.term: child.total_lookups + 1 for child in audit.tree.children}
    assert branches["include:protecmail.mondialrelay.fr"] == 3
    assert branches["include:mailgun.org"] == 3
    assert branches["include:amazonses.com"] == 1
    [finding] = audit.by_code(Cause.TOO_MANY_LOOKUPS)
    assert finding.severity is Severity.ERROR
    assert "spfmanager flatten" in finding.fix
    assert audit.verdict.result is Result.PERMERROR
    assert "more than 10 DNS lookups" in audit.verdict.sentence


def test_ovh_ptr_warning(snapshot: SnapshotResolver) -> None:
    audit = audit_domain("mx.ovh.com", snapshot)
    ptrs = audit.by_code(Code.PTR)
    assert len(ptrs) == 2
    assert all(f.severity is Severity.WARNING for f in ptrs)
    assert "ptr:mail-out.ovh.net" in ptrs[0].message
    assert audit.lookups == 2
    assert Code.NEUTRAL_ALL in codes(audit)


@pytest.mark.parametrize("domain", ["spf1.websitewelcome.com", "spfgwp.websitewelcome.com"])
def test_hostgator_records_without_all(snapshot: SnapshotResolver, domain: str) -> None:
    audit = audit_domain(domain, snapshot)
    [finding] = audit.by_code(Code.NO_ALL)
    assert finding.severity is Severity.WARNING
    assert "-all" in finding.fix
    assert audit.verdict.result is Result.NEUTRAL


def test_upstream_weak_all_is_not_the_domains_problem(snapshot: SnapshotResolver) -> None:
    # _nblcust.gandi.net ends in ?all but is only included: the includer's all decides.
    audit = audit_domain("_mailcust.gandi.net", snapshot)
    assert [f.domain for f in audit.by_code(Code.NEUTRAL_ALL)] == ["_mailcust.gandi.net"]


def test_long_upstream_string_is_a_warning(snapshot: SnapshotResolver) -> None:
    audit = audit_domain("mailgun.org", snapshot)
    [finding] = audit.by_code(Code.LONG_STRING)
    assert finding.domain == "_spf.mailgun.org"
    assert finding.severity is Severity.WARNING


# -- hand-written zonedata --------------------------------------------------------------------


def test_two_spf_records() -> None:
    audit = audit_of(
        {
            "example.com": [
                {"TXT": "v=spf1 ip4:192.0.2.0/24 -all"},
                {"TXT": "v=spf1 include:_spf.example.net -all"},
                {"TXT": "google-site-verification=abc"},
            ]
        }
    )
    [finding] = audit.by_code(Cause.MULTIPLE_RECORDS)
    assert finding.severity is Severity.ERROR
    assert "remove the second record" in finding.fix
    assert audit.tree.status is NodeStatus.MULTIPLE_RECORDS
    assert audit.verdict.result is Result.PERMERROR


def test_plus_all_is_critical() -> None:
    audit = audit_of({"example.com": [{"TXT": "v=spf1 mx +all"}], "mx.example.com": []})
    [finding] = audit.by_code(Code.PASS_ALL)
    assert finding.severity is Severity.ERROR
    assert audit.verdict.result is Result.PASS
    assert "anyone can send mail as example.com" in audit.verdict.sentence


def test_plus_all_in_an_include_is_reported() -> None:
    audit = audit_of(
        {
            "example.com": [{"TXT": "v=spf1 include:open.example.net -all"}],
            "open.example.net": [{"TXT": "v=spf1 all"}],
        }
    )
    assert [f.domain for f in audit.by_code(Code.PASS_ALL)] == ["open.example.net"]
    assert audit.verdict.result is Result.PASS


def test_include_loop_terminates() -> None:
    audit = audit_of(
        {
            "example.com": [{"TXT": "v=spf1 include:a.example.net -all"}],
            "a.example.net": [{"TXT": "v=spf1 include:b.example.net -all"}],
            "b.example.net": [{"TXT": "v=spf1 include:a.example.net -all"}],
        }
    )
    [finding] = audit.by_code(Code.INCLUDE_LOOP)
    assert finding.domain == "b.example.net"
    assert finding.severity is Severity.ERROR
    looped = audit.tree.children[0].children[0].children[0]
    assert looped.status is NodeStatus.LOOP
    assert looped.children == ()
    assert audit.verdict.result is Result.PERMERROR


def test_self_include_loop() -> None:
    audit = audit_of({"example.com": [{"TXT": "v=spf1 include:example.com -all"}]})
    assert Code.INCLUDE_LOOP in codes(audit)
    assert audit.verdict.result is Result.PERMERROR


def test_string_over_255_characters() -> None:
    record = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(1, 25)) + " -all"
    assert len(record) > 255
    audit = audit_of({"example.com": [{"TXT": record}]})
    [finding] = audit.by_code(Code.LONG_STRING)
    assert finding.severity is Severity.ERROR
    assert f"{len(record)} characters" in finding.message


def test_record_split_into_strings_is_fine() -> None:
    strings = ["v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(1, 11)), " -all"]
    audit = audit_of({"example.com": [{"TXT": strings}]})
    assert Code.LONG_STRING not in codes(audit)
    assert audit.verdict.result is Result.FAIL
    assert not audit.findings


def test_answer_over_512_bytes() -> None:
    tokens = [{"TXT": f"verification-token-{i}=" + "x" * 60} for i in range(6)]
    audit = audit_of({"example.com": [{"TXT": "v=spf1 -all"}, *tokens]})
    [finding] = audit.by_code(Code.LARGE_ANSWER)
    assert finding.severity is Severity.WARNING
    assert audit.answer_size is not None and audit.answer_size > 512
    assert not audit.has_errors


def test_answer_size_estimate_by_hand() -> None:
    # header 12 + question (1+7 "example" + 1+3 "com" + root 1 = 13, + type/class 4) = 29;
    # one RR: pointer 2 + type 2 + class 2 + TTL 4 + rdlength 2 = 12, rdata 1 + 11 = 12.
    assert txt_answer_size("example.com", [TXTRecord((b"v=spf1 -all",))]) == 29 + 12 + 12
    # a 300-byte string can only travel as two strings: two length bytes.
    assert txt_answer_size("example.com", [TXTRecord((b"x" * 300,))]) == 29 + 12 + 302
    audit = audit_of({"example.com": [{"TXT": "v=spf1 -all"}]})
    assert audit.answer_size == 53


def test_more_than_ten_lookups() -> None:
    zone: dict[str, Any] = {
        "example.com": [
            {"TXT": "v=spf1 " + " ".join(f"include:s{i}.example.net" for i in range(11)) + " -all"}
        ]
    }
    zone.update({f"s{i}.example.net": [{"TXT": "v=spf1 -all"}] for i in range(11)})
    audit = audit_of(zone)
    assert audit.lookups == 11
    [finding] = audit.by_code(Cause.TOO_MANY_LOOKUPS)
    assert finding.severity is Severity.ERROR
    assert audit.verdict.result is Result.PERMERROR


def test_more_than_two_void_lookups() -> None:
    record = "v=spf1 a:gone1.example.com mx:gone2.example.com exists:gone3.example.com -all"
    audit = audit_of({"example.com": [{"TXT": record}]})
    assert audit.void_lookups == 3
    assert len(audit.by_code(Code.VOID_LOOKUP)) == 3
    assert audit.by_code(Cause.TOO_MANY_VOID_LOOKUPS)[0].severity is Severity.ERROR
    assert audit.verdict.result is Result.PERMERROR


def test_syntax_error_with_position() -> None:
    audit = audit_of({"example.com": [{"TXT": "v=spf1 ip4:192.0.2.300 -all"}]})
    [finding] = audit.by_code(Cause.SYNTAX_ERROR)
    assert "at character 12" in finding.message
    assert finding.detail == "v=spf1 ip4:192.0.2.300 -all\n           ^"
    assert audit.tree.status is NodeStatus.INVALID
    assert audit.verdict.result is Result.PERMERROR


def test_redirect_is_followed_and_counted() -> None:
    audit = audit_of(
        {
            "example.com": [{"TXT": "v=spf1 redirect=_spf.example.com"}],
            "_spf.example.com": [{"TXT": "v=spf1 include:s.example.net ?all"}],
            "s.example.net": [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}],
        }
    )
    assert audit.lookups == 2  # redirect 1 + include 1
    [child] = audit.tree.children
    assert child.edge is Edge.REDIRECT
    # The redirect target's all is the domain's: ?all is reported there.
    assert [f.domain for f in audit.by_code(Code.NEUTRAL_ALL)] == ["_spf.example.com"]
    assert Code.NO_ALL not in codes(audit)
    assert audit.verdict.result is Result.NEUTRAL


def test_redirect_ignored_with_all() -> None:
    audit = audit_of({"example.com": [{"TXT": "v=spf1 -all redirect=gone.example.com"}]})
    assert audit.lookups == 0
    assert audit.tree.children == ()
    assert audit.by_code(Code.REDIRECT_IGNORED)[0].severity is Severity.INFO
    assert audit.verdict.result is Result.FAIL


def test_redirect_to_missing_record() -> None:
    audit = audit_of(
        {
            "example.com": [{"TXT": "v=spf1 redirect=other.example.com"}],
            "other.example.com": [{"A": "192.0.2.9"}],
        }
    )
    assert audit.by_code(Cause.REDIRECT_MISSING)[0].domain == "other.example.com"
    assert audit.tree.children[0].status is NodeStatus.NO_RECORD
    assert audit.verdict.result is Result.PERMERROR


def test_no_record_and_missing_domain() -> None:
    audit = audit_of({"example.com": [{"TXT": "hello"}]})
    assert Cause.NO_RECORD in codes(audit)
    assert audit.verdict.result is Result.NONE
    audit = audit_of({}, "nowhere.example")
    assert Code.DOMAIN_MISSING in codes(audit)
    assert audit.verdict.result is Result.NONE


def test_dns_error_gives_temperror() -> None:
    audit = audit_of(
        {
            "example.com": [{"TXT": "v=spf1 include:slow.example.net -all"}],
            "slow.example.net": ["TIMEOUT"],
        }
    )
    [finding] = audit.by_code(Cause.DNS_ERROR)
    assert finding.severity is Severity.ERROR
    assert audit.tree.children[0].status is NodeStatus.DNS_ERROR
    assert audit.verdict.result is Result.TEMPERROR


def test_macro_targets_are_not_followed() -> None:
    audit = audit_of({"example.com": [{"TXT": "v=spf1 exists:%{i}._spf.example.com -all"}]})
    assert audit.by_code(Code.MACRO_TARGET)[0].severity is Severity.INFO
    assert audit.lookups == 1
    assert not audit.has_errors


def test_too_many_mx_names() -> None:
    mx = [{"MX": [10, f"mx{i}.example.com"]} for i in range(11)]
    audit = audit_of({"example.com": [{"TXT": "v=spf1 mx -all"}, *mx]})
    assert audit.by_code(Cause.TOO_MANY_MX)[0].severity is Severity.ERROR
    assert audit.verdict.result is Result.PERMERROR


def test_deep_chain_is_walked_without_recursion() -> None:
    depth = 3 * MAX_DEPTH
    zone = {
        f"l{i}.example.com": [{"TXT": f"v=spf1 include:l{i + 1}.example.com -all"}]
        for i in range(depth)
    }
    audit = audit_of(zone, "l0.example.com")
    assert not audit.complete
    assert Code.TREE_TRUNCATED in codes(audit)
    assert audit.lookups == MAX_DEPTH + 1  # every walked record holds one include
    assert Cause.TOO_MANY_LOOKUPS in codes(audit)
    assert "at least" in audit.by_code(Cause.TOO_MANY_LOOKUPS)[0].message
    assert audit.verdict.result is Result.PERMERROR
    json.dumps(audit.data)


def test_wide_diamond_is_bounded() -> None:
    # Each level includes the next twice: 2**20 paths, cut by the node limit.
    zone = {
        f"d{i}.example.com": [
            {"TXT": f"v=spf1 include:d{i + 1}.example.com include:d{i + 1}.example.com -all"}
        ]
        for i in range(20)
    }
    audit = audit_of(zone, "d0.example.com")
    assert not audit.complete
    assert audit.verdict.result is Result.PERMERROR


def test_verdict_matches_a_real_evaluation(snapshot: SnapshotResolver) -> None:
    audit = audit_domain("amazonses.com", snapshot)
    direct = evaluate("192.0.2.1", "postmaster@amazonses.com", "amazonses.com", resolver=snapshot)
    assert audit.verdict.evaluation.result is direct.result is Result.FAIL
    assert audit.verdict.fix == "nothing to fix"


# -- the deadline ---------------------------------------------------------------------------


class SteppingClock:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


DEADLINE_ZONE = {
    "example.com": [
        {"TXT": "v=spf1 " + " ".join(f"include:v{i}.example.net" for i in range(5)) + " -all"}
    ],
    **{f"v{i}.example.net": [{"TXT": f"v=spf1 ip4:198.51.100.{i} -all"}] for i in range(5)},
}


def test_lookups_after_the_deadline_are_reported_not_done() -> None:
    # Read at the start (deadline at 4.5), then once per query: queries 1-3 are in time.
    resolver = DeadlineResolver(SnapshotResolver(DEADLINE_ZONE), 3.5, clock=SteppingClock())
    walk = walk_tree("example.com", resolver)
    assert resolver.reached
    assert walk.not_done == ("v2.example.net TXT", "v3.example.net TXT", "v4.example.net TXT")
    statuses = [child.status for child in walk.root.children]
    assert statuses == [NodeStatus.OK] * 2 + [NodeStatus.NOT_DONE] * 3
    (finding,) = [f for f in walk.findings if f.code is Code.DEADLINE]
    assert finding.severity is Severity.ERROR and finding.domain == "example.com"
    assert "3 lookup(s) were not done" in finding.message
    with pytest.raises(DeadlineReached, match=r"the deadline of 3\.5 s passed"):
        resolver.query("v0.example.net", RRType.TXT)


def test_an_audit_within_its_deadline_is_complete() -> None:
    audit = audit_domain("example.com", SnapshotResolver(DEADLINE_ZONE), deadline=60)
    assert audit.complete and not audit.timed_out and audit.not_done == ()
    assert Code.DEADLINE not in codes(audit)
    assert audit.verdict.result is Result.FAIL
    assert audit.data["not_done"] == []


@pytest.mark.parametrize(
    ("record", "result", "probe"),
    [
        # The record lists the first documentation range: the verdict is about others.
        ("v=spf1 ip4:192.0.2.0/24 -all", Result.FAIL, "198.51.100.1"),
        ("v=spf1 -ip4:192.0.2.1 ip4:198.51.100.0/24 ~all", Result.SOFTFAIL, "203.0.113.1"),
        ("v=spf1 ip4:192.0.2.0/24 ?all", Result.NEUTRAL, "198.51.100.1"),
        # A range this wide authorizes everyone: that is the verdict, not a listed sender.
        ("v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all", Result.PASS, "192.0.2.1"),
        ("v=spf1 -all", Result.FAIL, "192.0.2.1"),
    ],
)
def test_verdict_probes_an_address_the_record_does_not_list(
    record: str, result: Result, probe: str
) -> None:
    audit = audit_of({"example.com": [{"TXT": record}]})
    assert audit.verdict.result is result
    assert str(audit.verdict.evaluation.ip) == probe
    if result is not Result.PASS:
        assert "anyone can send" not in audit.verdict.sentence
