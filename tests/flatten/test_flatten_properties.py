"""Property: for random include trees, flattening either refuses with FlattenError or
publishes records that give every probed address the intent's result (checked with the
evaluator, independently of the flattener's own proof)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import spfmanager
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import FlattenError

QUALIFIERS = st.sampled_from(["", "-", "~", "?"])
BASE4 = int(IPv4Address("10.20.0.0"))
BASE6 = int(IPv6Address("2001:db8::"))


@st.composite
def ip4_term(draw: st.DrawFn) -> str:
    prefix = draw(st.integers(22, 32))
    offset = draw(st.integers(0, (1 << 12) - 1)) << 0
    network = IPv4Network((BASE4 + offset, prefix), strict=False)
    return f"{draw(QUALIFIERS)}ip4:{network}"


@st.composite
def ip6_term(draw: st.DrawFn) -> str:
    prefix = draw(st.integers(60, 64))
    network = IPv6Network(
        (
            int(draw(st.sampled_from(["2001:db8::", "2001:db8:0:8::"])) and 0)
            or (0x20010DB8 << 96) + (draw(st.integers(0, 15)) << 64),
            prefix,
        ),
        strict=False,
    )
    return f"{draw(QUALIFIERS)}ip6:{network}"


@st.composite
def zones(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[str]]:
    """(intent record, zonedata, probe addresses): vendors v0..v3, vi may include vj > i."""
    zone: dict[str, Any] = {"host.example": [{"A": str(IPv4Address(BASE4 + 77))}]}
    probes: set[str] = {"10.20.0.0", "10.19.255.255", "10.20.16.0", "192.0.2.1", "2001:db8::1"}
    for index in range(3, -1, -1):
        terms = draw(
            st.lists(st.one_of(ip4_term(), ip4_term(), ip6_term()), min_size=3, max_size=25)
        )
        later = [f"v{j}.example" for j in range(index + 1, 4)]
        if later and draw(st.booleans()):
            terms.insert(
                draw(st.integers(0, len(terms))),
                f"{draw(QUALIFIERS)}include:{draw(st.sampled_from(later))}",
            )
        if draw(st.booleans()):
            terms.append(f"{draw(QUALIFIERS)}a:host.example/30")
        if draw(st.integers(0, 3)) == 0:  # a fixed name's exists: a constant, every or none
            name = draw(st.sampled_from(["host.example", "none.example"]))
            terms.insert(draw(st.integers(0, len(terms))), f"{draw(QUALIFIERS)}exists:{name}")
        ending = draw(st.sampled_from(["-all", "~all", "?all", "+all", "", "redirect"]))
        if ending == "redirect" and later:
            terms.append(f"redirect={draw(st.sampled_from(later))}")
        elif ending and ending != "redirect":
            terms.append(ending)
        zone[f"v{index}.example"] = [{"TXT": "v=spf1 " + " ".join(terms)}]
        for term in terms:
            if "ip4:" in term or "ip6:" in term:
                net = (
                    IPv4Network(term.split(":", 1)[1])
                    if "ip4:" in term
                    else IPv6Network(term.split(":", 1)[1])
                )
                first, last = int(net.network_address), int(net.broadcast_address)
                make = type(net.network_address)
                for value in (first - 1, first, last, last + 1):
                    if 0 <= value < (1 << net.max_prefixlen):
                        probes.add(str(make(value)))
    intent_terms = draw(
        st.lists(
            st.one_of(
                ip4_term(),
                st.sampled_from(
                    [f"{q}include:v{i}.example" for q in ("", "~", "-") for i in range(4)]
                ),
            ),
            min_size=1,
            max_size=5,
        )
    )
    intent = (
        "v=spf1 include:v0.example "
        + " ".join(intent_terms)
        + " "
        + draw(st.sampled_from(["-all", "~all"]))
    )
    return intent, zone, sorted(probes)


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(zones())
def test_flattening_preserves_every_result(case: tuple[str, dict[str, Any], list[str]]) -> None:
    intent, zone, probes = case
    resolver = spfmanager.SnapshotResolver(zone)
    try:
        result = spfmanager.flatten(intent, "example.com", resolver=resolver)
    except FlattenError as exc:
        event(f"refused: {str(exc).split(':')[-1].strip()[:40]}")
        return  # refusing is always allowed; publishing something wrong never is
    event(f"flattened into {len(result.records)} record(s)")
    as_intent = OverlayResolver(resolver, {"example.com": [[intent]]})
    published = OverlayResolver(resolver, {n: [s] for n, s in result.records.items()})
    for ip in probes:
        want = spfmanager.evaluate(
            ip,
            "a@example.com",
            "h.example",
            resolver=as_intent,
            max_lookups=10**6,
            max_void_lookups=10**6,
        )
        got = spfmanager.evaluate(ip, "a@example.com", "h.example", resolver=published)
        assert got.result == want.result, (ip, intent, result.records)
    assert result.lookups <= 10
    assert result.lookups <= 8 or any("lookup budget" in w for w in result.warnings)
