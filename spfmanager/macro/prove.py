"""The proof of macro mode: receivers reading the generated data get the intent's result.

The served data is either the rbldnsd dataset *text* or the wildcard records
(:mod:`spfmanager.macro.records`), read back as a server would (:func:`served_resolver`):
:class:`DatasetResolver` with rbldnsd's semantics (the deepest subzone; a reversed IPv4 of
exactly four octets or an IPv6 of exactly 32 nibbles, else NXDOMAIN; the longest matching
prefix; TXT cut at 255 bytes; no match: NXDOMAIN), :class:`RecordsResolver` with RFC 4592's
(the closest encloser's wildcard). What is proven is what was written, not the plan it came
from; the live tests check that rbldnsd, BIND and PowerDNS answer alike.

At every probe the bundled evaluator, resolving the root record and the served data exactly as
a receiver does, must give under RFC 7208 and under every receiver profile
(:mod:`spfmanager.spf.profiles`), within that profile's own lookup limits, the result
RFC 7208 gives the intent without limits (what the record means). The probes are those of
the flattener's proof (:func:`spfmanager.flatten.verify.plan_probes`: every range edge of
the intent's partition in both families, the first address reaching each kept term, IPv4
clients as IPv4-mapped IPv6 addresses, and the DNS worlds of client-dependent ``exists``
names), plus each edge's neighbours (±1) and both ends of every CIDR entry of the dataset
and their neighbours: a CIDR split wrong shows at one of them. For records, also both ends
of every address run one record answers (:func:`~spfmanager.macro.records.answer_edges`):
every record, ancestor wildcards included, is read at both ends of each of its runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from typing import Any

from spfmanager.dns.base import Answer, Resolver, RRType, TXTRecord, in_zone, normalize_name
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import MacroError, VerificationError
from spfmanager.flatten.verify import Probe, World, plan_probes
from spfmanager.spf.evaluate import SPFResult, evaluate
from spfmanager.spf.profiles import RECEIVER_PROFILES, RFC7208, Profile
from spfmanager.spf.results import Result
from spfmanager.spf.terms import Record

from .records import RecordsResolver, answer_edges
from .zone import A_VALUE, MAX_ANSWER, MacroRecord

Served = str | Mapping[str, str]  # an rbldnsd dataset's text, or owner name -> TXT records

UNLIMITED = 1_000_000
_IPAddress = IPv4Address | IPv6Address
_BITS = {4: 32, 6: 128}


@dataclass
class _Trie:
    version: int
    by_prefix: dict[int, dict[int, str]] = field(default_factory=dict)  # len -> net -> TXT

    def add(self, network: IPv4Network | IPv6Network, text: str) -> None:
        self.by_prefix.setdefault(network.prefixlen, {})[int(network.network_address)] = text

    def lookup(self, address: int) -> str | None:
        bits = _BITS[self.version]
        for prefix in sorted(self.by_prefix, reverse=True):
            mask = ((1 << prefix) - 1) << (bits - prefix) if prefix else 0
            text = self.by_prefix[prefix].get(address & mask)
            if text is not None:
                return text
        return None


class DatasetResolver:
    """Answers the macro zone from an rbldnsd ``combined`` dataset, other names from ``base``.

    Raises MacroError for a dataset it cannot read, or one without ``$SOA`` or ``$NS``.
    """

    def __init__(self, base: Resolver, dataset: str, zone: str) -> None:
        self.base = base
        self.zone = normalize_name(zone)
        self.tries: dict[str, _Trie] = {}
        self.queries = 0  # of the macro zone
        specials = set()
        current: _Trie | None = None
        for number, raw in enumerate(dataset.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("$"):
                word, *rest = line.split()
                specials.add(word)
                if word == "$DATASET":
                    kind = rest[0].split(":", 1)[0]
                    if kind not in ("ip4trie", "ip6trie"):
                        raise MacroError(f"dataset line {number}: {kind} is not a trie")
                    current = _Trie(4 if kind == "ip4trie" else 6)
                    for name in rest[1:]:
                        self.tries[normalize_name(name)] = current
                continue
            if current is None:
                raise MacroError(f"dataset line {number}: an entry outside any $DATASET")
            cidr, _, value = line.partition(" ")
            value = value.strip()
            if not value.startswith(":") or value.count(":") < 2:
                raise MacroError(f"dataset line {number}: no :A:TXT value")
            text = value.split(":", 2)[2]
            network = ip_network(cidr)
            if network.version != current.version:
                raise MacroError(f"dataset line {number}: IPv{network.version} in the wrong trie")
            current.add(network, text)
        missing = {"$SOA", "$NS"} - specials
        if missing:
            raise MacroError(f"the dataset has no {' or '.join(sorted(missing))} line")

    def query(self, name: str, rrtype: RRType) -> Answer:
        key = normalize_name(name)
        if not in_zone(key, self.zone):
            return self.base.query(name, rrtype)
        self.queries += 1
        relative = key[: -len(self.zone) - 1] if key != self.zone else ""
        found = self._subzone(relative)
        if found is None:
            # The base zone itself, or a name no subzone holds.
            return Answer(name, rrtype, nxdomain=bool(relative))
        sub, trie = found
        address = (
            _address(relative[: -len(sub)].rstrip("."), trie.version) if relative != sub else None
        )
        if address is None:
            return Answer(name, rrtype, nxdomain=relative != sub)
        text = trie.lookup(address)
        if text is None:
            return Answer(name, rrtype, nxdomain=True)
        if rrtype is RRType.TXT:
            record = TXTRecord((text.encode("ascii")[:MAX_ANSWER],))
            return Answer(name, rrtype, (record,))
        if rrtype is RRType.A:
            return Answer(name, rrtype, (IPv4Address(A_VALUE),))
        return Answer(name, rrtype)

    def _subzone(self, relative: str) -> tuple[str, _Trie] | None:
        """The deepest subzone holding ``relative`` (rbldnsd consults that one only)."""
        labels = relative.split(".") if relative else []
        for start in range(len(labels)):
            candidate = ".".join(labels[start:])
            if candidate in self.tries:
                return candidate, self.tries[candidate]
        return None


def _address(labels: str, version: int) -> int | None:
    parts = labels.split(".") if labels else []
    if version == 4:
        if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 for p in parts):
            return None
        return int(IPv4Address(".".join(reversed(parts))))
    digits = "0123456789abcdef"
    if len(parts) != 32 or not all(len(p) == 1 and p in digits for p in parts):
        return None
    return int("".join(reversed(parts)), 16)


def served_resolver(base: Resolver, served: Served, zone: str) -> Resolver:
    """A resolver answering ``zone`` from ``served`` as its server would (rbldnsd for a
    dataset text, RFC 4592 for records), other names from ``base``."""
    if isinstance(served, str):
        return DatasetResolver(base, served, zone)
    return RecordsResolver(base, served, zone)


class _WorldResolver:
    """A hypothetical DNS for client-dependent names (see :class:`World`)."""

    def __init__(self, base: Resolver, world: World) -> None:
        self.base = base
        self.world = world

    def query(self, name: str, rrtype: RRType) -> Answer:
        key = normalize_name(name)
        if key in self.world.answered:
            found = (IPv4Address("127.0.0.2"),) if rrtype is RRType.A else ()
            return Answer(name, rrtype, found)
        if key in self.world.void:
            return Answer(name, rrtype, nxdomain=True)
        return self.base.query(name, rrtype)


@dataclass(frozen=True)
class MacroProof:
    """What the proof checked for one domain."""

    domain: str
    probes: int  # addresses (and DNS worlds) evaluated
    evaluations: int  # evaluations of the published records, all profiles
    profiles: tuple[str, ...]
    most_lookups: int  # the most DNS-querying terms one published evaluation needed
    results: Mapping[str, int]  # probes per intent result

    @property
    def data(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "probes": self.probes,
            "evaluations": self.evaluations,
            "profiles": list(self.profiles),
            "most_lookups": self.most_lookups,
            "results": dict(self.results),
        }


def prove(
    intent: Record,
    record: MacroRecord,
    served: Served,
    resolver: Resolver,
    *,
    profiles: Sequence[Profile] = RECEIVER_PROFILES,
) -> MacroProof:
    """Raise VerificationError unless ``record``'s root and ``served`` (the dataset text or
    the records) give every probe the result RFC 7208 gives ``intent`` (upstream through
    ``resolver``), under RFC 7208 and each of ``profiles``."""
    domain = record.domain
    sender = f"postmaster@{domain}"
    as_intent = OverlayResolver(resolver, {domain: [[intent.render()]]})
    published = served_resolver(
        OverlayResolver(resolver, {domain: [[record.root]]}), served, record.zone
    )
    checked = (RFC7208, *(p for p in profiles if p != RFC7208))
    evaluations = 0
    most = 0
    results: dict[str, int] = {}
    probes = list(_probes(record, served, resolver))
    for probe in probes:
        if probe.world is None:
            meaning_dns: Resolver = as_intent
            live: Resolver = published
        else:
            meaning_dns = _WorldResolver(as_intent, probe.world)
            live = _WorldResolver(published, probe.world)
        meaning = evaluate(
            probe.address,
            sender,
            domain,
            resolver=meaning_dns,
            max_lookups=UNLIMITED,
            max_void_lookups=UNLIMITED,
        )
        results[meaning.result.value] = results.get(meaning.result.value, 0) + 1
        for profile in checked:
            got = evaluate(probe.address, sender, domain, resolver=live, profile=profile)
            evaluations += 1
            most = max(most, got.lookups)
            if got.result is not meaning.result:
                raise VerificationError(_mismatch(domain, probe, profile, got, meaning))
    return MacroProof(
        domain, len(probes), evaluations, tuple(p.name for p in checked), most, results
    )


def _mismatch(
    domain: str, probe: Probe, profile: Profile, got: SPFResult, meaning: SPFResult
) -> str:
    world = "" if probe.world is None else " (in a DNS world of its exists names)"
    return (
        f"{domain}: macro mode gives {got.result.value} for {probe.address}{world} under "
        f"{profile.title} ({got.reason}) where the intent gives {meaning.result.value} "
        f"({meaning.reason})"
    )


def _probes(record: MacroRecord, served: Served, resolver: Resolver) -> Iterator[Probe]:
    """The flattener's probes, the neighbours of each edge, every dataset entry's ends and,
    for records, every existing node's ends."""
    form = list(record.intent_form)
    seen: set[Probe] = set()
    planned = plan_probes(form, form, resolver, record.domain, mapped_clients=True)
    edges: set[_IPAddress] = set()
    for _, probes in planned:
        for probe in probes:
            if probe.world is None:
                edges.add(probe.address)
            yield from _once(seen, probe)
    for sub in record.subzones:
        for entry in sub.entries:
            edges.add(entry.network.network_address)
            edges.add(entry.network.broadcast_address)
    for address in sorted(edges, key=lambda a: (a.version, int(a))):
        for step in (-1, 0, 1):
            value = int(address) + step
            if 0 <= value < (1 << _BITS[address.version]):
                kind = IPv4Address if address.version == 4 else IPv6Address
                yield from _once(seen, Probe(kind(value)))
    if not isinstance(served, str):
        runs = {
            a
            for sub in record.subzones
            for a in answer_edges(served, sub.name, sub.version, record.zone)
        }
        for address in sorted(runs, key=lambda a: (a.version, int(a))):
            yield from _once(seen, Probe(address))


def _once(seen: set[Probe], probe: Probe) -> Iterator[Probe]:
    bare = Probe(probe.address, probe.world)
    if bare not in seen:
        seen.add(bare)
        yield bare


def expected_results(
    intent: Record, domain: str, resolver: Resolver, addresses: Sequence[_IPAddress]
) -> dict[str, Result]:
    """RFC 7208's result for the intent at each address (for tests against live receivers)."""
    as_intent = OverlayResolver(resolver, {domain: [[intent.render()]]})
    sender = f"postmaster@{domain}"
    return {
        str(a): evaluate(
            a, sender, domain, resolver=as_intent, max_lookups=UNLIMITED, max_void_lookups=UNLIMITED
        ).result
        for a in addresses
    }


def probe_addresses(record: MacroRecord, served: Served, resolver: Resolver) -> list[_IPAddress]:
    """The client addresses the proof evaluates for ``served`` (without DNS worlds)."""
    return list(
        dict.fromkeys(p.address for p in _probes(record, served, resolver) if p.world is None)
    )
