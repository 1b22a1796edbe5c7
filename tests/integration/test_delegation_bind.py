"""A macro zone's delegation (NS and in-zone glue) in a real BIND 9 on 127.0.0.1: published
by RFC 2136 updates, and as a zone file the zonefile adapter writes and named loads."""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from spfmanager.errors import ProviderError
from spfmanager.providers.rfc2136 import RFC2136Provider
from spfmanager.providers.zonefile import ZoneFileProvider
from spfmanager.publish.changes import Change, Create, Delete, RecordSet, Update
from tests.integration.bind import BindServer, free_port, named_binary, require_named
from tests.integration.servers import stop_process

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(named_binary() is None, reason="BIND 9 named is not installed"),
]
HOST = "127.0.0.1"
ZONE = "example.com"
ROOT_SPF = "v=spf1 include:%{ir}.%{v}.%{d}.spf.example.com -all"
NS = RecordSet("spf.example.com", ("ns1.spf.example.com",), 600, "NS")
GLUE_A = RecordSet("ns1.spf.example.com", ("192.0.2.53",), 600, "A")
GLUE_AAAA = RecordSet("ns1.spf.example.com", ("2001:db8::53",), 600, "AAAA")
DELEGATION = (NS, GLUE_A, GLUE_AAAA)
REFERRAL = {
    "authority": {("spf.example.com.", "NS"): ["ns1.spf.example.com."]},
    "additional": {
        ("ns1.spf.example.com.", "A"): ["192.0.2.53"],
        ("ns1.spf.example.com.", "AAAA"): ["2001:db8::53"],
    },
}
Sections = dict[str, dict[tuple[str, str], list[str]]]


def ask(port: int, name: str, rtype: str = "TXT") -> dns.message.Message:
    query = dns.message.make_query(name, rtype)
    query.flags &= ~dns.flags.RD
    return dns.query.tcp(query, HOST, port=port, timeout=5)


def referral(response: dns.message.Message) -> Sections:
    """The NS of a referral's authority section and the addresses in its additional one;
    fails unless the response is a referral (NOERROR, not authoritative, no answer)."""
    assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())
    assert not response.flags & dns.flags.AA, "an authoritative answer, not a referral"
    assert response.answer == []
    found: Sections = {"authority": {}, "additional": {}}
    for section, rrsets in (("authority", response.authority), ("additional", response.additional)):
        for rrset in rrsets:
            key = (rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype))
            found[section][key] = sorted(rd.to_text() for rd in rrset)
    return found


def assert_no_delegation(port: int) -> None:
    response = ask(port, "x.spf.example.com")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    assert not [rrset for rrset in response.authority if rrset.rdtype == dns.rdatatype.NS]


# -- RFC 2136 ----------------------------------------------------------------------------


@pytest.fixture
def bind() -> Iterator[BindServer]:
    zonedata = {"example.com": [{"TXT": ROOT_SPF}], "www.example.com": [{"A": "192.0.2.80"}]}
    with BindServer({ZONE: zonedata}, tsig=True) as server:
        yield server


def rfc2136(bind: BindServer) -> RFC2136Provider:
    assert bind.tsig_name is not None and bind.tsig_secret is not None
    return RFC2136Provider(
        ZONE, bind.host, bind.port, tsig_name=bind.tsig_name, tsig_secret=bind.tsig_secret
    )


def test_a_published_delegation_is_served_as_a_referral(bind: BindServer) -> None:
    adapter = rfc2136(bind)
    spf = adapter.list_records([ZONE])
    assert spf[ZONE].values == (ROOT_SPF,)
    adapter.apply([Create(rs) for rs in DELEGATION])

    assert referral(ask(bind.port, "x.spf.example.com")) == REFERRAL
    assert referral(ask(bind.port, "spf.example.com", "NS")) == REFERRAL
    assert adapter.list_records(["spf.example.com", "www.example.com"], "NS") == {NS.name: NS}
    assert adapter.list_records(["ns1.spf.example.com", "www.example.com"], "A") == {
        GLUE_A.name: GLUE_A,
        "www.example.com": RecordSet("www.example.com", ("192.0.2.80",), 3600, "A"),
    }
    assert adapter.list_records(["ns1.spf.example.com"], "AAAA") == {GLUE_AAAA.name: GLUE_AAAA}
    assert adapter.list_records([ZONE]) == spf  # the TXT beside it is untouched
    answer = ask(bind.port, ZONE)
    assert answer.flags & dns.flags.AA and [rd.to_text() for rd in answer.answer[0]] == [
        f'"{ROOT_SPF}"'
    ]


