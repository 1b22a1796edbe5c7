"""Macro mode's records backend live: the wildcard TXT records served by a real BIND and a
real PowerDNS answer every probe's macro name as :class:`RecordsResolver` reads them, and
the real receivers (pyspf, Mail::SPF, mailauth, libspf2), through BIND forwarding the macro
zone to PowerDNS, give the intent's result at every probe address of the proof.

Intents: those of :mod:`tests.macro.test_live` (the 14-service example, a redirect form,
a pass-only include form), built with ``backend="records"``. All on 127.0.0.1; libspf2 in
its private network namespace with a PowerDNS and a BIND of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from spfmanager.dns.base import RRType
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.macro import (
    MacroBuild,
    RecordsResolver,
    build_macro,
    plan_macro,
    render_records,
)
from spfmanager.macro.names import reversed_address
from spfmanager.macro.prove import expected_results, probe_addresses
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.results import Result
from tests.conformance.receivers import (
    Query,
    ReceiverLab,
    require,
)
from tests.integration import pdns as pdns_helper
from tests.integration.bind import BindServer, require_named
from tests.macro.checks import disagreements, libspf2_disagreements
from tests.macro.intents import PASS_RECORD, SOFTFAIL_RECORD, ZONE, example, intent
from tests.macro.libspf2_netns import publish_to_powerdns
from tests.macro.servers import MacroBindServer

pytestmark = pytest.mark.integration

MAX_NAMES = 30_000  # direct queries per server, at most (a deterministic sample beyond)
HOST = "127.0.0.1"


@dataclass
class Setup:
    built: MacroBuild
    records: dict[str, str]
    zonedata: dict[str, list[dict[str, str]]]
    queries: list[Query]
    expected: list[Result]
    names: list[str]  # the macro names of every probe, plus a few outside the subzones


@pytest.fixture(scope="module")
def setup() -> Setup:
    intents, resolver = example()
    intents += [intent("soft.example", SOFTFAIL_RECORD), intent("small.example", PASS_RECORD)]
    built = build_macro(intents, resolver, ZONE, backend="records")
    assert built.zone_records is not None
    queries: list[Query] = []
    expected: list[Result] = []
    names: list[str] = []
    for item, record in zip(intents, built.records, strict=True):
        addresses = probe_addresses(record, built.zone_records, resolver)
        for ip, result in expected_results(item.record, item.domain, resolver, addresses).items():
            queries.append(Query(ip, f"postmaster@{item.domain}", item.domain))
            expected.append(result)
        for address in addresses:
            names.extend(
                f"{reversed_address(address)}.{sub.name}.{ZONE}"
                for sub in record.subzones
                if sub.version == address.version
            )
    names += [  # empty non-terminals (NODATA) and a name no wildcard covers (NXDOMAIN)
        f"in-addr.bigcorp.example.{ZONE}",
        f"bigcorp.example.{ZONE}",
        f"4.3.2.1.in-addr.nobody.example.{ZONE}",
    ]
    if len(names) > MAX_NAMES:
        names = names[:: -(-len(names) // MAX_NAMES)] + names[-3:]
    zonedata = {d: [{"TXT": root}] for d, root in built.roots.items()}
    return Setup(built, built.zone_records, zonedata, queries, expected, names)


Reply = tuple[str, list[bytes]]  # rcode name, TXT texts


def _expected_replies(setup: Setup) -> list[Reply]:
    reader = RecordsResolver(SnapshotResolver({}), setup.records, ZONE)
    out: list[Reply] = []
    for name in setup.names:
        answer = reader.query(name, RRType.TXT)
        out.append(("NXDOMAIN" if answer.nxdomain else "NOERROR", [t.data for t in answer.texts()]))
    return out


def _replies(port: int, names: list[str]) -> list[Reply]:
    out: list[Reply] = []
    for name in names:
        query = dns.message.make_query(name, dns.rdatatype.TXT)
        response = dns.query.udp(query, HOST, port=port, timeout=2.0)
        texts = [
            b"".join(r.strings)
            for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.TXT
            for r in rrset
        ]
        out.append((dns.rcode.to_text(response.rcode()), texts))
    return out


def _differences(setup: Setup, port: int) -> tuple[list[tuple[str, Reply, Reply]], Counter[str]]:
    got = _replies(port, setup.names)
    want = _expected_replies(setup)
    kinds = Counter(w[0] if w[1] else f"{w[0]}/empty" for w in want)
    wrong = [(n, w, g) for n, w, g in zip(setup.names, want, got, strict=True) if w != g]
    return wrong, kinds


def test_bind_answers_as_rfc4592_reads_the_records(setup: Setup) -> None:
    require_named()
    zonedata = {name: [{"TXT": text}] for name, text in setup.records.items()}
    with BindServer({ZONE: zonedata}, ttl=1) as bind:
        wrong, kinds = _differences(setup, bind.port)
    assert not wrong, f"{len(wrong)} of {len(setup.names)}: {wrong[:5]}"
    assert kinds["NOERROR"] > 5000 and kinds["NXDOMAIN/empty"] == 1
    assert kinds["NOERROR/empty"] == 2


@pytest.fixture(scope="module")
def pdns_server(
    setup: Setup, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[pdns_helper.PowerDNSServer]:
    """A PowerDNS holding the records, published through spfmanager's provider."""
    if not pdns_helper.available():
        pytest.skip("PowerDNS is not installed (pdns-server, pdns-backend-sqlite3)")
    with pdns_helper.PowerDNSServer(tmp_path_factory.mktemp("pdns")) as server:
        provider = publish_to_powerdns(server, ZONE, setup.records)
        listed = {n: r.values for n, r in provider.list_records().items()}
        assert listed == {n: (t,) for n, t in setup.records.items()}
        yield server


