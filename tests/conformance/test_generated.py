"""On generated zones, each receiver profile gives exactly its library's result.

The zones are :func:`tests.spf.strategies.scenarios` (the generator of the pyspf
differential test), drawn deterministically (:func:`tests.conformance.flattened._drawn`:
derandomized, no database, generate phase only: the same :data:`SCENARIOS` draws on every
run; a zone's key order follows the string hash seed, through ``st.sets``, its content
does not). Every draw uses the same names (``d0.test`` ...), so draw ``n`` gets a top-level label
of its own: ``d0.test`` becomes ``d0.g7`` (the tail is replaced rather than extended, so
``%{d2}`` and the other right-hand macro truncations still expand to the names the
strategy listed). All draws then share one zone, and each library answers every query in
one process.

Each draw is checked with its own client, and with one client of the other address family
(the scenario's MAIL FROM and HELO), so both families meet every zone. Adjustments to what
a real server can serve, and to what each library can be asked:

* ``TIMEOUT``: BIND cannot make a name time out, so the strategy's ``t.test`` is left out
  of the served zone (an ``include:`` of it meets NXDOMAIN). Both sides query the same
  server, so the comparison stays exact; the timeout reading itself is covered by the
  pyspf differential test over a snapshot and by the suite's UNSERVABLE tests.
* RRset order: the strategy publishes no PTR records, no ``%{p}``, and at most two MX
  hosts per name, both of which always resolve in both families; no check meets the MX or
  PTR limit of 10 names, so no result depends on the order BIND shuffles an RRset into
  (contrast ``ORDER_DEPENDENT`` in ``suite.py``). :func:`order_free` asserts that
  steering on every draw.
* IPv4-mapped clients (``::ffff:192.0.2.1``): libspf2 reads them as IPv6 and its profile
  does not claim otherwise for a client the MTA would not hand it, so they are not sent
  to libspf2 (``mapped_client_is_ipv6``); they are sent in that dotted form, the form
  mailauth reads as IPv4, to the other libraries.

A difference is either fixed in the profile or listed in ``profile_gaps.yaml`` under the
library, keyed by the query's label (``generated-<n>`` for the draw's own client,
``generated-<n>-other`` for the other family's); the test fails on any other difference
and on a listed one that closed.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from ipaddress import IPv6Address, ip_address
from typing import Any

import pytest

from spfmanager.spf.profiles import PROFILES
from tests.conformance.differential import compare_many, render
from tests.conformance.flattened import _drawn
from tests.conformance.receivers import IMPLEMENTATIONS, Batch, Query, ReceiverLab, require
from tests.conformance.suite import profile_gaps
from tests.spf.strategies import CLIENTS_V4, CLIENTS_V6, TIMEOUT_NAME, Scenario, scenarios

pytestmark = [pytest.mark.conformance, pytest.mark.integration]  # BIND on 127.0.0.1

SCENARIOS = 400
LABEL_PREFIX = "generated-"
PROFILE_GAPS = profile_gaps()

_TAIL = re.compile(r"\.test(?![A-Za-z0-9-])")

Zonedata = dict[str, list[Any]]


@functools.cache
def drawn() -> tuple[Scenario, ...]:
    """The :data:`SCENARIOS` draws, the same on every run (computed once per session)."""
    return tuple(_drawn(scenarios(), SCENARIOS))


def relabel(text: str, index: int) -> str:
    """``text`` with every ``x.test`` name as ``x.g<index>``."""
    return _TAIL.sub(f".g{index}", text)


def served(scenario: Scenario, index: int) -> Zonedata:
    """Draw ``index``'s zone under its own top-level label, without the TIMEOUT name."""
    zone = {name: entries for name, entries in scenario.zonedata.items() if name != TIMEOUT_NAME}
    loaded: Zonedata = json.loads(relabel(json.dumps(zone), index))
    return loaded


def order_free(zone: Mapping[str, list[Any]]) -> bool:
    """No result can depend on RRset order: no PTR, at most two MX per name, every MX
    exchange resolving to one A and one AAAA."""
    exchanges = set()
    for entries in zone.values():
        mx = [e["MX"] for e in entries if isinstance(e, dict) and "MX" in e]
        if len(mx) > 2 or any(isinstance(e, dict) and "PTR" in e for e in entries):
            return False
        exchanges |= {str(host) for _, host in mx}
    return all(
        sorted(next(iter(e)) for e in zone.get(host, [])) == ["A", "AAAA"] for host in exchanges
    )


def _other_client(ip: str, index: int) -> str:
    address = ip_address(ip)
    mapped = isinstance(address, IPv6Address) and address.ipv4_mapped is not None
    if address.version == 4 or mapped:
        return CLIENTS_V6[index % 2]  # global IPv6 clients only
    return CLIENTS_V4[index % len(CLIENTS_V4)]


def queries(impl: str) -> tuple[Zonedata, list[Query], list[str]]:
    """One zone for every draw, and the queries (with labels) ``impl`` is asked."""
    zone: Zonedata = {}
    asked: list[Query] = []
    labels: list[str] = []
    skip_mapped = PROFILES[impl].mapped_client_is_ipv6
    for index, scenario in enumerate(drawn()):
        zone.update(served(scenario, index))
        mailfrom, helo = relabel(scenario.mailfrom, index), relabel(scenario.helo, index)
        for suffix, ip in (("", scenario.ip), ("-other", _other_client(scenario.ip, index))):
            address = ip_address(ip)
            if skip_mapped and isinstance(address, IPv6Address) and address.ipv4_mapped:
                continue
            asked.append(Query(ip, mailfrom, helo))
            labels.append(f"{LABEL_PREFIX}{index}{suffix}")
    return zone, asked, labels


def test_draws_are_deterministic_and_servable() -> None:
    """The same draws on every run, each under its own names, none order-dependent."""
    again = tuple(_drawn(scenarios(), SCENARIOS))
    assert again == drawn()
    zones = [served(s, i) for i, s in enumerate(drawn())]
    assert all(order_free(z) for z in zones)
    owners = [set(z) for z in zones]
    assert sum(map(len, owners)) == len(set().union(*owners))  # no name shared by two draws
    assert all(not n.endswith(".test") and "TIMEOUT" not in json.dumps(z) for z in zones for n in z)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_profile_matches_receiver_on_generated_zones(impl: str, receiver_lab: ReceiverLab) -> None:
    require(impl)
    zone, asked, labels = queries(impl)
    differences = compare_many(receiver_lab, impl, [(Batch(zone, tuple(asked)), labels)])
    gaps = {k: v for k, v in PROFILE_GAPS.get(impl, {}).items() if k.startswith(LABEL_PREFIX)}
    unexplained = [d for d in differences if d.label not in gaps]
    assert not unexplained, f"{len(unexplained)} differences:\n{render(unexplained)}"
    closed = sorted(set(gaps) - {d.label for d in differences})
    assert not closed, f"{impl}: no longer different, remove from profile_gaps.yaml: {closed}"
