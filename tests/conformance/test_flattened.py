"""Issue 10's acceptance: for every published output of the flatten tests and property
tests, each real receiver library, served the published zone, gives the intent's result on
every probe.

The outputs (:mod:`.flattened`): the benchmark inputs, the bundled examples, and
derandomized draws of the property tests' strategies. The probes: every range edge of the
intent's normal form, seeded random addresses of both families, the strategies' own probe
addresses, and (for libraries that read them as IPv4) IPv4-mapped clients. The expected
result is the intent's RFC 7208 meaning, except where the flattener's proof recorded that
the library's profile reads the intent otherwise: there the library may get the result the
proof says it gets from the published records; and libspf2 passes every loopback client
(127.0.0.0/8, ::1) whatever the record (its localhost rule, pinned below). All outputs
are served in as few zones as their names allow, so each library answers them in one or
two processes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, ip_address

import pytest

from spfmanager.spf.profiles import PROFILES
from spfmanager.spf.results import Result
from tests.conformance.flattened import (
    Output,
    benchmark_outputs,
    example_outputs,
    merged_zones,
    property_outputs,
)
from tests.conformance.receivers import (
    IMPLEMENTATIONS,
    Batch,
    Outcome,
    Query,
    ReceiverLab,
    require,
    unavailable,
)

pytestmark = [pytest.mark.conformance, pytest.mark.integration]  # BIND on 127.0.0.1


# libspf2 answers pass for a loopback client (127.0.0.0/8, ::1) whatever the record, even
# "v=spf1 -all" (test_libspf2_passes_loopback_clients_whatever_the_record): a receiver
# policy, not a reading of the published records; its profile does not model it.
LOOPBACK_PASSES = frozenset({"libspf2"})
LOOPBACK4 = IPv4Network("127.0.0.0/8")


def _loopback(address: str) -> bool:
    """127.0.0.0/8 and ::1 (not their IPv4-mapped forms: libspf2 reads those as IPv6)."""
    ip = ip_address(address)
    return ip in LOOPBACK4 if isinstance(ip, IPv4Address) else ip == IPv6Address("::1")


@functools.cache
def outputs() -> tuple[Output, ...]:
    drawn, _refused = property_outputs()
    return (*benchmark_outputs(), *example_outputs(), *drawn)


@dataclass(frozen=True)
class Disagreement:
    output: str
    impl: str
    address: str
    expected: frozenset[Result]
    got: Outcome
    records: str

    def row(self) -> str:
        expected = "|".join(sorted(r.value for r in self.expected))
        return (
            f"{self.output:<44} {self.impl:<8} {self.address:<40} {expected:<10} "
            f"{self.got.name:<10} {self.got.raw}: {self.got.detail[:100]!r}"
        )


def test_every_source_contributes() -> None:
    labels = [o.label.split(":", 1)[0] for o in outputs()]
    assert {label: labels.count(label) for label in set(labels)} == {
        "benchmark": 7,
        "example": 3,
        "property": 26,
    }


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_receivers_read_published_records_as_the_intent(
    impl: str, receiver_lab: ReceiverLab
) -> None:
    require(impl)
    mapped = not PROFILES[impl].mapped_client_is_ipv6
    groups = merged_zones(outputs())
    batches: list[Batch] = []
    plan: list[list[tuple[Output, str]]] = []
    for zone, members in groups:
        probes = [(o, a) for o in members for a in o.probes(mapped=mapped)]
        plan.append(probes)
        batches.append(Batch(zone, tuple(q for o, a in probes for q in o.queries([a]))))
    answers = receiver_lab.run_many(impl, batches)
    disagreements = []
    for probes, outcomes in zip(plan, answers, strict=True):
        for (output, address), outcome in zip(probes, outcomes, strict=True):
            if outcome.result is not None and outcome.result is output.meaning(address):
                continue
            allowed = output.allowed(impl, address)
            if impl in LOOPBACK_PASSES and _loopback(address):
                allowed = {Result.PASS}
            if outcome.result in allowed:
                continue
            records = "; ".join(f"{n}: {''.join(s)}" for n, s in output.result.records.items())
            disagreements.append(
                Disagreement(output.label, impl, address, frozenset(allowed), outcome, records)
            )
    assert not disagreements, _table(disagreements)


def _table(disagreements: list[Disagreement]) -> str:
    header = f"{'output':<44} {'library':<8} {'address':<40} {'expected':<10} {'got':<10} detail"
    lines = [f"{len(disagreements)} probes where the library departs from the intent:", header]
    lines += [d.row() for d in disagreements]
    for label in dict.fromkeys(d.output for d in disagreements):
        records = next(d.records for d in disagreements if d.output == label)
        lines.append(f"{label} published: {records}")
    return "\n".join(lines)


def test_libspf2_passes_loopback_clients_whatever_the_record(receiver_lab: ReceiverLab) -> None:
    """Why :data:`LOOPBACK_PASSES`: ``-all`` fails every client, except for libspf2 the
    loopback ones (the IPv4-mapped form of 127.0.0.1 is not loopback to it)."""
    zone = {"loopback.example": [{"TXT": "v=spf1 -all"}]}
    addresses = ["127.0.0.1", "127.255.255.255", "::1", "::ffff:127.0.0.1", "126.255.255.255"]
    queries = [Query(a, "postmaster@loopback.example", "loopback.example") for a in addresses]
    for impl in IMPLEMENTATIONS:
        if impl == "libspf2":
            require(impl)
        elif unavailable(impl) is not None:
            continue
        got = [o.name for o in receiver_lab.run(impl, zone, queries)]
        passes = impl in LOOPBACK_PASSES
        want = ["pass" if passes and _loopback(a) else "fail" for a in addresses]
        assert got == want, impl


def test_mailauth_reads_only_the_dotted_mapped_form_as_ipv4(receiver_lab: ReceiverLab) -> None:
    """Why the IPv4-mapped probes are written ``::ffff:a.b.c.d`` (as MTAs hand them over):
    mailauth reads ``::ffff:c000:201`` as an IPv6 client, so no ip4 term matches it."""
    require("mailauth")
    zone = {"mapped.example": [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}]}
    addresses = ["::ffff:192.0.2.1", "::ffff:c000:201", "192.0.2.1"]
    queries = [Query(a, "postmaster@mapped.example", "mapped.example") for a in addresses]
    got = [o.name for o in receiver_lab.run("mailauth", zone, queries)]
    assert got == ["pass", "fail", "pass"]
