"""Macro mode live: rbldnsd serves the generated dataset, BIND forwards the macro zone to
it, and spfmanager's evaluator and the real receiver libraries (pyspf, Mail::SPF, libspf2,
mailauth) must give the intent's result at every probe address of the proof (range edges
and their neighbours, every dataset entry's ends, IPv4 and IPv6, IPv4-mapped clients).

Intents: the 14-service example (bigcorp.example, shop.bigcorp.example; include form) and
two hand-made ones (a softfail range inside a pass range inside ``-all``: redirect form;
pass ranges only: include form), all in one combined dataset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

import pytest

from spfmanager.dns.base import RRType
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.macro import DatasetResolver, MacroBuild, build_macro, query_name
from spfmanager.macro.prove import expected_results, probe_addresses
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.results import Result
from tests.conformance.receivers import (
    Query,
    ReceiverLab,
    require,
)
from tests.integration.bind import require_named
from tests.macro.checks import disagreements, libspf2_disagreements
from tests.macro.intents import PASS_RECORD, SOFTFAIL_RECORD, ZONE, example, intent
from tests.macro.servers import MacroBindServer, RbldnsdServer, require_rbldnsd

pytestmark = pytest.mark.integration


@dataclass
class Setup:
    built: MacroBuild
    rbldnsd: RbldnsdServer
    lab: ReceiverLab
    zonedata: dict[str, list[dict[str, str]]]
    queries: list[Query]
    expected: list[Result]


class MacroLab(ReceiverLab):
    """The conformance lab, its BIND forwarding the macro zone to rbldnsd."""

    def __init__(self, rbldnsd: RbldnsdServer) -> None:
        super().__init__()
        self.rbldnsd = rbldnsd

    def __enter__(self) -> MacroLab:
        self._bind = MacroBindServer(self.rbldnsd.port, ZONE).start()
        return self


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    require_rbldnsd()
    require_named()
    intents, resolver = example()
    intents += [intent("soft.example", SOFTFAIL_RECORD), intent("small.example", PASS_RECORD)]
    built = build_macro(intents, resolver, ZONE)
    zonedata = {d: [{"TXT": root}] for d, root in built.roots.items()}
    queries: list[Query] = []
    expected: list[Result] = []
    for item, record in zip(intents, built.records, strict=True):
        addresses = probe_addresses(record, built.dataset, resolver)
        results = expected_results(item.record, item.domain, resolver, addresses)
        for address, result in results.items():
            queries.append(Query(address, f"postmaster@{item.domain}", item.domain))
            expected.append(result)
    with RbldnsdServer(built.dataset, ZONE) as rbldnsd, MacroLab(rbldnsd) as lab:
        lab.serve(zonedata)
        yield Setup(built, rbldnsd, lab, zonedata, queries, expected)


def test_forms(setup: Setup) -> None:
    forms = {r.domain: r.form for r in setup.built.records}
    assert forms == {
        "bigcorp.example": "include",
        "shop.bigcorp.example": "include",
        "soft.example": "redirect",
        "small.example": "include",
    }
    assert Counter(setup.expected).keys() >= {Result.PASS, Result.SOFTFAIL, Result.FAIL}
    assert any(":" in q.ip for q in setup.queries) and any("." in q.ip for q in setup.queries)


def test_rbldnsd_answers_as_the_proof_reads(setup: Setup) -> None:
    """Each probe's macro name straight from rbldnsd: the answer the proof's resolver gave."""
    reader = DatasetResolver(SnapshotResolver({}), setup.built.dataset, ZONE)
    for q in setup.queries[::7]:
        address = IPv6Address(q.ip) if ":" in q.ip else IPv4Address(q.ip)
        name = query_name(address, q.helo, ZONE)
        want = [t.data for t in reader.query(name, RRType.TXT).texts()]
        assert setup.rbldnsd.txt(name) == (0, want), name


def test_spfmanager_through_bind(setup: Setup) -> None:
    resolver = setup.lab.resolver()
    wrong = []
    lookups = Counter()
    for q, want in zip(setup.queries, setup.expected, strict=True):
        got = evaluate(q.ip, q.mailfrom, q.helo, resolver=resolver)
        lookups[got.lookups] += 1
        if got.result is not want:
            wrong.append((q.ip, q.helo, want.value, got.result.value, got.reason))
    assert not wrong, wrong[:10]
    assert set(lookups) == {1}  # one DNS-querying term per check, whatever the senders


@pytest.mark.parametrize("impl", ["pyspf", "mailspf", "mailauth"])
def test_receiver_library(setup: Setup, impl: str) -> None:
    require(impl)
    outcomes = setup.lab.run(impl, setup.zonedata, setup.queries)
    wrong = disagreements(setup.queries, setup.expected, outcomes)
    assert not wrong, f"{len(wrong)} of {len(setup.queries)}: {wrong[:10]}"


def test_libspf2(setup: Setup) -> None:
    require("libspf2")
    job = {"zone": ZONE, "dataset": setup.built.dataset, "zonedata": setup.zonedata}
    wrong = libspf2_disagreements(job, setup.queries, setup.expected, timeout=600)
    assert not wrong, f"{len(wrong)} of {len(setup.queries)}: {wrong[:10]}"
