"""LiveResolver against a real BIND 9 on 127.0.0.1: the RFC 7208 suite and provider data
evaluate exactly as through the SnapshotResolver, and failures become temperror."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest
import yaml

import spfmanager
from spfmanager.dns.base import Answer, MXRecord, RRType, TXTRecord, normalize_name
from spfmanager.dns.resolver import LiveResolver
from spfmanager.errors import ConfigError, DNSTemporaryError
from spfmanager.spf.parser import is_spf_record, parse_record
from spfmanager.spf.terms import IP4, IP6
from tests.integration.bind import BindFactory, BindServer
from tests.spf.suite import SuiteCase, load_suite

pytestmark = pytest.mark.integration

RFC7208 = list(load_suite("rfc7208-tests.yml"))
TSIG = dns.tsig.HMAC_SHA256

# Tests whose evaluation meets a name marked TIMEOUT: BIND cannot time out on purpose.
# (test_timeout_skips_are_exact keeps this list honest.)
TIMEOUT_CASES = frozenset(
    {
        "txttimeout",  # 4.4/2: TXT query of txttimeout.example.net times out
        "nospftxttimeout",  # 4.4/2: likewise, no SPF record behind it either
        "alltimeout",  # 4.4/2: every query of alltimeout.example.net times out
        "include-temperror",  # 5.2/9: the included ip8.example.com times out
        "exists-dnserr",  # 5.7/3: the A query of err.example.com times out
        "exp-dns-error",  # 6.2/4: the exp= TXT query of e21msg.example.com times out
    }
)

# Tests whose outcome real DNS may legitimately change, as the suite itself says: the
# live result must be one the suite accepts (it may differ from the snapshot's).
LIVE_DNS_VARIANTS = {
    "multispf1": "two identical TXT records are one RRset in a real zone (4.5/6)",
    "ptr-limit": "PTR order is random in real DNS, so which 10 are checked varies (4.6.4/3)",
}

# Names that are not valid in a zone file: none in the suite (spaces, ':' and '/' in
# owner names are escaped by render_zone); test_every_suite_name_is_served checks that.


def evaluate(case: SuiteCase, resolver: spfmanager.Resolver) -> spfmanager.SPFResult:
    return spfmanager.evaluate(
        case.host, case.mailfrom, case.helo, resolver=resolver, default_explanation="DEFAULT"
    )


class _TimeoutRecorder:
    """Wraps a SnapshotResolver; notes whether a query hit a name marked TIMEOUT."""

    def __init__(self, case: SuiteCase) -> None:
        self._inner = spfmanager.SnapshotResolver(case.zonedata)
        self._timeout_names = {
            normalize_name(name)
            for name, entries in case.zonedata.items()
            if "TIMEOUT" in (entries or [])
        }
        self.timed_out = False

    def query(self, name: str, rrtype: RRType) -> Answer:
        try:
            return self._inner.query(name, rrtype)
        except DNSTemporaryError:
            if normalize_name(name) in self._timeout_names:
                self.timed_out = True
            raise


def test_timeout_skips_are_exact() -> None:
    hit = set()
    for case in RFC7208:
        recorder = _TimeoutRecorder(case)
        evaluate(case, recorder)
        if recorder.timed_out:
            hit.add(case.name)
    assert hit == TIMEOUT_CASES


@pytest.mark.parametrize("case", RFC7208, ids=[c.id for c in RFC7208])
def test_rfc7208_live_matches_snapshot(case: SuiteCase, rfc7208_bind: BindServer) -> None:
    if case.name in TIMEOUT_CASES:
        pytest.skip("uses TIMEOUT zonedata, which a real server cannot serve")
    rfc7208_bind.load({".": case.zonedata})
    expected = evaluate(case, spfmanager.SnapshotResolver(case.zonedata))
    live = evaluate(case, rfc7208_bind.resolver())
    if case.name in LIVE_DNS_VARIANTS:
        assert live.result in case.results, LIVE_DNS_VARIANTS[case.name]
        return
    assert (live.result, live.explanation) == (expected.result, expected.explanation), (
        f"{case.spec}: live: {live.reason}; snapshot: {expected.reason}"
    )
    assert live.mechanism == expected.mechanism


def test_every_suite_name_is_served(rfc7208_bind: BindServer) -> None:
    """Each zonedata name with data exists in the zone BIND loaded (none was skipped)."""
    for case in RFC7208:
        rfc7208_bind.load({".": case.zonedata})
        resolver = rfc7208_bind.resolver(cache=False)
        for name, entries in case.zonedata.items():
            if entries and entries != ["TIMEOUT"]:
                assert not resolver.query(name, RRType.CNAME).nxdomain, name


# -- provider data ----------------------------------------------------------------------


def _sample_addresses(zonedata: dict[str, list[dict[str, object]]]) -> list[str]:
    """First and last address of every ip4/ip6 network in the snapshot, and outsiders."""
    addresses = {"192.0.2.1", "2001:db8::1", "198.51.100.77"}
    for entries in zonedata.values():
        for entry in entries:
            text = entry.get("TXT")
            if isinstance(text, str) and is_spf_record(text):
                for term in parse_record(text).terms:
                    if isinstance(term, IP4 | IP6):
                        addresses.update((str(term.network[0]), str(term.network[-1])))
    return sorted(addresses)


def test_provider_snapshot_live_matches_snapshot(
    bind_server_factory: BindFactory, provider_snapshot_path: Path
) -> None:
    zonedata = yaml.safe_load(provider_snapshot_path.read_text(encoding="utf-8"))
    server = bind_server_factory({".": zonedata})
    snapshot = spfmanager.SnapshotResolver(zonedata)
    live = server.resolver()  # one cache for the whole run, as the daemon would
    candidates = _sample_addresses(zonedata)
    compared = 0
    for name in zonedata:
        for ip in [*random.Random(name).sample(candidates, 6), "192.0.2.1"]:
            sender = f"postmaster@{name}"
            expected = spfmanager.evaluate(ip, sender, name, resolver=snapshot)
            got = spfmanager.evaluate(ip, sender, name, resolver=live)
            assert (got.result, got.mechanism) == (expected.result, expected.mechanism), (
                f"{name} {ip}: live {got.reason}; snapshot {expected.reason}"
            )
            compared += 1
    assert compared == 7 * len(zonedata)
    assert live.cache_hits > live.queries  # the shared cache did its job


# -- answer mapping ---------------------------------------------------------------------

ZONE = {
    "example.org": [
        {"TXT": ["v=spf1 ip4:192.0.2.0/24 ", "-all"]},
        {"A": "192.0.2.10"},
        {"AAAA": "2001:DB8::10"},
        {"MX": [10, "Mail.Example.ORG."]},
        {"MX": [20, "backup.example.org"]},
    ],
    "alias.example.org": [{"CNAME": "example.org"}],
    "alias2.example.org": [{"CNAME": "alias.example.org"}],
    "dangling.example.org": [{"CNAME": "nowhere.example.org"}],
    "10.2.0.192.in-addr.arpa": [{"PTR": "Host.Example.ORG."}],
    "quoted.example.org": [{"TXT": ['say "hi" \\o/', "caf\xe9\x00\r\n", "x" * 600]}],
    "big.example.org": [{"TXT": [f"{i:04d}" * 60 for i in range(8)]}],  # 8 x 240 octets
}


@pytest.fixture(scope="module")
def server(bind_server_factory: BindFactory) -> BindServer:
    return bind_server_factory({"example.org": ZONE, "2.0.192.in-addr.arpa": ZONE})


@pytest.fixture
def resolver(server: BindServer) -> LiveResolver:
    return server.resolver()


def test_txt_keeps_each_string(resolver: LiveResolver) -> None:
    answer = resolver.query("example.org", RRType.TXT)
    assert answer.records == (TXTRecord((b"v=spf1 ip4:192.0.2.0/24 ", b"-all")),)
    assert answer.ttl == 3600
    assert not answer.nxdomain


def test_txt_quoting_and_splitting_survive_a_zone_file(resolver: LiveResolver) -> None:
    (record,) = resolver.query("quoted.example.org", RRType.TXT).texts()
    assert record.strings == (
        b'say "hi" \\o/',
        b"caf\xe9\x00\r\n",  # Latin-1 octets, as the suite means them
        b"x" * 255,
        b"x" * 255,
        b"x" * 90,
    )


def test_addresses_exchanges_and_pointers(resolver: LiveResolver) -> None:
    assert resolver.query("example.org", RRType.A).records == (IPv4Address("192.0.2.10"),)
    assert resolver.query("example.org", RRType.AAAA).records == (IPv6Address("2001:db8::10"),)
    mx = resolver.query("EXAMPLE.org.", RRType.MX).exchanges()
    assert sorted(mx, key=lambda r: r.preference) == [
        MXRecord(10, "mail.example.org"),
        MXRecord(20, "backup.example.org"),
    ]
    assert resolver.query("10.2.0.192.in-addr.arpa", RRType.PTR).names() == ["host.example.org"]


def test_cname_chain_gives_the_final_type(resolver: LiveResolver) -> None:
    answer = resolver.query("alias2.example.org", RRType.A)
    assert answer.records == (IPv4Address("192.0.2.10"),)
    assert answer.name == "alias2.example.org"
    assert resolver.query("alias.example.org", RRType.CNAME).records == ("example.org",)


def test_nxdomain_and_nodata(resolver: LiveResolver) -> None:
    missing = resolver.query("missing.example.org", RRType.TXT)
    assert missing.nxdomain and missing.is_void
    assert missing.ttl == 300  # the SOA's negative TTL (RFC 2308)
    nodata = resolver.query("example.org", RRType.PTR)
    assert not nodata.nxdomain and nodata.is_void
    dangling = resolver.query("dangling.example.org", RRType.A)
    assert dangling.nxdomain


def test_invalid_names_do_not_exist(resolver: LiveResolver) -> None:
    assert resolver.query("mail.example...org", RRType.A).nxdomain
    assert resolver.query("a" * 64 + ".example.org", RRType.A).nxdomain
    assert resolver.queries == 0


def test_refused_is_temporary(resolver: LiveResolver) -> None:
    with pytest.raises(DNSTemporaryError, match="REFUSED"):
        resolver.query("example.com", RRType.TXT)  # not a zone this server serves


def test_tcp_fallback_for_large_txt(server: BindServer, resolver: LiveResolver) -> None:
    udp = dns.query.udp(
        dns.message.make_query("big.example.org", dns.rdatatype.TXT, use_edns=0, payload=1232),
        server.host,
        port=server.port,
        timeout=2,
    )
    assert udp.flags & dns.flags.TC  # over UDP the answer does not fit
    (record,) = resolver.query("big.example.org", RRType.TXT).texts()
    assert record.strings == tuple(f"{i:04d}".encode() * 60 for i in range(8))
    assert resolver.queries == 1


# -- failures -----------------------------------------------------------------------------


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that reads queries and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    received: list[bytes] = []
    stop = threading.Event()

    def swallow() -> None:
        while not stop.is_set():
            try:
                received.append(sock.recv(4096))
            except TimeoutError:
                continue

    thread = threading.Thread(target=swallow, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    sock.close()
    assert received  # the queries did reach it


def test_timeout_is_temporary(black_hole: int) -> None:
    resolver = LiveResolver(["127.0.0.1"], port=black_hole, timeout=0.1, lifetime=0.3)
    with pytest.raises(DNSTemporaryError, match="timeout"):
        resolver.query("example.org", RRType.TXT)


def test_timeout_evaluates_to_temperror(black_hole: int) -> None:
    resolver = LiveResolver(["127.0.0.1"], port=black_hole, timeout=0.1, lifetime=0.3)
    outcome = spfmanager.evaluate(
        "192.0.2.1", "user@example.org", "mx.example.org", resolver=resolver
    )
    assert outcome.result is spfmanager.Result.TEMPERROR


def test_no_nameservers_is_temporary() -> None:
    with pytest.raises(DNSTemporaryError, match="no nameserver"):
        LiveResolver([], timeout=0.1, lifetime=0.2).query("example.org", RRType.A)


def test_bad_nameserver_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not IP addresses"):
        LiveResolver(["dns.example.org"])


# -- the BindServer helper itself (the RFC 2136 provider tests rely on it) ---------------


def test_bind_server_takes_signed_updates_and_keeps_them(bind_server_factory: BindFactory) -> None:
    server = bind_server_factory({"example.org": {"example.org": [{"TXT": "old"}]}}, tsig=True)
    assert server.tsig_name and server.tsig_secret
    keyring = dns.tsigkeyring.from_text({server.tsig_name: (TSIG, server.tsig_secret)})

    def update(**signed: Any) -> int:
        message = dns.update.UpdateMessage("example.org.", **signed)
        message.replace("example.org.", 300, "TXT", '"v=spf1 -all"')
        return dns.query.tcp(message, server.host, port=server.port, timeout=2).rcode()

    assert update() == dns.rcode.REFUSED  # unsigned
    assert update(keyring=keyring, keyname=server.tsig_name, keyalgorithm=TSIG) == 0
    server.add_zone("example.net", {"example.net": [{"A": "192.0.2.1"}]})
    resolver = server.resolver(cache=False)
    assert resolver.query("example.org", RRType.TXT).texts()[0].data == b"v=spf1 -all"
    assert resolver.query("example.net", RRType.A).records == (IPv4Address("192.0.2.1"),)
    assert server.zone_names == ["example.net.", "example.org."]
