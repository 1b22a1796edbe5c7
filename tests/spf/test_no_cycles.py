"""Evaluating and flattening leave no reference cycles: memory is freed at once.

A cycle per check (a lazy trace message holding the check that holds the trace) made a
fleet's proofs wait for the cyclic collector: with the collector tuned for batches
(``publish/collector.py``), workers grew to 600 MiB. Counted here with the collector off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import spfmanager
from spfmanager.compile import compile_file
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.flatten import Flattener
from spfmanager.spf.profiles import PROFILES

EXAMPLE = Path(__file__).parents[2] / "examples" / "over-limit"


@contextmanager
def cycles_found() -> Iterator[list[int]]:
    """Collector off inside; afterwards ``[n]``: the unreachable objects the block left."""
    found: list[int] = []
    gc.collect()  # what setup (config, YAML, snapshot) left is not the block's
    gc.disable()
    try:
        yield found
    finally:
        found.append(gc.collect())
        gc.enable()


def test_evaluations_under_every_profile_leave_no_cycle() -> None:
    resolver = spfmanager.SnapshotResolver.from_file(EXAMPLE / "dns-snapshot.yaml")
    _config, intents = compile_file(EXAMPLE / "spfmanager.yaml")
    zone = OverlayResolver(resolver, {intents[0].domain: [[intents[0].record.render()]]})
    with cycles_found() as found:
        for profile in PROFILES.values():  # over 10 lookups, so limits and errors are met too
            for ip in ("192.0.2.1", "8.8.8.8", "2001:db8:10::1", "::ffff:8.8.8.8"):
                result = spfmanager.evaluate(
                    ip,
                    f"postmaster@{intents[0].domain}",
                    intents[0].domain,
                    resolver=zone,
                    profile=profile,
                )
                assert result.trace  # the lazy messages are read too
    assert found == [0]


def test_a_flatten_and_its_proof_leave_no_cycle() -> None:
    resolver = spfmanager.SnapshotResolver.from_file(EXAMPLE / "dns-snapshot.yaml")
    _config, intents = compile_file(EXAMPLE / "spfmanager.yaml")
    with cycles_found() as found:
        result = Flattener(resolver).flatten(intents[0].record, intents[0].domain)
        assert result.proof.points_evaluated > 0
        del result
    assert found == [0]
