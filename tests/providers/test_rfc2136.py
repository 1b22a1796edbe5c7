"""RFC2136Provider against a real BIND 9 accepting TSIG-signed updates on 127.0.0.1."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import dns.message
import dns.query
import dns.rdatatype
import pytest

import spfmanager
from spfmanager.dns.txt import split_txt
from spfmanager.errors import ProviderAuthError, ProviderError, ProviderServerError
from spfmanager.providers.rfc2136 import RFC2136Provider
from spfmanager.publish.changes import Create, Delete, RecordSet, Update
from tests.integration.bind import BindServer, free_port, named_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(named_binary() is None, reason="BIND 9 named is not installed"),
]
ZONE = "example.com"
ZONEDATA = {
    "www.example.com": [{"A": "192.0.2.80"}],
    "_spf.example.com": [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}],
}
LONG = "v=spf1 " + " ".join(f"ip4:203.0.113.{i}" for i in range(30)) + " -all"


@pytest.fixture
def bind() -> Iterator[BindServer]:
    with BindServer({ZONE: ZONEDATA}, tsig=True) as server:
        yield server


def provider(bind: BindServer, secret: str | None = None) -> RFC2136Provider:
    assert bind.tsig_name is not None and bind.tsig_secret is not None
    return RFC2136Provider(
        ZONE,
        bind.host,
        bind.port,
        tsig_name=bind.tsig_name,
        tsig_secret=secret or bind.tsig_secret,
    )


def served_txt(bind: BindServer, name: str) -> list[list[bytes]]:
    query = dns.message.make_query(name + ".", dns.rdatatype.TXT)
    response = dns.query.tcp(query, bind.host, port=bind.port, timeout=5)
    return sorted(list(rd.strings) for rrset in response.answer for rd in rrset)


def test_apply_is_served_by_the_server(bind: BindServer) -> None:
    adapter = provider(bind)
    spf = RecordSet(ZONE, (LONG, "site-verification=abc"), 120)
    adapter.apply([Create(spf)])

    strings = served_txt(bind, ZONE)
    assert sorted(b"".join(s).decode() for s in strings) == sorted(spf.values)
    assert [s.encode() for s in split_txt(LONG)] in strings  # 255-byte strings, one rdata
    assert adapter.list_records([ZONE]) == {ZONE: RecordSet(ZONE, tuple(sorted(spf.values)), 120)}


def test_update_and_delete_in_one_message(bind: BindServer) -> None:
    adapter = provider(bind)
    old = adapter.list_records(["_spf.example.com"])["_spf.example.com"]
    assert old.values == ("v=spf1 ip4:198.51.100.0/24 -all",)
    new = RecordSet("_spf.example.com", ("v=spf1 ip4:198.51.100.0/25 -all",))
    adapter.apply([Update(old, new), Create(RecordSet(ZONE, ("v=spf1 -all",)))])
    adapter.apply([Update(old, new)])  # idempotent
    assert served_txt(bind, "_spf.example.com") == [[b"v=spf1 ip4:198.51.100.0/25 -all"]]
    adapter.apply([Delete(new), Delete(new)])
    assert served_txt(bind, "_spf.example.com") == []
    assert adapter.list_records(["_spf.example.com", "nothing.example.com"]) == {}


def test_list_everything_by_zone_transfer(bind: BindServer) -> None:
    adapter = provider(bind)
    adapter.apply([Create(RecordSet(ZONE, ("v=spf1 a -all",), 60))])
    records = adapter.list_records()
    assert records[ZONE] == RecordSet(ZONE, ("v=spf1 a -all",), 60)
    assert records["_spf.example.com"].values == ("v=spf1 ip4:198.51.100.0/24 -all",)


def test_evaluate_through_the_live_resolver(bind: BindServer) -> None:
    provider(bind).apply(
        [Create(RecordSet(ZONE, ("v=spf1 include:_spf.example.com a:www.example.com -all",)))]
    )
    resolver = bind.resolver()
    for ip, expected in (
        ("198.51.100.7", spfmanager.Result.PASS),
        ("192.0.2.80", spfmanager.Result.PASS),
        ("192.0.2.81", spfmanager.Result.FAIL),
    ):
        result = spfmanager.evaluate(ip, "user@example.com", "mail.example.com", resolver=resolver)
        assert result.result is expected, (ip, result.reason)


def test_bad_tsig_secret_is_an_auth_error_without_the_secret(bind: BindServer) -> None:
    wrong = base64.b64encode(b"definitely-not-the-right-key-!!!").decode()
    adapter = provider(bind, secret=wrong)
    with pytest.raises(ProviderAuthError) as info:
        adapter.apply([Create(RecordSet(ZONE, ("v=spf1 -all",)))])
    message = str(info.value)
    assert ZONE in message and f"{bind.host}:{bind.port}" in message
    assert wrong not in message and wrong not in repr(adapter)
    assert served_txt(bind, ZONE) == []


def test_unknown_key_name_is_an_auth_error(bind: BindServer) -> None:
    assert bind.tsig_secret is not None
    adapter = RFC2136Provider(
        ZONE, bind.host, bind.port, tsig_name="intruder", tsig_secret=bind.tsig_secret
    )
    with pytest.raises(ProviderAuthError, match="intruder"):
        adapter.apply([Create(RecordSet(ZONE, ("v=spf1 -all",)))])


def test_update_outside_served_zones_is_refused(bind: BindServer) -> None:
    adapter = RFC2136Provider(
        "example.net",
        bind.host,
        bind.port,
        tsig_name=str(bind.tsig_name),
        tsig_secret=str(bind.tsig_secret),
    )
    with pytest.raises(ProviderError, match=r"example\.net"):
        adapter.apply([Create(RecordSet("example.net", ("v=spf1 -all",)))])


def test_no_server_is_a_server_error_after_retries() -> None:
    secret = base64.b64encode(b"k" * 32).decode()
    adapter = RFC2136Provider(
        ZONE, "127.0.0.1", free_port(), tsig_name="k", tsig_secret=secret, timeout=1.0
    )
    sleeps: list[float] = []
    adapter.sleep = sleeps.append
    with pytest.raises(ProviderServerError, match=r"127\.0\.0\.1"):
        adapter.apply([Create(RecordSet(ZONE, ("v=spf1 -all",)))])
    assert len(sleeps) == adapter.retries


def test_secret_must_be_base64() -> None:
    with pytest.raises(ProviderError, match="base64") as info:
        RFC2136Provider(ZONE, "127.0.0.1", tsig_name="k", tsig_secret="not base64 at all!")
    assert "not base64 at all" not in str(info.value)


def test_silent_server_times_out_as_a_server_error() -> None:
    secret = base64.b64encode(b"k" * 32).decode()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections (backlog) but never answers
        port = silent.getsockname()[1]
        adapter = RFC2136Provider(
            ZONE, "127.0.0.1", port, tsig_name="k", tsig_secret=secret, timeout=0.2
        )
        sleeps: list[float] = []
        adapter.sleep = sleeps.append
        with pytest.raises(ProviderServerError, match="timed out"):
            adapter.list_records([ZONE])
    assert len(sleeps) == adapter.retries


def test_txt_listing_is_unchanged_beside_a_delegation(bind: BindServer) -> None:
    adapter = provider(bind)
    ns = RecordSet("spf.example.com", ("ns1.spf.example.com",), 600, "NS")
    glue = RecordSet("ns1.spf.example.com", ("192.0.2.53",), 600, "A")
    spf = RecordSet(ZONE, ("v=spf1 include:%{ir}.%{v}.%{d}.spf.example.com -all",), 600)
    adapter.apply([Create(ns), Create(glue), Create(spf)])  # one UPDATE message
    records = adapter.list_records()  # by zone transfer: TXT only, as before
    assert records[ZONE] == spf and "_spf.example.com" in records
    assert {rs.rtype for rs in records.values()} == {"TXT"}
    assert not {"spf.example.com", "ns1.spf.example.com", "www.example.com"} & set(records)
    assert adapter.list_records([ZONE, "spf.example.com"]) == {ZONE: spf}
    assert adapter.list_records(["spf.example.com"], "NS") == {"spf.example.com": ns}
    assert adapter.list_records([], "NS") == {}
    with pytest.raises(ProviderError, match="not a host name"):
        adapter.apply([Update(ns, RecordSet(ns.name, ("ns2.spf.example.com.",), 600, "NS"))])
    assert adapter.list_records(["spf.example.com"], "NS") == {"spf.example.com": ns}
