"""spfmanager.explain: reading receivers' trace headers, re-evaluating, and proven fixes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
import yaml

from spfmanager import Result, SnapshotResolver, evaluate
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.explain import (
    Cause,
    Change,
    Explanation,
    HeaderKind,
    IPSource,
    MessageError,
    explain,
    parse_message,
    read_message,
)
from spfmanager.explain.headers import (
    parse_authentication_results,
    parse_received,
    parse_received_spf,
)
from spfmanager.explain.message import MAX_TRACE_FIELDS, org_domain
from spfmanager.explain.mime import MAX_MESSAGE_BYTES, MAX_MIME_DEPTH
from tests.explain import hostile

DATA = Path(__file__).parent / "data"
MESSAGES = DATA / "messages"

# The customer domains of the sample messages; the services they include come from
# provider-snapshot.yaml.
ZONE: dict[str, list[dict[str, Any]]] = {
    "example.com": [{"TXT": "v=spf1 include:spf.protection.outlook.com -all"}],
    "example.org": [{"TXT": "v=spf1 ip4:198.51.100.10 include:_spf.google.com ~all"}],
    "example.net": [
        {"TXT": "v=spf1 mx ip4:203.0.113.25 -all"},
        {"MX": [10, "mail.example.net"]},
    ],
    "mail.example.net": [{"A": "203.0.113.10"}],
    "example.edu": [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}],
}


def resolver(**overrides: list[Any]) -> SnapshotResolver:
    """The provider snapshot plus ZONE, with some names replaced (``_`` for ``.``)."""
    providers = yaml.safe_load((DATA / "provider-snapshot.yaml").read_text(encoding="utf-8"))
    zone = {**providers, **ZONE}
    zone.update({name.replace("_", "."): entries for name, entries in overrides.items()})
    return SnapshotResolver(zone)


def assert_proven(explanation: Explanation, zone: SnapshotResolver) -> None:
    """The proposed record, published over the same DNS, really makes the message pass."""
    fix = explanation.fix
    assert fix is not None
    conn = explanation.connection
    overlay = OverlayResolver(zone, {fix.domain: [[fix.proposed]]})
    check = evaluate(conn.ip, conn.mailfrom, conn.helo, resolver=overlay)
    assert check.result is Result.PASS
    assert fix.verified.result is Result.PASS


def message(headers: str, body: str = "Hello.\n") -> bytes:
    return (headers.strip() + "\n\n" + body).replace("\n", "\r\n").encode()


# -- header parsers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "host", "ip", "by", "helo"),
    [
        (  # Postfix, IPv6 literal
            "from mail6.example.edu (mail6.example.edu [IPv6:2001:db8:4:2::25]) (using TLSv1.3)"
            " by mx2.recipient.example (Postfix) with ESMTPS id 0A9B; Thu, 13 Mar 2025",
            "mail6.example.edu",
            "2001:db8:4:2::25",
            "mx2.recipient.example",
            "mail6.example.edu",
        ),
        (  # Gmail: rDNS with a trailing dot
            "from mta2.example.org (mta2.example.org. [198.51.100.23]) by mx.google.com with"
            " ESMTPS id 5b1f; Mon, 10 Mar 2025",
            "mta2.example.org",
            "198.51.100.23",
            "mx.google.com",
            "mta2.example.org",
        ),
        (  # Exchange / Microsoft 365: bare address in parentheses
            "from o1.sendgrid.net (167.89.101.42) by BN2PEPF000044A9.mail.protection.outlook.com"
            " (10.167.243.154) with Microsoft SMTP Server id 15.20.8489.16",
            "o1.sendgrid.net",
            "167.89.101.42",
            "bn2pepf000044a9.mail.protection.outlook.com",
            "o1.sendgrid.net",
        ),
        (  # Exchange, IPv6 in parentheses
            "from BN9PR03CA0123.namprd03.prod.outlook.com (2603:10b6:408:fe::8) by"
            " SN6PR11MB5678.namprd11.prod.outlook.com (2603:10b6:805:df::13) with HTTPS",
            "bn9pr03ca0123.namprd03.prod.outlook.com",
            "2603:10b6:408:fe::8",
            "sn6pr11mb5678.namprd11.prod.outlook.com",
            "bn9pr03ca0123.namprd03.prod.outlook.com",
        ),
        (  # Exim: the HELO name is in the comment
            "from [198.51.100.7] (helo=smtp.example.com) by mx.example.org with esmtps"
            " (TLS1.3) (Exim 4.96) id 1tX",
            None,
            "198.51.100.7",
            "mx.example.org",
            "smtp.example.com",
        ),
        (  # amavis re-injection: the address after "by" is not the client's
            "from mx1.recipient.example ([127.0.0.1]) by localhost (mx1.recipient.example"
            " [127.0.0.1]) (amavisd-new, port 10024) with ESMTP id kQ2p",
            "mx1.recipient.example",
            "127.0.0.1",
            "localhost",
            "mx1.recipient.example",
        ),
    ],
)
def test_parse_received_forms(value: str, host: str | None, ip: str, by: str, helo: str) -> None:
    hop = parse_received(value)
    assert hop.from_host == host
    assert hop.from_ip == ip_address(ip)
    assert hop.by_host == by
    assert hop.helo == helo


def test_parse_received_without_from() -> None:
    hop = parse_received("by 2002:a05:6a10:1234::1 with SMTP id abc; Mon, 10 Mar 2025")
    assert hop.from_ip is None
    assert hop.by_host == "2002:a05:6a10:1234::1"


def test_parse_received_spf_rfc7208_example() -> None:
    check = parse_received_spf(
        "pass (mybox.example.org: domain of myname@example.com designates 192.0.2.1 as "
        "permitted sender) receiver=mybox.example.org; client-ip=192.0.2.1; "
        'envelope-from="myname@example.com"; helo=foo.example.com;'
    )
    assert check is not None
    assert check.result is Result.PASS
    assert check.client_ip == ip_address("192.0.2.1")
    assert check.mailfrom == "myname@example.com"
    assert check.helo == "foo.example.com"
    assert check.receiver == "mybox.example.org"


def test_parse_received_spf_ip_only_in_comment() -> None:
    check = parse_received_spf(
        "Fail (protection.outlook.com: domain of example.com does not designate "
        "2a01:111:f403::1 as permitted sender)"
    )
    assert check is not None
    assert check.result is Result.FAIL
    assert check.client_ip == ip_address("2a01:111:f403::1")


def test_parse_authentication_results_microsoft_365_form() -> None:
    check = parse_authentication_results(
        "spf=fail (sender IP is 167.89.101.42) smtp.mailfrom=example.com; dkim=none "
        "(message not signed) header.d=none;dmarc=fail action=quarantine header.from=example.com"
    )
    assert check is not None
    assert check.receiver is None  # Microsoft 365 writes no authserv-id
    assert check.result is Result.FAIL
    assert check.client_ip == ip_address("167.89.101.42")
    assert check.mailfrom == "example.com"


def test_parse_authentication_results_prefers_mailfrom_and_keeps_helo() -> None:
    check = parse_authentication_results(
        "mx.example.org; spf=none smtp.helo=mail.example.com; spf=softfail "
        '(domain of "a;b"@example.com) smtp.mailfrom=bounce@example.com; dkim=pass'
    )
    assert check is not None
    assert check.receiver == "mx.example.org"
    assert check.result is Result.SOFTFAIL
    assert check.mailfrom == "bounce@example.com"
    assert check.helo == "mail.example.com"


def test_parse_arc_authentication_results() -> None:
    check = parse_authentication_results(
        "i=1; mx.microsoft.com 1; spf=pass (sender ip is 40.107.22.1) "
        "smtp.rcpttodomain=example.org smtp.mailfrom=example.com; dkim=pass",
        HeaderKind.ARC_AUTHENTICATION_RESULTS,
    )
    assert check is not None
    assert check.kind is HeaderKind.ARC_AUTHENTICATION_RESULTS
    assert check.receiver == "mx.microsoft.com"
    assert check.result is Result.PASS
    assert check.client_ip == ip_address("40.107.22.1")


def test_parse_authentication_results_without_spf() -> None:
    assert parse_authentication_results("mx.example.org; dkim=pass header.d=example.com") is None


def test_org_domain() -> None:
    assert org_domain("BN2PEPF000044A9.mail.protection.outlook.com") == "outlook.com"
    assert org_domain("mx1.mail.example.co.uk") == "example.co.uk"


# -- the sample messages -------------------------------------------------------------------


def test_microsoft_365_quarantine_suggests_the_missing_service_include() -> None:
    evidence = read_message(MESSAGES / "m365-quarantine.eml")
    assert evidence.receiver_domains == ("outlook.com",)
    # Microsoft's internal hops (public IPv6 addresses) are skipped by the chain heuristic.
    assert evidence.edge is not None
    assert evidence.edge.from_ip == ip_address("167.89.101.42")
    zone = resolver()
    result = explain(evidence, zone)
    assert result.connection.ip == ip_address("167.89.101.42")
    assert result.connection.ip_source is IPSource.RECORDED
    assert result.connection.mailfrom == "billing@example.com"  # completed from Return-Path
    assert result.connection.helo == "o1678910142.outbound-mail.sendgrid.net"
    assert result.recorded is not None
    assert result.recorded.result is Result.FAIL
    assert result.receiver == "protection.outlook.com"
    assert result.now.result is Result.FAIL
    assert result.now.mechanism == "-all"
    assert result.change is Change.SAME
    assert result.diagnosis is not None
    assert result.diagnosis.cause is Cause.NOT_AUTHORISED
    assert result.fix is not None
    assert result.fix.proposed == (
        "v=spf1 include:spf.protection.outlook.com include:sendgrid.net -all"
    )
    assert "SendGrid" in result.fix.changes[0]
    assert_proven(result, zone)


def test_gmail_bounce_analyses_the_returned_message() -> None:
    evidence = read_message(MESSAGES / "gmail-bounce.eml")
    assert evidence.from_report
    assert evidence.subject == "March newsletter"
    zone = resolver()
    result = explain(evidence, zone)
    assert result.connection.ip == ip_address("198.51.100.23")
    assert result.connection.mailfrom == "news@example.org"
    assert result.connection.helo == "mta2.example.org"
    assert result.recorded is not None
    assert result.recorded.kind is HeaderKind.AUTHENTICATION_RESULTS
    assert result.recorded.result is Result.SOFTFAIL
    assert result.now.result is Result.SOFTFAIL
    assert result.fix is not None
    assert result.fix.proposed == (
        "v=spf1 ip4:198.51.100.10 include:_spf.google.com ip4:198.51.100.23 ~all"
    )
    # The record already lists an address of the same /24: the wider block is mentioned.
    assert any("ip4:198.51.100.0/24" in note for note in result.fix.notes)
    assert_proven(result, zone)
    assert any("bounce" in line for line in result.lines())


def test_internal_relay_uses_the_last_external_hop() -> None:
    evidence = read_message(MESSAGES / "internal-relay.eml")
    assert evidence.receiver_domains == ("recipient.example",)
    result = explain(evidence, resolver())
    assert result.connection.ip == ip_address("203.0.113.25")
    assert result.connection.ip_source is IPSource.RECEIVED_CHAIN
    assert result.connection.helo == "smtp-relay.example.net"
    # The record lists the relay now: it was fixed after the receiver recorded fail.
    assert result.now.result is Result.PASS
    assert result.change is Change.NOW_PASSES
    assert result.fix is None
    assert any("passes now" in line for line in result.lines())


def test_internal_relay_still_failing_gets_the_relay_address() -> None:
    zone = resolver(example_net=[{"TXT": "v=spf1 mx -all"}, {"MX": [10, "mail.example.net"]}])
    result = explain(read_message(MESSAGES / "internal-relay.eml"), zone)
    assert result.now.result is Result.FAIL
    assert result.fix is not None
    assert result.fix.proposed == "v=spf1 mx ip4:203.0.113.25 -all"
    assert result.fix.notes == ()
    assert_proven(result, zone)


def test_ipv6_sender_gets_an_ip6_term() -> None:
    zone = resolver()
    result = explain(read_message(MESSAGES / "ipv6-sender.eml"), zone)
    assert result.connection.ip == ip_address("2001:db8:4:2::25")
    assert result.connection.mailfrom == "ops@example.edu"
    assert result.recorded is not None
    assert result.recorded.kind is HeaderKind.RECEIVED_SPF
    assert result.recorded.receiver is None  # pyspf's "<UNKNOWN>"
    assert result.now.result is Result.FAIL
    assert result.fix is not None
    assert result.fix.proposed == "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:4:2::25 -all"
    assert_proven(result, zone)


def test_ip_option_overrides_the_headers() -> None:
    evidence = read_message(MESSAGES / "ipv6-sender.eml")
    result = explain(evidence, resolver(), ip=ip_address("192.0.2.80"))
    assert result.connection.ip_source is IPSource.OPTION
    assert result.now.result is Result.PASS
    assert any("2001:db8:4:2::25" in note for note in result.notes)


# -- errors and their causes ---------------------------------------------------------------

GITHUB_NOTIFICATION = """
Authentication-Results: mx.example.org; spf=permerror smtp.mailfrom=noreply@github.com
Received: from o1678910142.outbound-mail.sendgrid.net (o1678910142.outbound-mail.sendgrid.net
 [167.89.101.42]) by mx.example.org (Postfix) with ESMTPS id 4Z7Q
