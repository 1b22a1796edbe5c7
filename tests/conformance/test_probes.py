"""Targeted probes of the known departure points (``probes.py``), against every real
library, spfmanager's RFC reading, and spfmanager under each library's profile; and
libspf2's compiled-mechanism budget, found exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

import spfmanager
from tests.conformance.differential import compare, render
from tests.conformance.probes import (
    IP4_BYTES,
    IP6_BYTES,
    PROBES,
    SPF_MAX_MECH_LEN,
    batch,
    length_probes,
    libspf2_kept,
)
from tests.conformance.receivers import IMPLEMENTATIONS, ReceiverLab, require
from tests.conformance.suite import profile_gaps

PROFILE_GAPS = profile_gaps()

pytestmark = [pytest.mark.conformance, pytest.mark.integration]  # BIND on 127.0.0.1


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_probe_results(impl: str, receiver_lab: ReceiverLab) -> None:
    require(impl)
    probes = batch()
    [outcomes] = receiver_lab.run_many(impl, [probes])
    got = {p.id: o.name for p, o in zip(PROBES, outcomes, strict=True)}
    expected = {p.id: p.result(impl) for p in PROBES}
    changed = {k: f"{expected[k]} -> {v}" for k, v in got.items() if expected[k] != v}
    assert got == expected, f"{impl}: {changed}"


def test_probe_rfc_reading(receiver_lab: ReceiverLab) -> None:
    """The rfc7208 column is spfmanager's RFC reading over the same server."""
    probes = batch()
    receiver_lab.serve(probes.zonedata)
    resolver = receiver_lab.resolver()
    got = {
        p.id: spfmanager.evaluate(
            p.query.ip, p.query.mailfrom, p.query.helo, resolver=resolver
        ).result.value
        for p in PROBES
    }
    assert got == {p.id: p.result("rfc7208") for p in PROBES}


@pytest.mark.parametrize(
    "impl",
    IMPLEMENTATIONS,
)
def test_profile_matches_receiver_on_probes(impl: str, receiver_lab: ReceiverLab) -> None:
    require(impl)
    probes = batch()
    differences = compare(
        receiver_lab, impl, probes.zonedata, probes.queries, [p.id for p in PROBES]
    )
    gaps = PROFILE_GAPS.get(impl, {})
    unexplained = [d for d in differences if d.label not in gaps]
    assert not unexplained, f"{len(unexplained)} differences:\n{render(unexplained)}"
    closed = sorted(set(gaps) & {p.id for p in PROBES} - {d.label for d in differences})
    assert not closed, f"{impl}: no longer different, remove from profile_gaps.yaml: {closed}"


def test_budget_rule_thresholds() -> None:
    """What the rule gives: 64 ip4 or 26 ip6 terms compile, and -all after 63 or 25."""
    assert (IP4_BYTES, IP6_BYTES, SPF_MAX_MECH_LEN) == (8, 20, 511)
    assert libspf2_kept([IP4_BYTES] * 100) == 64
    assert libspf2_kept([IP6_BYTES] * 100) == 26
    assert libspf2_kept([IP4_BYTES] * 63 + [4]) == 64  # -all kept
    assert libspf2_kept([IP4_BYTES] * 64 + [4]) == 64  # -all dropped
    assert libspf2_kept([IP6_BYTES] * 25 + [4]) == 26
    assert libspf2_kept([IP6_BYTES] * 26 + [4]) == 26


def test_libspf2_mechanism_budget(receiver_lab: ReceiverLab) -> None:
    """libspf2 compiles mechanisms while fewer than 508 bytes are compiled (8 per ip4, 20
    per ip6, 4 for all) and silently drops every later one, all and redirect= included."""
    require("libspf2")
    probes, labels = length_probes()
    [outcomes] = receiver_lab.run_many("libspf2", [probes])
    got = {p.label: o.name for p, o in zip(labels, outcomes, strict=True)}
    assert got == {p.label: p.libspf2_result() for p in labels}
    # The thresholds, spelled out.
    assert (got["ip4-64-last"], got["ip4-65-last"]) == ("pass", "neutral")
    assert (got["ip4-63-all"], got["ip4-64-all"]) == ("fail", "neutral")
    assert (got["ip4-63-redirect"], got["ip4-64-redirect"]) == ("fail", "neutral")
    assert (got["ip6-26-last"], got["ip6-27-last"]) == ("pass", "neutral")
    assert (got["ip6-25-all"], got["ip6-26-all"]) == ("fail", "neutral")
    assert (got["mixed-ip6"], got["mixed-all"]) == ("pass", "neutral")


@pytest.mark.parametrize("impl", [i for i in IMPLEMENTATIONS if i != "libspf2"])
def test_others_read_long_records_whole(impl: str, receiver_lab: ReceiverLab) -> None:
    require(impl)
    probes, labels = length_probes()
    [outcomes] = receiver_lab.run_many(impl, [probes])
    got = {p.label: o.name for p, o in zip(labels, outcomes, strict=True)}
    assert got == {p.label: p.full_result() for p in labels}


@pytest.mark.parametrize(
    "impl",
    IMPLEMENTATIONS,
)
def test_profile_matches_receiver_on_long_records(impl: str, receiver_lab: ReceiverLab) -> None:
    require(impl)
    probes, labels = length_probes()
    differences = compare(
        receiver_lab, impl, probes.zonedata, probes.queries, [p.label for p in labels]
    )
    assert not differences, f"{len(differences)} differences:\n{render(differences)}"


def test_docs_show_every_probe() -> None:
    text = (Path(__file__).parents[2] / "docs" / "receivers.md").read_text(encoding="utf-8")
    for probe in PROBES:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{probe.id}` |")), "")
        cells = [c.strip().strip("*") for c in row.split("|")[-6:-1]]
        assert cells == list(probe.expected), f"docs/receivers.md row of {probe.id}: {row!r}"