def test_moving_the_glue_then_deleting_the_delegation(bind: BindServer) -> None:
    adapter = rfc2136(bind)
    adapter.apply([Create(rs) for rs in DELEGATION])
    moved = RecordSet(GLUE_A.name, ("192.0.2.54",), 600, "A")
    adapter.apply([Update(GLUE_A, moved)])
    adapter.apply([Update(GLUE_A, moved)])  # idempotent
    served = referral(ask(bind.port, "x.spf.example.com"))
    assert served["additional"][("ns1.spf.example.com.", "A")] == ["192.0.2.54"]
    assert served["additional"][("ns1.spf.example.com.", "AAAA")] == ["2001:db8::53"]
    assert adapter.list_records([GLUE_A.name], "A") == {GLUE_A.name: moved}

    deletes: list[Change] = [Delete(NS), Delete(moved), Delete(GLUE_AAAA)]
    adapter.apply(deletes)
    adapter.apply(deletes)  # gone already: a no-op
    assert_no_delegation(bind.port)
    for name, rtype in ((NS.name, "NS"), (GLUE_A.name, "A"), (GLUE_A.name, "AAAA")):
        assert adapter.list_records([name], rtype) == {}
    assert adapter.list_records([ZONE])[ZONE].values == (ROOT_SPF,)


def test_glue_no_query_can_see_is_listed_and_deleted(bind: BindServer) -> None:
    """After the NS moves to ns2, ns1's glue is hidden from queries (a referral carries
    only the current targets' glue) but still in the zone: the listing must show it."""
    adapter = rfc2136(bind)
    adapter.apply([Create(rs) for rs in DELEGATION])
    ns2 = RecordSet(NS.name, ("ns2.spf.example.com",), 600, "NS")
    glue2 = RecordSet("ns2.spf.example.com", ("192.0.2.55",), 600, "A")
    adapter.apply([Update(NS, ns2), Create(glue2)])

    hidden = referral(ask(bind.port, "ns1.spf.example.com", "A"))
    assert hidden == {
        "authority": {("spf.example.com.", "NS"): ["ns2.spf.example.com."]},
        "additional": {("ns2.spf.example.com.", "A"): ["192.0.2.55"]},
    }
    names = [GLUE_A.name, glue2.name]
    assert adapter.list_records(names, "A") == {GLUE_A.name: GLUE_A, glue2.name: glue2}
    adapter.apply([Delete(GLUE_A), Delete(GLUE_AAAA)])
    assert adapter.list_records(names, "A") == {glue2.name: glue2}
    assert adapter.list_records(names, "AAAA") == {}


def test_the_parent_delegation_is_listed_when_the_server_also_serves_the_child() -> None:
    """A query for the NS would get the child zone's own apex NS (authoritative); the
    listing reads the parent zone's delegation."""
    with BindServer({ZONE: {}, "spf.example.com": {}}, tsig=True) as server:
        adapter = rfc2136(server)
        adapter.apply([Create(rs) for rs in DELEGATION])
        answer = ask(server.port, "spf.example.com", "NS")
        assert answer.flags & dns.flags.AA
        assert [rd.to_text() for rd in answer.answer[0]] == ["ns.spfmanager.invalid."]
        assert adapter.list_records([NS.name], "NS") == {NS.name: NS}