Return-Path: <noreply@github.com>
From: GitHub <noreply@github.com>
Subject: [example/repo] Pull request merged
"""


def test_permerror_from_missing_includes_removes_them_then_adds_the_service() -> None:
    # provider-snapshot.yaml lacks esp.github.com and _spf.salesforce.com, as documented.
    zone = resolver()
    result = explain(parse_message(message(GITHUB_NOTIFICATION)), zone)
    assert result.now.result is Result.PERMERROR
    assert result.diagnosis is not None
    assert result.diagnosis.cause is Cause.INCLUDE_MISSING
    assert result.diagnosis.target == "esp.github.com"
    assert result.fix is not None
    assert result.fix.changes[:2] == (
        "remove 'include:esp.github.com' (it has no SPF record)",
        "remove 'include:_spf.salesforce.com' (it has no SPF record)",
    )
    assert "include:sendgrid.net" in result.fix.changes[2]
    assert result.fix.proposed == (
        "v=spf1 ip4:192.30.252.0/22 include:_spf.google.com include:servers.mcsv.net "
        "include:spf.protection.outlook.com include:sendgrid.net ~all"
    )
    assert_proven(result, zone)


def test_too_many_lookups_is_explained_without_a_fix() -> None:
    chain = {
        f"l{i}.example.com": [{"TXT": f"v=spf1 include:l{i + 1}.example.com -all"}]
        for i in range(11)
    }
    chain["l11.example.com"] = [{"TXT": "v=spf1 -all"}]
    zone = SnapshotResolver(
        {**ZONE, **chain, "example.com": [{"TXT": "v=spf1 include:l0.example.com -all"}]}
    )
    result = explain(read_message(MESSAGES / "m365-quarantine.eml"), zone)
    assert result.now.result is Result.PERMERROR
    assert result.diagnosis is not None
    assert result.diagnosis.cause is Cause.TOO_MANY_LOOKUPS
    assert result.fix is None
    assert any("flatten" in line for line in result.lines())


def test_two_records_are_explained() -> None:
    zone = resolver(
        example_com=[{"TXT": "v=spf1 include:sendgrid.net -all"}, {"TXT": "v=spf1 mx -all"}]
    )
    result = explain(read_message(MESSAGES / "m365-quarantine.eml"), zone)
    assert result.now.result is Result.PERMERROR
    assert result.diagnosis is not None
    assert result.diagnosis.cause is Cause.MULTIPLE_RECORDS
    assert result.fix is None


def test_dns_timeout_is_a_temporary_error() -> None:
    result = explain(read_message(MESSAGES / "ipv6-sender.eml"), resolver(example_edu=["TIMEOUT"]))
    assert result.now.result is Result.TEMPERROR
    assert result.diagnosis is not None
    assert result.diagnosis.cause is Cause.DNS_ERROR
    assert result.fix is None


def test_domain_without_record_gets_a_new_one() -> None:
    zone = resolver(example_edu=[{"TXT": "google-site-verification=abc"}])
    result = explain(read_message(MESSAGES / "ipv6-sender.eml"), zone)
    assert result.now.result is Result.NONE
    assert result.fix is not None
    assert result.fix.current is None
    assert result.fix.proposed == "v=spf1 ip6:2001:db8:4:2::25 ~all"
    assert_proven(result, zone)


def test_null_sender_checks_the_helo_identity() -> None:
    raw = message(
        """