@pytest.fixture(scope="module")
def powerdns(pdns_server: pdns_helper.PowerDNSServer) -> int:
    """The DNS port of the PowerDNS holding the records."""
    return pdns_server.dns_port


def test_powerdns_answers_as_rfc4592_reads_the_records(setup: Setup, powerdns: int) -> None:
    wrong, kinds = _differences(setup, powerdns)
    assert not wrong, f"{len(wrong)} of {len(setup.names)}: {wrong[:5]}"
    assert kinds["NOERROR"] > 5000 and kinds["NXDOMAIN/empty"] == 1
    assert kinds["NOERROR/empty"] == 2


def test_servers_read_empty_non_terminals_as_rfc4592(
    pdns_server: pdns_helper.PowerDNSServer,
) -> None:
    """Without the wildcard at an empty non-terminal, BIND and PowerDNS answer NXDOMAIN
    beneath it, as RecordsResolver does (why render_records puts one at every node)."""
    require_named()
    zone = "ent.spfm.test"
    record = plan_macro(
        intent("ent.example", "v=spf1 ~ip4:1.2.3.5 ip4:0.0.0.0/0 -all"), SnapshotResolver({}), zone
    )
    records = render_records([record], zone)
    del records[f"*.3.2.1.in-addr.ent.example.{zone}"]
    reader = RecordsResolver(SnapshotResolver({}), records, zone)
    names = [
        f"{reversed_address(IPv4Address(a))}.in-addr.ent.example.{zone}"
        for a in ("1.2.3.5", "1.2.3.6", "1.2.4.0", "9.9.9.9")
    ]
    want = []
    for name in names:
        answer = reader.query(name, RRType.TXT)
        want.append(
            ("NXDOMAIN" if answer.nxdomain else "NOERROR", [t.data for t in answer.texts()])
        )
    assert [w[0] for w in want] == ["NOERROR", "NXDOMAIN", "NOERROR", "NOERROR"]
    publish_to_powerdns(pdns_server, zone, records)
    assert _replies(pdns_server.dns_port, names) == want
    zonedata = {name: [{"TXT": text}] for name, text in records.items()}
    with BindServer({zone: zonedata}, ttl=1) as bind:
        assert _replies(bind.port, names) == want


class ForwardingLab(ReceiverLab):
    """The conformance lab, its BIND forwarding the macro zone to a loopback port."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def __enter__(self) -> ForwardingLab:
        self._bind = MacroBindServer(self.port, ZONE).start()
        return self


@pytest.fixture(scope="module")
def lab(setup: Setup, powerdns: int) -> Iterator[ForwardingLab]:
    require_named()
    with ForwardingLab(powerdns) as lab:
        lab.serve(setup.zonedata)
        yield lab


def test_probes_cover_every_result(setup: Setup) -> None:
    assert Counter(setup.expected).keys() >= {Result.PASS, Result.SOFTFAIL, Result.FAIL}
    assert any(":" in q.ip for q in setup.queries) and any("." in q.ip for q in setup.queries)


def test_spfmanager_through_bind_and_powerdns(setup: Setup, lab: ForwardingLab) -> None:
    resolver = lab.resolver()
    wrong = []
    for q, want in zip(setup.queries, setup.expected, strict=True):
        got = evaluate(q.ip, q.mailfrom, q.helo, resolver=resolver)
        if got.result is not want:
            wrong.append((q.ip, q.helo, want.value, got.result.value, got.reason))
    assert not wrong, wrong[:10]


@pytest.mark.parametrize("impl", ["pyspf", "mailspf", "mailauth"])
def test_receiver_library(setup: Setup, lab: ForwardingLab, impl: str) -> None:
    require(impl)
    outcomes = lab.run(impl, setup.zonedata, setup.queries)
    wrong = disagreements(setup.queries, setup.expected, outcomes)
    assert not wrong, f"{len(wrong)} of {len(setup.queries)}: {wrong[:10]}"


def test_libspf2(setup: Setup) -> None:
    """libspf2 in its namespace: PowerDNS holding the records, BIND on port 53 forwarding."""
    require("libspf2")
    if not pdns_helper.available():
        pytest.skip("PowerDNS is not installed (pdns-server, pdns-backend-sqlite3)")
    job = {"zone": ZONE, "records": setup.records, "server": "powerdns", "zonedata": setup.zonedata}
    wrong = libspf2_disagreements(job, setup.queries, setup.expected, timeout=1200)
    assert not wrong, f"{len(wrong)} of {len(setup.queries)}: {wrong[:10]}"