@pytest.mark.parametrize("action", ["create", "update", "delete"])
def test_ns_at_the_apex_is_refused(bind: BindServer, action: str) -> None:
    adapter = rfc2136(bind)
    old = adapter.list_records([ZONE], "NS")[ZONE]
    assert old.values == ("ns.spfmanager.invalid",)
    apex = RecordSet(ZONE, ("ns1.spf.example.com",), 600, "NS")
    changes: dict[str, Change] = {
        "create": Create(apex),
        "update": Update(old, apex),
        "delete": Delete(old),
    }
    change = changes[action]
    with pytest.raises(ProviderError, match=r"rfc2136: zone example\.com: refusing .* apex NS"):
        adapter.apply([Create(NS), change])
    assert adapter.list_records([ZONE], "NS") == {ZONE: old}
    assert adapter.list_records([NS.name], "NS") == {}  # nothing of the batch was sent


# -- the zone file, loaded by named --------------------------------------------------------

BASE_ZONE = """\
; example.com: the operator's file; spfmanager adds the SPF records and the delegation
$ORIGIN example.com.
$TTL 3600
@   IN SOA ns1.example.com. hostmaster.example.com. ( 2024010101 3600 900 1209600 300 )
    IN NS ns1.example.com.
ns1 IN A 127.0.0.1 ; this server
"""


class Named:
    """``named -g`` serving one zone file as a primary, with BIND's default load checks."""

    def __init__(self, directory: Path, zone_file: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.log = directory / "named.log"
        conf = directory / "named.conf"
        conf.write_text(
            f"""
options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    session-keyfile "{directory}/session.key";
    managed-keys-directory "{directory}";
    listen-on port {self.port} {{ {HOST}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
}};
controls {{ }};
zone "{ZONE}" {{ type primary; file "{zone_file}"; }};
""",
            encoding="ascii",
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [require_named(), "-g", "-n", "1", "-c", str(conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait_for(self, marker: str, timeout: float = 15.0) -> None:
        """Until the zone is served with the TXT ``marker`` at ``_marker.<zone>``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"named exited:\n{self.log.read_text(errors='replace')[-3000:]}")
            try:
                answer = ask(self.port, f"_marker.{ZONE}").answer
            except (dns.exception.DNSException, OSError):
                answer = []
            if any(rd.to_text() == f'"{marker}"' for rrset in answer for rd in rrset):
                return
            time.sleep(0.05)
        pytest.fail(f"zone not served in time:\n{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        stop_process(self.process)


def test_a_zone_file_with_the_delegation_is_what_named_serves(tmp_path: Path) -> None:
    zone_file = tmp_path / "example.com.zone"
    zone_file.write_text(BASE_ZONE)
    adapter = ZoneFileProvider(ZONE, directory=tmp_path)
    marker = RecordSet(f"_marker.{ZONE}", (secrets.token_hex(8),), 60)
    adapter.apply([Create(RecordSet(ZONE, (ROOT_SPF,))), Create(marker)])
    adapter.apply([Create(rs) for rs in DELEGATION])
    checkzone = shutil.which("named-checkzone")
    if checkzone is not None:  # named's load checks; missing glue is only a warning there
        check = subprocess.run(
            [checkzone, "-i", "local", ZONE, str(zone_file)],  # -i local: no lookups elsewhere
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "has no" not in check.stdout + check.stderr  # "... no REQUIRED GLUE ..."

    named = Named(tmp_path, zone_file)
    try:
        named.wait_for(marker.values[0])
        assert referral(ask(named.port, "x.spf.example.com")) == REFERRAL
        assert referral(ask(named.port, "ns1.spf.example.com", "A")) == REFERRAL
        assert "has no" not in named.log.read_text(errors="replace")

        renewed = RecordSet(marker.name, (secrets.token_hex(8),), 60)
        changes: list[Change] = [Delete(rs) for rs in DELEGATION]
        adapter.apply([*changes, Update(marker, renewed)])
        named.process.send_signal(signal.SIGHUP)  # reload the rewritten file
        named.wait_for(renewed.values[0])
        assert_no_delegation(named.port)
    finally:
        named.stop()