Received-SPF: fail (mx.example.org: domain of postmaster@mail.example.edu does not
 designate 198.51.100.99 as permitted sender) identity=helo; client-ip=198.51.100.99;
 helo=mail.example.edu; receiver=mx.example.org;
Return-Path: <>
Subject: Undeliverable
"""
    )
    zone = resolver(mail_example_edu=[{"TXT": "v=spf1 a -all"}, {"A": "198.51.100.98"}])
    result = explain(parse_message(raw), zone)
    assert result.connection.mailfrom == ""
    assert result.now.sender == "postmaster@mail.example.edu"
    assert result.now.result is Result.FAIL
    assert result.fix is not None
    assert result.fix.domain == "mail.example.edu"
    assert result.fix.proposed == "v=spf1 a ip4:198.51.100.99 -all"
    assert_proven(result, zone)


def test_message_without_connection_details_is_an_error() -> None:
    raw = message(
        "From: someone@example.com\nSubject: hi\nReceived: from localhost by mx.example.org"
    )
    evidence = parse_message(raw, source="hi.eml")
    with pytest.raises(MessageError, match=r"hi\.eml: .*--ip"):
        explain(evidence, resolver())


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MessageError, match="cannot read"):
        read_message(tmp_path / "missing.eml")


def test_json_data_round_trips() -> None:
    result = explain(read_message(MESSAGES / "gmail-bounce.eml"), resolver())
    data = result.data
    assert data["now"]["result"] == "softfail"
    assert data["then"]["result"] == "softfail"
    assert data["connection"]["ip"] == "198.51.100.23"
    assert data["fix"]["verified_result"] == "pass"
    assert data["message"]["from_report"] is True


def test_topmost_verdict_wins_over_older_ones() -> None:
    raw = message(
        """
