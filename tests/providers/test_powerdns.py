"""PowerDNSProvider against a real PowerDNS Authoritative server on 127.0.0.1, and against a
loopback server giving the answers PowerDNS never gives (malformed 200s)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest

from spfmanager.errors import ProviderAuthError, ProviderError, ProviderServerError
from spfmanager.providers.powerdns import PowerDNSProvider
from spfmanager.publish.changes import Create, Delete, RecordSet, Update
from tests.fakes.canned_http import CannedHTTPServer, Reply
from tests.integration.pdns import PowerDNSServer, available, free_port

pytestmark = pytest.mark.integration
LONG = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(30)) + " -all"
_zones = itertools.count()


@pytest.fixture(scope="module")
def pdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PowerDNSServer]:
    if not available():
        pytest.skip("PowerDNS with the sqlite3 backend not installed")
    with PowerDNSServer(tmp_path_factory.mktemp("pdns")) as server:
        yield server


@pytest.fixture
def zone(pdns: PowerDNSServer) -> str:
    name = f"z{next(_zones)}.example.com"
    pdns.create_zone(name)
    return name


def provider(pdns: PowerDNSServer, zone: str) -> PowerDNSProvider:
    return PowerDNSProvider(zone, pdns.api_url, pdns.api_key)


def dns_txt(pdns: PowerDNSServer, name: str) -> list[list[bytes]]:
    query = dns.message.make_query(name + ".", dns.rdatatype.TXT)
    response = dns.query.tcp(query, "127.0.0.1", port=pdns.dns_port, timeout=5)
    return sorted(list(rd.strings) for rrset in response.answer for rd in rrset)


def test_apply_then_read_back_via_api_and_dns(pdns: PowerDNSServer, zone: str) -> None:
    adapter = provider(pdns, zone)
    assert adapter.list_records() == {}
    spf = RecordSet(zone, tuple(sorted((LONG, 'quote="x"'))), 120)
    sub = RecordSet(f"_spf.{zone}", ("v=spf1 ip4:203.0.113.0/24 -all",))
    adapter.apply([Create(spf), Create(sub)])

    assert adapter.list_records() == {spf.name: spf, sub.name: sub}
    strings = dns_txt(pdns, zone)
    assert sorted(b"".join(s).decode() for s in strings) == sorted(spf.values)
    assert max(len(s) for parts in strings for s in parts) <= 255  # split under 255 bytes
    # Records created outside the adapter survive.
    ns = pdns.api("GET", f"/servers/localhost/zones/{zone}.")["rrsets"]
    assert any(r["type"] == "NS" for r in ns)


def test_update_delete_and_idempotence(pdns: PowerDNSServer, zone: str) -> None:
    adapter = provider(pdns, zone)
    old = RecordSet(zone, ("v=spf1 -all",))
    new = RecordSet(zone, ("v=spf1 mx -all",), 600)
    adapter.apply([Create(old)])
    adapter.apply([Update(old, new), Update(old, new)])  # same name twice in one PATCH
    assert adapter.list_records() == {zone: new}
    assert dns_txt(pdns, zone) == [[b"v=spf1 mx -all"]]
    adapter.apply([Delete(new)])
    adapter.apply([Delete(new)])  # already gone: no-op
    assert adapter.list_records() == {}
    assert dns_txt(pdns, zone) == []


def test_wrong_api_key_is_an_auth_error_without_the_key(pdns: PowerDNSServer, zone: str) -> None:
    adapter = PowerDNSProvider(zone, pdns.api_url + "/api/v1/", "not-the-key-s3cr3t")
    with pytest.raises(ProviderAuthError) as info:
        adapter.apply([Create(RecordSet(zone, ("v=spf1 -all",)))])
    assert "401" in str(info.value)
    assert zone in str(info.value)
    assert "s3cr3t" not in str(info.value)
    assert "s3cr3t" not in repr(adapter)
    assert provider(pdns, zone).list_records() == {}


def test_unknown_zone_is_a_provider_error(pdns: PowerDNSServer) -> None:
    adapter = provider(pdns, "missing.example.net")
    with pytest.raises(ProviderError, match=r"missing\.example\.net") as info:
        adapter.list_records()
    assert not isinstance(info.value, ProviderAuthError | ProviderServerError)


def test_connection_refused_is_retried_then_a_server_error() -> None:
    adapter = PowerDNSProvider("example.com", f"http://127.0.0.1:{free_port()}", "key")
    sleeps: list[float] = []
    adapter.sleep = sleeps.append
    with pytest.raises(ProviderServerError, match="connection failed"):
        adapter.list_records()
    assert len(sleeps) == adapter.retries


# -- malformed 200 answers (issue 7.11) ---------------------------------------------------


def rrsets(*records: dict[str, Any], ttl: Any = 300) -> bytes:
    txt = {"name": "example.com.", "type": "TXT", "ttl": ttl, "records": list(records)}
    return json.dumps({"name": "example.com.", "rrsets": [txt]}).encode()


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (
            Reply(200, b"<html>Please log in</html>", "text/html"),
            r"not JSON \(Content-Type text/html",
        ),
        (Reply(200, b"{truncated"), "not JSON"),
        (Reply(200, b'[{"rrsets": []}]'), "expected a zone object with 'rrsets', got a list"),
        (Reply(200, b'{"name": "example.com."}'), "without a list 'rrsets'"),
        (Reply(200, b'{"rrsets": ["TXT"]}'), r"rrsets\[0\] is not an rrset"),
        (Reply(200, rrsets({"disabled": False})), "example.com: a record without 'content'"),
        (Reply(200, rrsets({"content": '"v=spf1 -all'})), "TXT content .* is not valid"),
        (Reply(200, rrsets({"content": '"v=spf1 -all"'}, ttl="300")), "bad 'ttl'"),
    ],
    ids=["html", "truncated", "list", "no-rrsets", "rrset-string", "no-content", "bad-txt", "ttl"],
)
def test_malformed_answers_are_clean_errors(reply: Reply, problem: str) -> None:
    with CannedHTTPServer(reply) as server:
        adapter = PowerDNSProvider("example.com", server.base_url, "key")
        with pytest.raises(ProviderError) as info:
            adapter.list_records()
    assert type(info.value) is ProviderError  # not retried: nothing transient about it
    assert re.search(r"^powerdns: zone example\.com: read: malformed response: ", str(info.value))
    assert re.search(problem, str(info.value))
    assert info.value.__cause__ is None and len(server.requests) == 1


def test_a_patch_answered_by_a_proxy_page_is_an_error() -> None:
    with CannedHTTPServer(Reply(200, b"<html>captive portal</html>", "text/html")) as server:
        adapter = PowerDNSProvider("example.com", server.base_url, "key")
        with pytest.raises(ProviderError, match=r"zone example\.com: update of .*not JSON"):
            adapter.apply([Create(RecordSet("example.com", ("v=spf1 -all",)))])


# -- delegation: NS and glue beside TXT ------------------------------------------------


def test_delegation_beside_txt(pdns: PowerDNSServer, zone: str) -> None:
    adapter = provider(pdns, zone)
    delegated, glue = f"spf.{zone}", f"ns1.spf.{zone}"
    txt = RecordSet(delegated, ("v=spf1 -all",))
    ns = RecordSet(delegated, ("ns.other.net", glue), 3600, "NS")
    glue_a = RecordSet(glue, ("192.0.2.53",), 3600, "A")
    glue_aaaa = RecordSet(glue, ("2001:db8::53",), 3600, "AAAA")
    adapter.apply([Create(txt)])
    adapter.apply([Create(ns), Create(glue_a), Create(glue_aaaa)])  # one PATCH, three rrsets
    names = [delegated, glue]
    assert adapter.list_records(names, "NS") == {delegated: ns}
    assert adapter.list_records(names, "A") == {glue: glue_a}
    assert adapter.list_records(names, "AAAA") == {glue: glue_aaaa}
    assert adapter.list_records() == {delegated: txt}
    rrsets = pdns.api("GET", f"/servers/localhost/zones/{zone}.")["rrsets"]
    wire = next(r for r in rrsets if r["type"] == "NS" and r["name"] == delegated + ".")
    assert sorted(r["content"] for r in wire["records"]) == ["ns.other.net.", glue + "."]

    moved = RecordSet(glue, ("192.0.2.54",), 600, "A")
    # the same (name, type) twice in one PATCH: the last change wins, as applied in order
    adapter.apply([Update(glue_a, glue_a), Update(glue_a, moved)])
    assert adapter.list_records([glue], "A") == {glue: moved}
    assert adapter.list_records([glue], "AAAA") == {glue: glue_aaaa}

    adapter.apply([Delete(ns), Delete(moved), Delete(glue_aaaa)])
    adapter.apply([Delete(ns)])  # already gone: no-op
    assert all(adapter.list_records(names, t) == {} for t in ("NS", "A", "AAAA"))
    assert adapter.list_records() == {delegated: txt}
    assert dns_txt(pdns, delegated) == [[b"v=spf1 -all"]]  # authoritative again


def test_apex_ns_is_refused(pdns: PowerDNSServer, zone: str) -> None:
    adapter = provider(pdns, zone)
    before = pdns.api("GET", f"/servers/localhost/zones/{zone}.")["rrsets"]
    for change in (
        Create(RecordSet(zone, ("ns1.other.net",), 300, "NS")),
        Delete(RecordSet(zone, (f"ns1.{zone}",), 300, "NS")),
    ):
        with pytest.raises(ProviderError, match=r"refusing .* apex NS"):
            adapter.apply([change])
    assert pdns.api("GET", f"/servers/localhost/zones/{zone}.")["rrsets"] == before
    assert adapter.list_records([zone], "NS") == {
        zone: RecordSet(zone, (f"ns1.{zone}",), 3600, "NS")
    }


def test_malformed_address_is_a_clean_error() -> None:
    glue = {"name": "ns1.example.com.", "type": "A", "ttl": 300, "records": [{"content": "x"}]}
    body = json.dumps({"name": "example.com.", "rrsets": [glue]}).encode()
    with CannedHTTPServer(Reply(200, body)) as server:
        adapter = PowerDNSProvider("example.com", server.base_url, "key")
        with pytest.raises(ProviderError, match=r"malformed response: .*A content 'x' is not"):
            adapter.list_records(["ns1.example.com"], "A")
        assert adapter.list_records() == {}  # the TXT listing does not read other types
