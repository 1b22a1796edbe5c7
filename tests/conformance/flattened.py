"""Flattened outputs served to the real receiver libraries: the published zone, the probes,
and what the intent gives at each probe.

An :class:`Output` is one ``spfmanager.flatten`` result with the upstream zonedata it was
built from. The receivers see :meth:`Output.served` (the upstream data, the domain's TXT
replaced by the published root, the chained names added); the expected result of a probe
is the intent's RFC 7208 meaning (:meth:`Output.meaning`: the intent as the root record,
evaluated without lookup limits, as the flattener's proof defines it).

The outputs come from three sources, all deterministic:

* :func:`benchmark_outputs`: ``benchmarks/flatten_inputs.py``'s named inputs;
* :func:`example_outputs`: the bundled ``examples/*/spfmanager.yaml``, compiled and built
  over their own ``dns-snapshot.yaml``;
* :func:`property_outputs`: intents drawn (derandomized) from the strategies of
  ``tests/flatten/test_portable.py`` and ``tests/flatten/test_flatten_properties.py``.
  Their names (``v0.example`` ...) are the same in every draw, so each draw's names get a
  label of its own (``v0.h3.example``): the outputs then share one zone, and each library
  answers all of them in one process.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import spfmanager
from benchmarks import flatten_inputs
from spfmanager.compile import compile_config
from spfmanager.config import Mode
from spfmanager.config.loader import load_config
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import FlattenError
from spfmanager.flatten.analyze import Analyzer
from spfmanager.flatten.cover import IPV4_MAPPED
from spfmanager.flatten.decisions import Decisions, normal_form
from spfmanager.flatten.flattener import FlattenResult
from spfmanager.spf.profiles import PROFILES
from spfmanager.spf.results import Result
from tests.conformance.receivers import Query
from tests.flatten import test_flatten_properties, test_portable

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

UNLIMITED = 10**6  # lookups: the intent's meaning is read without RFC 7208's limits
MAX_PROBES = 300  # per output
RANDOM_PER_FAMILY = 4
MAPPED_PER_OUTPUT = 8  # IPv4-mapped forms of IPv4 probes, for libraries that read them as IPv4
PROPERTY_EXAMPLES = 13  # per strategy

Address = IPv4Address | IPv6Address
Zonedata = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Output:
    """One flattened output and the upstream zonedata it was flattened over."""

    label: str
    domain: str
    intent: str  # the intent record's text
    upstream: Zonedata
    result: FlattenResult
    extra_probes: tuple[str, ...] = ()  # addresses the source strategy itself probes
    keep: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def served(self) -> Zonedata:
        """The zone a receiver sees: upstream, with the published records' TXT in place."""
        zone = {name: list(entries) for name, entries in self.upstream.items()}
        for name, strings in self.result.records.items():
            kept = [e for e in zone.get(name, []) if "TXT" not in e]
            zone[name] = [*kept, {"TXT": list(strings)}]
        return zone

    @cached_property
    def as_intent(self) -> OverlayResolver:
        """Upstream, with the intent as the domain's root record."""
        base = spfmanager.SnapshotResolver(self.upstream)
        return OverlayResolver(base, {self.domain: [[self.intent]]})

    @property
    def sender(self) -> str:
        return f"postmaster@{self.domain}"

    def meaning(self, address: str) -> Result:
        """The intent's RFC 7208 result for ``address`` (no lookup limits)."""
        return spfmanager.evaluate(
            address,
            self.sender,
            self.domain,
            resolver=self.as_intent,
            max_lookups=UNLIMITED,
            max_void_lookups=UNLIMITED,
        ).result

    def allowed(self, impl: str, address: str) -> set[Result]:
        """The results ``impl`` may give: the meaning, and where the proof recorded that
        ``impl``'s profile reads the intent otherwise at such an address, the result the
        proof says that profile gets from the published records."""
        rfc = self.meaning(address)
        allowed = {rfc}
        differences = [
            d for d in self.result.proof.profile_differences if PROFILES[impl].name in d.profiles
        ]
        if not differences:
            return allowed
        profile = PROFILES[impl]
        voids = UNLIMITED if profile.max_void_lookups is None else profile.max_void_lookups
        read = spfmanager.evaluate(
            address,
            self.sender,
            self.domain,
            resolver=self.as_intent,
            max_lookups=profile.max_lookups,
            max_void_lookups=voids,
            profile=profile,
        ).result
        within = spfmanager.evaluate(
            address, self.sender, self.domain, resolver=self.as_intent
        ).result
        if read is not within:
            allowed |= {d.published_result for d in differences if d.result is read}
        return allowed

    def probes(self, *, mapped: bool) -> list[str]:
        """Range edges of the intent's normal form, a few seeded random addresses per
        family, the source's own probes; with ``mapped``, IPv4-mapped forms of some IPv4
        probes (else no address in ::ffff:0:0/96). At most :data:`MAX_PROBES`."""
        form = normal_form(Analyzer(self.as_intent, keep=self.keep).analyze_domain(self.domain))
        edges: set[Address] = set()
        for part in form:
            if isinstance(part, Decisions):
                for version in (4, 6):
                    for segment in part.segments(version):
                        edges.add(_address(segment.first, version))
                        edges.add(_address(segment.last, version))
        rng = random.Random(self.label)
        chosen = sorted(edges, key=_key)
        if len(chosen) > MAX_PROBES - 2 * RANDOM_PER_FAMILY - MAPPED_PER_OUTPUT:
            budget = MAX_PROBES - 2 * RANDOM_PER_FAMILY - MAPPED_PER_OUTPUT
            chosen = sorted(rng.sample(chosen, budget), key=_key)
        extra = [ip_address(a) for a in self.extra_probes]
        rest = MAX_PROBES - len(chosen) - 2 * RANDOM_PER_FAMILY - MAPPED_PER_OUTPUT
        picked: list[Address] = [*chosen, *extra[: max(rest, 0)]]
        picked += [IPv4Address(rng.getrandbits(32)) for _ in range(RANDOM_PER_FAMILY)]
        picked += [IPv6Address(rng.getrandbits(128)) for _ in range(RANDOM_PER_FAMILY // 2)]
        picked += [  # global unicast, where real senders are
            IPv6Address((0x2000 << 112) | rng.getrandbits(125))
            for _ in range(RANDOM_PER_FAMILY - RANDOM_PER_FAMILY // 2)
        ]
        picked = [a for a in picked if not _is_mapped(a)]
        if mapped:
            ipv4 = [a for a in picked if isinstance(a, IPv4Address)]
            sample = rng.sample(ipv4, min(MAPPED_PER_OUTPUT, len(ipv4)))
            texts = [str(a) for a in dict.fromkeys(picked)]
            # The dotted form, as MTAs hand such clients over: mailauth reads only that
            # form as IPv4 (::ffff:c000:201 is IPv6 to it, ::ffff:192.0.2.1 is not).
            return texts + [f"::ffff:{a}" for a in sample]
        return [str(a) for a in dict.fromkeys(picked)]

    def queries(self, addresses: Iterable[str]) -> list[Query]:
        return [Query(a, self.sender, self.domain) for a in addresses]


def _address(value: int, version: int) -> Address:
    return IPv4Address(value) if version == 4 else IPv6Address(value)


def _key(address: Address) -> tuple[int, int]:
    return address.version, int(address)


def _is_mapped(address: Address) -> bool:
    return isinstance(address, IPv6Address) and IPV4_MAPPED[0] <= int(address) <= IPV4_MAPPED[1]


# -- the outputs ----------------------------------------------------------------------------


def benchmark_outputs() -> list[Output]:
    """Every named input of ``benchmarks/flatten_inputs.py``."""
    upstream: Zonedata = flatten_inputs.zonedata()
    resolver = spfmanager.SnapshotResolver(upstream)
    return [
        Output(
            f"benchmark:{item.name}",
            item.domain,
            item.record,
            upstream,
            spfmanager.flatten(item.record, item.domain, resolver=resolver),
        )
        for item in flatten_inputs.INPUTS
    ]


def example_outputs() -> list[Output]:
    """Every domain of the bundled examples, built over the example's own snapshot."""
    outputs = []
    for config_path in sorted(EXAMPLES.glob("*/spfmanager.yaml")):
        snapshot = config_path.with_name("dns-snapshot.yaml")
        upstream: Zonedata = yaml.safe_load(snapshot.read_text(encoding="utf-8")) or {}
        resolver = spfmanager.SnapshotResolver(upstream)
        for intent in compile_config(load_config(config_path)):
            if intent.mode is Mode.MACRO:
                continue  # published as a macro record: tests/macro/ checks receivers on it
            text = intent.record.render()
            result = spfmanager.flatten(
                text,
                intent.domain,
                resolver=resolver,
                keep=intent.keep,
                lookup_budget=intent.lookup_budget,
            )
            label = f"example:{config_path.parent.name}:{intent.domain}"
            outputs.append(Output(label, intent.domain, text, upstream, result, keep=intent.keep))
    return outputs


def _drawn(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` draws of ``strategy``, the same on every run (derandomized, no database)."""
    drawn: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


_NAME = re.compile(r"(?<![\w.-])([a-z0-9-]+)\.example(?![\w-])")


def _relabel(text: str, label: str) -> str:
    return _NAME.sub(rf"\1.{label}.example", text)


def _relabelled(zone: Mapping[str, Any], label: str) -> Zonedata:
    """``zone`` with every ``x.example`` name, as owner or in a record, ``x.LABEL.example``."""
    dumped = json.dumps(dict(zone))
    loaded: Zonedata = json.loads(_relabel(dumped, label))
    return loaded


def property_outputs(count: int = PROPERTY_EXAMPLES) -> tuple[list[Output], int]:
    """Outputs of the property tests' strategies, and how many draws were refused."""
    cases: list[tuple[str, str, Zonedata, int, tuple[str, ...]]] = []
    portable = st.tuples(test_portable.intents(), st.sampled_from([512, 1232, 4096]))
    for index, ((text, zone), max_answer) in enumerate(_drawn(portable, count)):
        label = f"p{index}"
        cases.append((label, text, zone, max_answer, ()))
    for index, (text, zone, probes) in enumerate(_drawn(test_flatten_properties.zones(), count)):
        cases.append((f"t{index}", text, zone, 512, tuple(probes)))
    outputs: list[Output] = []
    refused = 0
    for label, text, zone, max_answer, probes in cases:
        domain = f"{label}.example.com"
        intent = _relabel(text, label)
        upstream = _relabelled(zone, label)
        resolver = spfmanager.SnapshotResolver(upstream)
        try:
            result = spfmanager.flatten(intent, domain, resolver=resolver, max_answer=max_answer)
        except FlattenError:
            refused += 1  # refusing is always allowed; there is nothing published to check
            continue
        outputs.append(Output(f"property:{label}", domain, intent, upstream, result, probes))
    return outputs, refused


# -- zones ----------------------------------------------------------------------------------


def merged_zones(outputs: Sequence[Output]) -> list[tuple[Zonedata, list[Output]]]:
    """The outputs' served zones merged into as few zones as their names allow (a name
    two outputs serve differently goes to another zone)."""
    groups: list[tuple[Zonedata, list[Output]]] = []
    for output in outputs:
        for zone, members in groups:
            if _compatible(zone, output.served):
                zone.update(output.served)
                members.append(output)
                break
        else:
            groups.append((dict(output.served), [output]))
    return groups


def _compatible(zone: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    canon: Callable[[Any], str] = lambda value: json.dumps(value, sort_keys=True)  # noqa: E731
    return all(
        canon(zone[name]) == canon(entries) for name, entries in other.items() if name in zone
    )