Received-SPF: softfail (mx.example.org: domain of news@example.org does not designate
 198.51.100.23 as permitted sender) client-ip=198.51.100.23; receiver=mx.example.org;
Received: from mta2.example.org (mta2.example.org [198.51.100.23]) by mx.example.org
Received-SPF: pass (relay.example.org: localhost is always allowed) client-ip=127.0.0.1;
 receiver=relay.example.org;
Return-Path: <news@example.org>
"""
    )
    evidence = parse_message(raw)
    assert evidence.recorded is not None
    assert evidence.recorded.receiver == "mx.example.org"
    result = explain(evidence, resolver())
    assert result.connection.ip == ip_address("198.51.100.23")
    assert result.now.result is Result.SOFTFAIL


# -- hostile messages: bounded reading -----------------------------------------------------

DEADLINE = 5.0  # seconds for reading and explaining any message, however built
HOSTILE: dict[str, tuple[Callable[[], bytes], bool, str | None]] = {
    # name: (builder, the returned message is analysed, a note that must say what was skipped)
    "2,000 nested message/rfc822": (lambda: hostile.nested_rfc822(2000), True, None),
    "2,000 nested bounces": (lambda: hostile.nested_reports(2000), True, None),
    "2,000 nested multiparts": (
        lambda: hostile.nested_multiparts(2000),
        False,
        f"MIME parts nested more than {MAX_MIME_DEPTH} levels deep were not searched",
    ),
    "100,000 Received headers": (
        lambda: hostile.many_received(100_000),
        False,
        "only the first 1,000 were read",
    ),
    "a 50 MB message": (
        lambda: hostile.huge_body(50_000_000),
        False,
        f"only its first {MAX_MESSAGE_BYTES:,} were read",
    ),
    "a 9 MB Received header": (
        lambda: hostile.huge_header(b"Received", 9_000_000),
        False,
        "has a Received header of 9,000,",
    ),
    "a 9 MB Subject": (
        lambda: hostile.huge_header(b"Subject", 9_000_000),
        False,
        "has a Subject header of 9,000,",
    ),
    "200,000 MIME parts": (
        lambda: hostile.many_parts(200_000),
        False,
        "Only the first 1,000 MIME parts of the bounce were searched",
    ),
    "8 MB of dense trace headers": (
        lambda: hostile.dense_trace(250, 8000),
        False,
        f"only the topmost {MAX_TRACE_FIELDS} were considered",
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_message_is_explained_in_bounded_time(name: str) -> None:
    build, from_report, note = HOSTILE[name]
    raw = build()
    zone = resolver()
    start = time.perf_counter()
    result = explain(parse_message(raw, source=f"{name}.eml"), zone)
    elapsed = time.perf_counter() - start
    assert elapsed < DEADLINE, f"{name}: {elapsed:.1f}s"
    # The evidence at the top of the message is found whatever had to be skipped below it.
    assert result.connection.ip == ip_address("198.51.100.99")
    assert result.connection.mailfrom == "ops@example.edu"
    assert result.recorded is not None
    assert result.recorded.result is Result.FAIL
    assert result.now.result is Result.FAIL
    assert result.evidence.from_report is from_report
    if note is None:
        assert result.evidence.skipped == ()
    else:
        # What was left out is said, in the evidence, the notes and the plain-language lines.
        assert any(note in line for line in result.evidence.skipped), result.evidence.skipped
        assert set(result.evidence.skipped) <= set(result.notes)
        assert any(note in line for line in result.lines())
        assert any(note in line for line in result.data["message"]["skipped"])


def test_many_received_keeps_the_topmost_hops() -> None:
    evidence = parse_message(hostile.many_received(500))
    assert len(evidence.hops) == MAX_TRACE_FIELDS
    assert evidence.hops[0].from_ip == ip_address("198.51.100.99")
    assert evidence.hops[1].from_host == "relay0.example.edu"
    assert evidence.skipped == (
        f"Of 501 Received headers only the topmost {MAX_TRACE_FIELDS} were considered "
        f"(401 skipped).",
    )


def test_huge_file_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.eml"
    path.write_bytes(hostile.huge_body(MAX_MESSAGE_BYTES + 1000))
    evidence = read_message(path)
    assert evidence.skipped == (
        f"The message is {path.stat().st_size:,} bytes: only its first "
        f"{MAX_MESSAGE_BYTES:,} were read.",
    )
    assert evidence.checks[0].client_ip == ip_address("198.51.100.99")


def test_nesting_at_the_limit_is_still_searched() -> None:
    # The returned message under MAX_MIME_DEPTH - 1 multiparts: depth MAX_MIME_DEPTH.
    evidence = parse_message(hostile.nested_multiparts(MAX_MIME_DEPTH - 1))
    assert evidence.from_report
    assert evidence.subject == "original"
    assert evidence.skipped == ()
    deeper = parse_message(hostile.nested_multiparts(MAX_MIME_DEPTH))
    assert not deeper.from_report
    assert deeper.subject == "Undelivered"


def test_what_was_skipped_is_in_the_error_when_nothing_is_left_to_explain() -> None:
    raw = hostile.nested_multiparts(2000).replace(hostile.VERDICT, b"", 1)
    with pytest.raises(MessageError, match=r"--ip \(MIME parts nested more than 20 levels"):
        explain(parse_message(raw, source="deep.eml"), resolver())


def test_returned_header_section_in_base64_is_decoded() -> None:
    headers = hostile.VERDICT.decode().replace("198.51.100.99", "192.0.2.5")
    raw = message(
        f"""
Return-Path: <>
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Undeliverable.
--b
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: base64

{base64.b64encode(headers.encode()).decode()}
--b--
"""
    )
    evidence = parse_message(raw)
    assert evidence.from_report
    assert evidence.checks[0].client_ip == ip_address("192.0.2.5")


def test_sample_messages_read_as_before() -> None:
    """The bounded reader gives the evidence the whole-message parser gave (recorded then)."""
    before = json.loads((MESSAGES / "evidence.json").read_text(encoding="utf-8"))
    assert set(before) == {path.name for path in MESSAGES.glob("*.eml")}
    for name, data in before.items():
        now = read_message(MESSAGES / name).data
        assert now.pop("skipped") == []
        assert now == {**data, "source": str(MESSAGES / name)}
