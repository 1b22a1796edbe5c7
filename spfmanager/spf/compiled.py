"""A parsed record compiled for fast evaluation: runs of ip4/ip6 terms become range maps.

Consecutive ``ip4``/``ip6`` mechanisms need no DNS, so a run of them is answered with one
binary search instead of a term-by-term scan; other mechanisms stay single steps. The first
matching term still wins, so results are exactly those of a term-by-term evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from spfmanager.spf.parser import parse_record
from spfmanager.spf.ranges import FirstMatchMap
from spfmanager.spf.terms import IP4, IP6, Mechanism, Record


@dataclass(frozen=True, slots=True)
class AddressRun:
    """Consecutive ip4/ip6 mechanisms; the maps give the index of the first that matches."""

    mechanisms: tuple[IP4 | IP6, ...]
    ipv4: FirstMatchMap[int]
    ipv6: FirstMatchMap[int]


Step = AddressRun | Mechanism


@dataclass(frozen=True, slots=True)
class CompiledRecord:
    record: Record
    steps: tuple[Step, ...]
    texts: dict[int, str]  # id(mechanism) -> its rendered text, rendered once


@lru_cache(maxsize=8192)
def compile_record(text: str) -> CompiledRecord:
    """Parse and compile record text (cached: a record is compiled once per process)."""
    record = parse_record(text)
    steps: list[Step] = []
    run: list[IP4 | IP6] = []
    for mechanism in record.mechanisms:
        if isinstance(mechanism, IP4 | IP6):
            run.append(mechanism)
            continue
        if run:
            steps.append(_address_run(run))
            run = []
        steps.append(mechanism)
    if run:
        steps.append(_address_run(run))
    texts = {id(m): m.render() for m in record.mechanisms}
    return CompiledRecord(record, tuple(steps), texts)


def _address_run(run: list[IP4 | IP6]) -> Step:
    if len(run) == 1:
        return run[0]
    v4 = [(*m.span(), i) for i, m in enumerate(run) if isinstance(m, IP4)]
    v6 = [(*m.span(), i) for i, m in enumerate(run) if isinstance(m, IP6)]
    return AddressRun(tuple(run), FirstMatchMap(v4), FirstMatchMap(v6))
