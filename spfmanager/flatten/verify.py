"""Prove that published records give every receiver the intent's result for every address.

Three independent checks, all required:

1. The normal forms (:mod:`spfmanager.flatten.decisions`) of the intent and of the published
   records, read back through DNS as a receiver would, are equal: same kept terms in the same
   order and the same result for every IPv4 and IPv6 address range (IPv6 results inside
   ``::ffff:0:0/96`` are unobservable, RFC 7208 5 evaluates such clients as IPv4, and are
   left out).
2. Structure, per receiver profile (:mod:`spfmanager.spf.profiles`): every published record's
   compiled mechanism bytes (:func:`~spfmanager.flatten.pack.record_mechanism_bytes`) fit
   ``max_mechanism_bytes``; no ``/0`` where a profile rejects or misreads it; no ip6 term
   overlapping ``::ffff:0:0/96`` where a profile matches IPv4 clients against ip6 terms.
   Terms kept verbatim from the intent are the intent's own and exempt.
3. Evaluation at probes chosen per *equivalence class of DNS behaviour*, under RFC 7208 and
   every receiver profile. Address-only parts are proven by (1); what can still differ is
   how a term kept verbatim behaves against the published records' limits: a void lookup
   or a lookup overflow inside it may happen for one address family, or for the clients
   whose macro expansions (``exists:%{i}...``) have DNS data, only. So the probes are:

   * ``classes``: when both chains are static (ip4/ip6/include/redirect/all, literal
     targets: :mod:`spfmanager.flatten.deciders`), one address per pair of *evaluation
     classes*, the addresses whose evaluation takes the same path to the same deciding
     record with the same result: the evaluator reads a class alike (same names, same
     lookups), so with (1) it covers every address; tens of evaluations, not hundreds;
   * ``boundaries``: otherwise, every range edge of either normal form (both families);
   * ``reach``: per family, the first address that reaches each kept term;
   * ``listed``: clients whose macro expansions or PTR names are names the resolver can
     list (a snapshot), with their real DNS data;
   * ``mapped``: IPv4 clients written as ``::ffff:a.b.c.d``, when a profile evaluates
     those as IPv6 (libspf2): reported, not proven (see :class:`ProfileDifference`);
   * ``world``: at those addresses, every combination of answers (an A record, or none)
     for the client-dependent ``exists`` names the kept terms query, directly or through
     the records they include: what DNS may answer for *some* client, listed or not.

   At each probe the published records must give, under every profile, the result RFC 7208
   gives the intent evaluated without lookup limits (what the record means). Where a
   profile reads the intent *itself* otherwise than RFC 7208 does (both within their own
   limits), the difference is recorded (:class:`ProfileDifference`) instead of refused, and
   the published records may give that profile's reading of the intent (a term kept
   verbatim reads the same in both), nothing else. The one exception is reported, not
   refused: a profile that evaluates IPv4-mapped clients as IPv6 (libspf2) cannot be
   followed by records whose ip6 terms stay out of ``::ffff:0:0/96`` for Mail::SPF.
   At range edges, evaluations under the profiles are shared between probes with the same
   RFC outcome (see ``_Prover._receivers``); every other probe is evaluated under each.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from itertools import combinations
from typing import Any

from spfmanager.dns.base import Answer, Resolver, RRType, normalize_name
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import DNSTemporaryError, SPFSyntaxError, VerificationError
from spfmanager.flatten.analyze import MAX_NESTING, Analyzer
from spfmanager.flatten.cover import IPV4_MAPPED
from spfmanager.flatten.deciders import (
    Classes,
    class_probes,
    deciders,
    reads_as_rfc7208,
    static_reading,
)
from spfmanager.flatten.decisions import BITS, Decisions, NormalPart, normal_form
from spfmanager.flatten.pack import record_mechanism_bytes
from spfmanager.flatten.program import Opaque
from spfmanager.spf.chain import SlowPath
from spfmanager.spf.evaluate import SPFResult, evaluate, truncate_domain
from spfmanager.spf.limits import MAX_DNS_LOOKUPS, MAX_VOID_LOOKUPS
from spfmanager.spf.macros import MacroString, bind_letter, expand
from spfmanager.spf.parser import parse_record
from spfmanager.spf.profiles import PROFILES, RECEIVER_PROFILES, RFC7208, Profile
from spfmanager.spf.ranges import Segment, merge_adjacent, merge_ranges
from spfmanager.spf.results import Cause, Result
from spfmanager.spf.select import select_record
from spfmanager.spf.terms import (
    IP4,
    IP6,
    MX,
    A,
    All,
    Exists,
    Include,
    Mechanism,
    Ptr,
    Record,
    Redirect,
)

UNLIMITED = 1_000_000
MAX_WORLD_NAMES = 4  # client-dependent exists names combined exhaustively (2^4 worlds)
MAX_LISTED = 64  # listed-name classes evaluated (a snapshot may list many)
EXAMPLES = 5  # addresses kept per profile difference
WORLD_ADDRESS = IPv4Address("127.0.0.2")  # what an answered exists name resolves to
# Macro letters verification can expand itself for a chosen client (not %{p}: it needs the
# client's validated PTR names, found through DNS; those clients are found as listed names).
_EXPANDABLE = frozenset("slodivh")
_IPAddress = IPv4Address | IPv6Address
CLASSES_DETAIL = "one address per evaluation class (deciding records and path, result)"


@dataclass(frozen=True)
class ProbeClass:
    """One equivalence class of DNS behaviour the proof evaluated."""

    family: int  # 4 or 6
    kind: str  # boundaries, reach, world, listed
    detail: str  # for people: which kept term, which names answered
    points: int  # probes evaluated for it

    @property
    def data(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "kind": self.kind,
            "detail": self.detail,
            "points": self.points,
        }


@dataclass(frozen=True)
class ProfileDifference:
    """Receivers of ``profiles`` read the *intent* otherwise than RFC 7208 at some addresses.

    ``result``/``reason`` are what those receivers get from the intent, ``rfc_result`` what
    RFC 7208 gives it (both within their limits), ``published_result`` what those receivers
    get from the published records (the RFC reading when flattening removed the cause).
    """

    profiles: tuple[str, ...]
    result: Result
    cause: Cause
    reason: str  # the first seen
    rfc_result: Result
    published_result: Result
    addresses: tuple[str, ...]  # examples, at most EXAMPLES
    count: int  # probes where it was seen
    # At IPv4-mapped clients (::ffff:a.b.c.d) that these receivers evaluate as IPv6: the
    # published records cannot follow them (their ip6 terms stay out of ::ffff:0:0/96, as
    # Mail::SPF matches ip6 terms against every IPv4 client), so this is reported only.
    mapped_clients: bool = False

    @property
    def data(self) -> dict[str, Any]:
        return {
            "profiles": list(self.profiles),
            "mapped_clients": self.mapped_clients,
            "result": self.result.value,
            "cause": self.cause.value,
            "reason": self.reason,
            "rfc_result": self.rfc_result.value,
            "published_result": self.published_result.value,
            "addresses": list(self.addresses),
            "count": self.count,
            "sentence": self.sentence,
        }

    @property
    def sentence(self) -> str:
        """For people: "receivers using pyspf or Mail::SPF: permerror — <why> ..."."""
        names = [PROFILES[n].title.split(" (")[0] if n in PROFILES else n for n in self.profiles]
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        where = ", ".join(self.addresses[:3])
        clients = "IPv4-mapped clients such as" if self.mapped_clients else "e.g."
        published = (
            "the published records give them the same"
            if self.published_result is self.result
            else f"the published records give them {self.published_result.value}"
        )
        return (
            f"receivers using {who}: {self.result.value} — {self.reason} (RFC 7208 gives "
            f"{self.rfc_result.value}; {clients} {where}); {published}"
        )


@dataclass(frozen=True)
class Proof:
    """What was checked."""

    ranges_compared: int
    points_evaluated: int
    published_lookups: int  # the most lookups any evaluated point needed
    classes: tuple[ProbeClass, ...] = ()  # the equivalence classes evaluated
    profiles: tuple[str, ...] = ()  # the profiles the published records were checked under
    profile_differences: tuple[ProfileDifference, ...] = ()
    mechanism_bytes: int = 0  # the most compiled mechanism bytes of any published record
    profile_points: int = 0  # of the points, those evaluated under the receiver profiles

    @property
    def data(self) -> dict[str, Any]:
        return {
            "ranges_compared": self.ranges_compared,
            "points_evaluated": self.points_evaluated,
            "published_lookups": self.published_lookups,
            "classes": [c.data for c in self.classes],
            "profiles": list(self.profiles),
            "profile_differences": [d.data for d in self.profile_differences],
            "mechanism_bytes": self.mechanism_bytes,
            "profile_points": self.profile_points,
        }


def verify(
    intent: Record,
    domain: str,
    published: Mapping[str, Sequence[str]],
    resolver: Resolver,
    *,
    keep: Iterable[str] = (),
    max_lookups: int = 10,
    points: bool = True,
    intent_form: list[NormalPart] | None = None,
    profiles: Sequence[Profile] = RECEIVER_PROFILES,
) -> Proof:
    """Raise VerificationError unless ``published`` (name -> TXT strings) equals ``intent``
    for RFC 7208 and every profile of ``profiles``.

    ``points=False`` skips the evaluator (for an encoding already proven; the structural
    checks still run); ``intent_form`` passes the intent's normal form when the caller has
    it already.
    """
    keep = frozenset(keep)
    if intent_form is None:
        intent_form = normal_form(Analyzer(resolver, keep=keep).analyze(intent, domain))
    live = OverlayResolver(resolver, {name: [list(strings)] for name, strings in published.items()})
    published_form = normal_form(Analyzer(live, keep=keep).analyze_domain(domain))
    compare_forms(intent_form, published_form)
    ranges = sum(
        len(p.segments(v)) for p in intent_form if isinstance(p, Decisions) for v in (4, 6)
    )
    checked = (RFC7208, *(p for p in profiles if p != RFC7208))
    kept = {p.term.render() for p in intent_form if isinstance(p, Opaque)}
    most_bytes = check_structure(domain, published, checked, kept=kept)
    names = tuple(p.name for p in checked)
    if not points:
        return Proof(ranges, 0, 0, profiles=names, mechanism_bytes=most_bytes)
    dynamic = any(isinstance(p, Opaque) for p in published_form)
    evaluation_classes = None
    static: tuple[Classes, Classes] | None = None
    if not dynamic:
        budgets = [p.max_mechanism_bytes for p in checked if p.max_mechanism_bytes is not None]
        most = min(budgets, default=None)
        as_intent = OverlayResolver(resolver, {domain: [[intent.render()]]})
        intent_classes = deciders(domain, as_intent, max_mechanism_bytes=most)
        published_classes = deciders(domain, live, max_mechanism_bytes=most)
        if intent_classes is not None and published_classes is not None:
            evaluation_classes = class_probes(intent_classes.partition, published_classes.partition)
            static = (intent_classes, published_classes)
    prover = _Prover(
        intent, domain, resolver, published, checked, max_lookups, dynamic=dynamic, static=static
    )
    classes: list[ProbeClass] = []
    mapped = any(p.mapped_client_is_ipv6 for p in checked)
    planned = plan_probes(
        intent_form,
        published_form,
        resolver,
        domain,
        mapped_clients=mapped,
        classes=evaluation_classes,
    )
    for probe_class, probes in planned:
        for probe in probes:
            prover.check(probe, probe_class)
        classes.append(dataclasses.replace(probe_class, points=len(probes)))
    return Proof(
        ranges,
        prover.points,
        prover.most_lookups,
        classes=tuple(classes),
        profiles=names,
        profile_differences=prover.differences(),
        mechanism_bytes=most_bytes,
        profile_points=prover.profile_points,
    )


# -- 1. normal forms ------------------------------------------------------------------------


def compare_forms(intent: Sequence[NormalPart], published: Sequence[NormalPart]) -> None:
    """Raise VerificationError unless the two normal forms are equal (observable results)."""
    intent, published = _observable(intent), _observable(published)
    if len(intent) != len(published):
        raise VerificationError(
            f"published records have {len(published)} parts where the intent has {len(intent)}"
        )
    for index, (want, got) in enumerate(zip(intent, published, strict=True)):
        if isinstance(want, Opaque) or isinstance(got, Opaque):
            same = (
                isinstance(want, Opaque)
                and isinstance(got, Opaque)
                and want.term.render() == got.term.render()
            )
            if not same:
                raise VerificationError(f"part {index + 1}: kept terms differ: {want} / {got}")
            continue
        for version in (4, 6):
            if want.segments(version) != got.segments(version):
                first = _first_difference(want, got, version)
                raise VerificationError(f"IPv{version} results differ from the intent at {first}")


def _observable(form: Sequence[NormalPart]) -> list[NormalPart]:
    """The form without IPv6 results in ::ffff:0:0/96 (RFC 7208 5: such clients are IPv4);
    address-only parts left deciding nothing are dropped."""
    out: list[NormalPart] = []
    low, high = IPV4_MAPPED
    for part in form:
        if isinstance(part, Opaque):
            out.append(part)
            continue
        ipv6: list[Segment[Any]] = []
        for s in part.ipv6:
            if s.last < low or s.first > high:
                ipv6.append(s)
                continue
            if s.first < low:
                ipv6.append(Segment(s.first, low - 1, s.value))
            if s.last > high:
                ipv6.append(Segment(high + 1, s.last, s.value))
        masked = Decisions(part.ipv4, tuple(merge_adjacent(ipv6)), part.total)
        if any(s.value is not None for v in (4, 6) for s in masked.segments(v)):
            out.append(masked)
    return out


def _first_difference(want: Decisions, got: Decisions, version: int) -> str:
    for a, b in zip(want.segments(version), got.segments(version), strict=False):
        if a != b:
            return f"{_address(min(a.first, b.first), version)}: {a.value} vs {b.value}"
    return "the end of the address space"


def _address(value: int, version: int) -> _IPAddress:
    return IPv4Address(value) if version == 4 else IPv6Address(value)


# -- 2. structure ---------------------------------------------------------------------------


def check_structure(
    domain: str,
    published: Mapping[str, Sequence[str]],
    profiles: Sequence[Profile],
    *,
    kept: Iterable[str] = (),
) -> int:
    """Raise VerificationError when a profile would misread a published record's shape;
    return the most compiled mechanism bytes of any record. ``kept`` terms (as rendered)
    are the intent's own and exempt from the prefix checks."""
    kept = frozenset(kept)
    most = 0
    for name, strings in published.items():
        try:
            record = parse_record("".join(strings))
        except SPFSyntaxError as exc:
            raise VerificationError(f"{name}: the published record does not parse: {exc}") from None
        size = record_mechanism_bytes(record)
        most = max(most, size)
        for profile in profiles:
            limit = profile.max_mechanism_bytes
            if limit is not None and size > limit:
                raise VerificationError(
                    f"{name}: {size} bytes of compiled mechanisms, over the {limit} that "
                    f"{profile.title} reads (it drops the rest)"
                )
        for mechanism in record.mechanisms:
            if mechanism.render() in kept:
                continue
            for profile in profiles:
                problem = _shape_problem(mechanism, profile)
                if problem:
                    raise VerificationError(f"{name}: {mechanism.render()}: {problem}")
    return most


def _shape_problem(mechanism: Mechanism, profile: Profile) -> str:
    if profile.rejects_zero_prefix and _has_zero_prefix(mechanism):
        return f"a /0 prefix, which {profile.title} rejects"
    if profile.ip6_zero_prefix_is_exact and isinstance(mechanism, IP6) and mechanism.prefix == 0:
        return f"a /0 prefix, which {profile.title} reads as one address"
    if profile.ip6_matches_mapped_ipv4 and isinstance(mechanism, IP6):
        first, last = mechanism.span()
        if first <= IPV4_MAPPED[1] and IPV4_MAPPED[0] <= last:
            return f"overlaps ::ffff:0:0/96, which {profile.title} matches against IPv4 clients"
    return ""


def _has_zero_prefix(mechanism: Mechanism) -> bool:
    if isinstance(mechanism, IP4 | IP6):
        return mechanism.prefix == 0
    if isinstance(mechanism, A | MX):
        return mechanism.cidr4 == 0 or mechanism.cidr6 == 0
    return False


# -- 3. probes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Hypothetical DNS answers for client-dependent names: A records for ``answered``,
    NXDOMAIN for ``void`` (normalized names); everything else as the resolver answers."""

    answered: frozenset[str] = frozenset()
    void: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Probe:
    """One evaluation point: a client address, in the real DNS or in a :class:`World`."""

    address: _IPAddress
    world: World | None = None
    # The evaluation classes (intent's, published records') of a class probe: every
    # address of a class evaluates alike, so its evaluations are shared.
    classes: tuple[object, object] | None = None


def plan_probes(
    intent_form: Sequence[NormalPart],
    published_form: Sequence[NormalPart],
    resolver: Resolver,
    domain: str,
    *,
    mapped_clients: bool = False,
    classes: Mapping[int, Sequence[tuple[int, object, object]]] | None = None,
) -> list[tuple[ProbeClass, list[Probe]]]:
    """The probes of every equivalence class, class by class (see the module docstring);
    ``mapped_clients`` adds IPv4-mapped clients, for profiles that read them as IPv6.
    ``classes`` (:func:`~spfmanager.flatten.deciders.class_probes`) replaces the range
    edges by one address per evaluation class of two static chains."""
    plan: list[tuple[ProbeClass, list[Probe]]] = []
    if classes is not None:
        for version in (4, 6):
            probes = [Probe(_address(a, version), None, (i, p)) for a, i, p in classes[version]]
            if probes:
                plan.append((ProbeClass(version, "classes", CLASSES_DETAIL, 0), probes))
    else:
        edges = sorted(set(_boundaries(intent_form)) | set(_boundaries(published_form)), key=_key)
        for version in (4, 6):
            probes = [Probe(a) for a in edges if a.version == version]
            if probes:
                plan.append((ProbeClass(version, "boundaries", "range edges", 0), probes))
    reach = _reaching(intent_form)
    for (version, rendered), address in reach.items():
        detail = f"first address reaching {rendered}"
        plan.append((ProbeClass(version, "reach", detail, 0), [Probe(address)]))
    if mapped_clients:
        # Receivers that evaluate ::ffff:a.b.c.d clients as IPv6: an IPv4 client of each
        # result, and those reaching kept terms, as such clients (reported only, see
        # ProfileDifference.mapped_clients).
        first: dict[object, int] = {}
        for part in intent_form:
            if isinstance(part, Decisions):
                for segment in part.ipv4:
                    if segment.value is not None:
                        first.setdefault(segment.value, segment.first)
        ipv4 = [*first.values(), *(int(a) for (v, _), a in reach.items() if v == 4)]
        probes = [Probe(IPv6Address(IPV4_MAPPED[0] | a)) for a in dict.fromkeys(ipv4)]
        if probes:
            detail = "IPv4 clients as IPv4-mapped IPv6 addresses"
            plan.append((ProbeClass(6, "mapped", detail, 0), probes))
    kept = [p.term for p in intent_form if isinstance(p, Opaque)]
    if not kept:
        return plan
    dependence = _Dependence(resolver)
    for term in kept:
        dependence.visit(term, domain, 0)
    sender = f"postmaster@{domain}"
    # Real data first: a mismatch is then reported at a client that exists.
    for address, detail in _listed(dependence, resolver, sender, domain):
        plan.append((ProbeClass(address.version, "listed", detail, 0), [Probe(address)]))
    addresses = {v: sorted({a for (f, _), a in reach.items() if f == v}, key=int) for v in (4, 6)}
    templates = dependence.exists_templates
    for version in (4, 6):
        if not templates or not addresses[version]:
            continue
        for answered in _subsets(len(templates)):
            probes = []
            for address in addresses[version]:
                client = _Client(address, sender, domain)
                names = [normalize_name(truncate_domain(expand(t, client))) for t in templates]
                hits = frozenset(names[i] for i in answered)
                probes.append(Probe(address, World(hits, frozenset(names) - hits)))
            said = "; ".join(
                f"exists:{t.render()} {'answered' if i in answered else 'void'}"
                for i, t in enumerate(templates)
            )
            plan.append((ProbeClass(version, "world", said, 0), probes))
    return plan


def _boundaries(form: Sequence[NormalPart]) -> Iterable[_IPAddress]:
    for part in form:
        if isinstance(part, Decisions):
            for version in (4, 6):
                for segment in part.segments(version):
                    yield _address(segment.first, version)
                    yield _address(segment.last, version)


def _key(address: _IPAddress) -> tuple[int, int]:
    return address.version, int(address)


def _reaching(form: Sequence[NormalPart]) -> dict[tuple[int, str], _IPAddress]:
    """Per family and kept term, the first address no earlier part decides (IPv6: outside
    ::ffff:0:0/96, whose clients are IPv4); families fully decided earlier are absent."""
    decided: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    out: dict[tuple[int, str], _IPAddress] = {}
    for part in form:
        if isinstance(part, Decisions):
            for v in (4, 6):
                ranges = [(s.first, s.last) for s in part.segments(v) if s.value is not None]
                decided[v] = merge_ranges([*decided[v], *ranges])
            continue
        for v in (4, 6):
            holes = [IPV4_MAPPED] if v == 6 else []
            first = _first_free(merge_ranges([*decided[v], *holes]), (1 << BITS[v]) - 1)
            if first is not None:
                out[(v, part.term.render())] = _address(first, v)
    return out


def _is_mapped(address: _IPAddress) -> bool:
    return address.version == 6 and IPV4_MAPPED[0] <= int(address) <= IPV4_MAPPED[1]


def _first_free(ranges: list[tuple[int, int]], top: int) -> int | None:
    position = 0
    for first, last in ranges:
        if first > position:
            return position
        position = max(position, last + 1)
    return position if position <= top else None


def _subsets(count: int) -> list[tuple[int, ...]]:
    """Which of ``count`` names answer, world by world: every combination for a few names,
    else none, all, each alone and all but each."""
    if count <= MAX_WORLD_NAMES:
        return [c for size in range(count + 1) for c in combinations(range(count), size)]
    every = tuple(range(count))
    alone = [(i,) for i in every]
    but = [tuple(j for j in every if j != i) for i in every]
    return [(), every, *alone, *but]


class _Client:
    """Macro values for one chosen client of the proof (sender postmaster@domain)."""

    def __init__(self, address: _IPAddress, sender: str, domain: str) -> None:
        self.address = address
        self.sender = sender
        self.domain = domain

    def macro_value(self, letter: str) -> str:
        if letter == "s":
            return self.sender
        if letter == "l":
            return self.sender.rpartition("@")[0]
        if letter in "od":
            return self.sender.rpartition("@")[2] if letter == "o" else self.domain
        if letter == "h":
            return self.domain
        if letter == "v":
            return "in-addr" if self.address.version == 4 else "ip6"
        if letter == "i":
            if self.address.version == 4:
                return str(self.address)
            return ".".join(f"{int(self.address):032x}")
        return "unknown"  # %{p}: only through DNS (listed classes)


class _Dependence:
    """What the kept terms query that depends on the client: found by walking them and the
    records their static include/redirect targets publish."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.exists_templates: list[MacroString] = []  # expandable, %{i}-dependent
        self.client_templates: list[MacroString] = []  # every %{i}/%{p}-dependent target
        self.uses_ptr = False
        self._visited: set[str] = set()

    def visit(self, term: Mechanism | Redirect, domain: str, depth: int) -> None:
        if isinstance(term, Ptr):
            self.uses_ptr = True
        macro = getattr(term, "domain", None)
        if not isinstance(macro, MacroString):
            return
        macro = bind_letter(macro, "d", domain)
        letters = macro.letters
        if "p" in letters:
            self.uses_ptr = True
        if letters & {"i", "p"}:
            if macro not in self.client_templates:
                self.client_templates.append(macro)
            expandable = "i" in letters and letters <= _EXPANDABLE
            if isinstance(term, Exists) and expandable and macro not in self.exists_templates:
                self.exists_templates.append(macro)
            return
        # A sender-dependent target is not followed: the proof's one sender stands for none.
        if isinstance(term, Include | Redirect) and not letters:
            target = normalize_name(truncate_domain(macro.literal_text))
            if target in self._visited or depth >= MAX_NESTING:
                return
            self._visited.add(target)
            record = self._record(target)
            if record is None:
                return
            for mechanism in record.mechanisms:
                self.visit(mechanism, target, depth + 1)
            if record.redirect is not None and not record.has_all:
                self.visit(record.redirect, target, depth + 1)

    def _record(self, name: str) -> Record | None:
        try:
            answer = self.resolver.query(name, RRType.TXT)
        except DNSTemporaryError:
            return None
        record = select_record(answer.records).record
        if record is None:
            return None
        try:
            return parse_record(record.data.decode("ascii"))
        except (UnicodeDecodeError, SPFSyntaxError):
            return None


def _listed(
    dependence: _Dependence, resolver: Resolver, sender: str, domain: str
) -> list[tuple[_IPAddress, str]]:
    """Clients whose client-dependent names are names the resolver lists, with why."""
    templates = [t for t in dependence.client_templates if t.letters <= _EXPANDABLE]
    if not templates and not dependence.uses_ptr:
        return []
    listed = _listed_names(resolver)
    if not listed:
        return []
    known = set(listed)
    found: dict[_IPAddress, str] = {}
    for name in listed:
        for address in _candidates(name):
            if address in found:
                continue
            if dependence.uses_ptr and normalize_name(address.reverse_pointer) == name:
                found[address] = f"PTR {name}"
                continue
            client = _Client(address, sender, domain)
            for template in templates:
                if normalize_name(truncate_domain(expand(template, client))) in known:
                    found[address] = f"{template.render()} -> {name}"
                    break
        if len(found) >= MAX_LISTED:
            break
    return sorted(found.items(), key=lambda item: _key(item[0]))


def _listed_names(resolver: Resolver) -> list[str]:
    """The names a resolver can list (a snapshot, through memo, meter and overlay layers)."""
    seen: set[int] = set()
    current: object = resolver
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = getattr(current, "names", None)
        if callable(names):
            return [normalize_name(str(n)) for n in names()]
        current = getattr(current, "resolver", None) or getattr(current, "base", None)
    return []


_DECIMAL = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")
_NIBBLE = re.compile(r"^[0-9a-f]$")


def _candidates(name: str) -> Iterator[_IPAddress]:
    """Addresses ``name`` may spell: runs of decimal octets or hex nibbles, forward or
    reversed (``%{i}``, ``%{ir}``, PTR names), padded with zeros when shorter (``%{i2r}``)."""
    labels = name.split(".")
    for pattern, width, base, make in (
        (_DECIMAL, 4, 10, _ipv4),
        (_NIBBLE, 32, 16, _ipv6),
    ):
        run: list[str] = []
        for label in [*labels, ""]:
            if pattern.match(label):
                run.append(label)
                continue
            for start in range(len(run)):
                window = [int(x, base) for x in run[start : start + width]]
                pad = [0] * (width - len(window))
                for values in (window, window[::-1]):
                    yield make([*values, *pad])
                    yield make([*pad, *values])
            run = []


def _ipv4(octets: list[int]) -> IPv4Address:
    return IPv4Address(bytes(octets))


def _ipv6(nibbles: list[int]) -> IPv6Address:
    return IPv6Address(int("".join(f"{n:x}" for n in nibbles), 16))


class _WorldResolver:
    """``base`` with a :class:`World`'s A answers."""

    def __init__(self, base: Resolver, world: World) -> None:
        self.base = base
        self.world = world

    def query(self, name: str, rrtype: RRType) -> Answer:
        if rrtype is RRType.A:
            key = normalize_name(name)
            if key in self.world.answered:
                return Answer(name, rrtype, (WORLD_ADDRESS,), ttl=0)
            if key in self.world.void:
                return Answer(name, rrtype, (), nxdomain=True, ttl=0)
        return self.base.query(name, rrtype)


# -- evaluation -----------------------------------------------------------------------------


def _semantics(profile: Profile) -> Profile:
    """The profile without its names: profiles equal here read every record alike."""
    return dataclasses.replace(profile, name="", title="", receivers=(), departures=())


class _Prover:
    """Evaluates intent and published records at probes, under every profile group."""

    def __init__(
        self,
        intent: Record,
        domain: str,
        resolver: Resolver,
        published: Mapping[str, Sequence[str]],
        profiles: Sequence[Profile],
        max_lookups: int,
        *,
        dynamic: bool,
        static: tuple[Classes, Classes] | None = None,
    ) -> None:
        """``static``: both chains' evaluation classes, when they are static. Then the few
        class probes go term by term (an interval table pays off over hundreds of checks),
        and profiles that read such chains alike are one group (:func:`static_reading`)."""
        self.domain = domain
        self.sender = f"postmaster@{domain}"
        self.resolver = resolver
        self.intent_txt = {domain: [[intent.render()]]}
        self.published_txt = {name: [list(s)] for name, s in published.items()}
        self.real: tuple[Resolver, Resolver] = (
            OverlayResolver(resolver, self.intent_txt),
            OverlayResolver(resolver, self.published_txt),
        )
        read: Callable[[Profile], Profile] = _semantics  # profiles it maps alike: one group
        if static is not None:
            self.real = (SlowPath(self.real[0]), SlowPath(self.real[1]))
            plain = static[0].plain_names and static[1].plain_names
            read = functools.partial(static_reading, plain_names=plain)
        self.max_lookups = max_lookups
        groups: dict[Profile, list[Profile]] = {}
        for profile in profiles:
            groups.setdefault(read(profile), []).append(profile)
        reference = read(RFC7208)
        self.groups = [(members[0], tuple(members)) for key, members in groups.items()]
        self.receiver_groups = [
            (members[0], tuple(members)) for key, members in groups.items() if key != reference
        ]
        self.dynamic = dynamic
        self.points = 0
        self.profile_points = 0  # probes evaluated under the receiver profiles
        self.most_lookups = 0
        self._seen: set[Probe] = set()
        self._published_seen: set[tuple[Any, ...]] = set()
        self._read_seen: set[tuple[Any, ...]] = set()
        self._published_results: dict[tuple[Any, ...], SPFResult] = {}
        self._differences: dict[tuple[Any, ...], list[Any]] = {}
        self.static = static  # the two chains' evaluation classes, when both are static
        self._classes: tuple[object, object] | None = None  # of the probe being checked
        self._by_class: dict[tuple[Any, ...], SPFResult] = {}

    def check(self, probe: Probe, probe_class: ProbeClass) -> None:
        if probe in self._seen:
            return
        self._seen.add(probe)
        self.points += 1
        if probe.world is None:
            as_intent, live = self.real
        else:
            base = _WorldResolver(self.resolver, probe.world)
            as_intent = OverlayResolver(base, self.intent_txt)
            live = OverlayResolver(base, self.published_txt)
        self._classes = probe.classes
        meaning = self._evaluate(probe.address, as_intent, RFC7208, UNLIMITED, UNLIMITED)
        actual = self._evaluate(probe.address, live, RFC7208, self.max_lookups, MAX_VOID_LOOKUPS)
        self.most_lookups = max(self.most_lookups, actual.lookups)
        if actual.result is not meaning.result:
            self._classes = None  # the reasons at this very address
            meaning = self._evaluate(probe.address, as_intent, RFC7208, UNLIMITED, UNLIMITED)
            actual = self._evaluate(
                probe.address, live, RFC7208, self.max_lookups, MAX_VOID_LOOKUPS
            )
            raise VerificationError(
                f"{self.domain}: published records give {actual.result.value} for "
                f"{probe.address}{_where(probe, probe_class)} ({actual.reason}) where the intent "
                f"gives {meaning.result.value} ({meaning.reason})"
            )
        self._receivers(probe, probe_class, as_intent, live, meaning, actual)

    def _receivers(
        self,
        probe: Probe,
        probe_class: ProbeClass,
        as_intent: Resolver,
        live: Resolver,
        meaning: SPFResult,
        actual: SPFResult,
    ) -> None:
        """Check the probe under each receiver profile group; record how they read the intent.

        Range edges share evaluations. When the published records keep no term verbatim,
        their reading under a profile is evaluated once per RFC outcome (family, result,
        and lookups: the chain position): the records are then ip4/ip6 terms, one final
        ``all`` or ``redirect=`` and the links, and :func:`check_structure` has excluded
        every shape of term a profile matches otherwise, so an address's reading depends
        on which record decides it and with which result only. A profile's reading of the
        intent is evaluated once per RFC outcome of the intent (family, deciding top-level
        term, result, lookups): a sample, for the differences it reports, not for the proof.
        Every other probe is evaluated under every profile.
        """
        family = "mapped" if _is_mapped(probe.address) else probe.address.version
        # Class probes: where a chain is read by every receiver as RFC 7208 reads it,
        # its readings under the profiles are the RFC's (checked above), not evaluated.
        intent_as_rfc = published_as_rfc = False
        if probe.classes is not None and self.static is not None and family != "mapped":
            mine, theirs = self.static
            intent_as_rfc = reads_as_rfc7208(mine, meaning.lookups, meaning.void_lookups)
            published_as_rfc = reads_as_rfc7208(theirs, actual.lookups, actual.void_lookups)
            if intent_as_rfc and published_as_rfc:
                return
        every = probe_class.kind not in ("boundaries", "classes")
        pub_key = (family, actual.result, actual.cause, actual.lookups, actual.void_lookups)
        read_key: tuple[Any, ...] = (
            family,
            meaning.mechanism,
            meaning.result,
            meaning.cause,
            # Class probes sample a profile's reading of the intent once per deciding
            # top-level term, within or past the limit (range edges: per lookup count).
            meaning.lookups > MAX_DNS_LOOKUPS if probe.classes is not None else meaning.lookups,
        )
        evaluate_published = every or self.dynamic or pub_key not in self._published_seen
        read_intent = every or read_key not in self._read_seen
        self._published_seen.add(pub_key)
        self._read_seen.add(read_key)
        if evaluate_published or read_intent:
            self.profile_points += 1
        intent_rfc: SPFResult | None = None
        for index, (profile, members) in enumerate(self.receiver_groups):
            if (
                probe_class.kind == "mapped"
                and self.static is not None
                and not profile.mapped_client_is_ipv6
            ):
                # A static chain's mapped client, for a receiver reading it as IPv4 as
                # RFC 7208 does: the IPv4 class probes have covered it.
                continue
            lookups = min(self.max_lookups, profile.max_lookups)
            voids = UNLIMITED if profile.max_void_lookups is None else profile.max_void_lookups
            if published_as_rfc:
                got = actual
            elif evaluate_published:
                got = self._evaluate(probe.address, live, profile, lookups, voids)
                self._published_results[(index, pub_key)] = got
            else:
                got = self._published_results[(index, pub_key)]
            if not read_intent and got.result is meaning.result:
                continue
            if intent_as_rfc:
                read = intent_rfc = meaning
            else:
                read = self._evaluate(probe.address, as_intent, profile, profile.max_lookups, voids)
            if intent_rfc is None:
                intent_rfc = self._within_limits(probe.address, as_intent, meaning)
            differs = read.result is not intent_rfc.result
            mapped = profile.mapped_client_is_ipv6 and _is_mapped(probe.address)
            if differs or (mapped and got.result is not meaning.result):
                self._record(members, read, intent_rfc, got, probe.address, mapped=mapped)
            if got.result is meaning.result or (differs and got.result is read.result):
                continue
            if mapped:
                continue  # reported: no portable record can follow it
            who = " or ".join(p.title for p in members)
            raise VerificationError(
                f"{self.domain}: receivers using {who}: published records give "
                f"{got.result.value} for {probe.address}{_where(probe, probe_class)} "
                f"({got.reason}) where the intent gives {meaning.result.value} "
                f"({meaning.reason})"
            )

    def _evaluate(
        self, address: _IPAddress, resolver: Resolver, profile: Profile, lookups: int, voids: int
    ) -> SPFResult:
        classes = self._classes
        if classes is not None and resolver in self.real:
            side = self.real.index(resolver)
            key = (side, classes[side], id(profile), lookups, voids)
            known = self._by_class.get(key)
            if known is None:
                self._classes = None
                known = self._by_class[key] = self._evaluate(
                    address, resolver, profile, lookups, voids
                )
                self._classes = classes
            return known
        return evaluate(
            address,
            self.sender,
            self.domain,
            resolver=resolver,
            max_lookups=lookups,
            max_void_lookups=voids,
            profile=profile,
        )

    def _within_limits(
        self, address: _IPAddress, as_intent: Resolver, meaning: SPFResult
    ) -> SPFResult:
        """The intent as RFC 7208 receivers read it, within the limits: the evaluation
        without limits when it stayed within them (it is then the same evaluation)."""
        if meaning.lookups <= MAX_DNS_LOOKUPS and meaning.void_lookups <= MAX_VOID_LOOKUPS:
            return meaning
        return self._evaluate(address, as_intent, RFC7208, MAX_DNS_LOOKUPS, MAX_VOID_LOOKUPS)

    def _record(
        self,
        members: tuple[Profile, ...],
        read: SPFResult,
        rfc: SPFResult,
        published: SPFResult,
        address: _IPAddress,
        *,
        mapped: bool,
    ) -> None:
        key = (members, read.result, read.cause, rfc.result, published.result, mapped)
        entry = self._differences.setdefault(key, [read.reason, [], 0])
        if len(entry[1]) < EXAMPLES:
            entry[1].append(str(address))
        entry[2] += 1

    def differences(self) -> tuple[ProfileDifference, ...]:
        return tuple(
            ProfileDifference(
                profiles=tuple(p.name for p in members),
                result=result,
                cause=cause,
                reason=reason,
                rfc_result=rfc_result,
                published_result=published_result,
                addresses=tuple(addresses),
                count=count,
                mapped_clients=mapped,
            )
            for (members, result, cause, rfc_result, published_result, mapped), (
                reason,
                addresses,
                count,
            ) in self._differences.items()
        )


def _where(probe: Probe, probe_class: ProbeClass) -> str:
    if probe_class.kind == "boundaries":
        return ""
    return f" ({probe_class.kind}: {probe_class.detail})"


def verify_chain(
    domain: str,
    published: Mapping[str, str],
    terms: Sequence[Mechanism],
    final_redirect: Redirect | None,
) -> None:
    """Structural proof: the root and its ``redirect=`` chain, read in order, hold exactly
    ``terms`` and end with ``final_redirect`` (a redirect is a tail call, so a chain means
    what its concatenated terms mean). Every published record must be on the chain, and
    each fit every receiver profile (:func:`check_structure`; the chain names differ per
    domain, so the records' compiled sizes do).
    """
    expected = [t.render() for t in terms]
    found: list[str] = []
    name, visited, tail = domain, [domain], None
    while True:
        if name not in published:
            raise VerificationError(f"{domain}: the chain names {name}, which is not published")
        record = parse_record(published[name])
        found += [m.render() for m in record.mechanisms]
        redirect = record.redirect
        target = None if redirect is None or record.has_all else redirect.domain.render()
        if target is None or target not in published:
            tail = None if redirect is None or record.has_all else redirect.render()
            break
        if target in visited:
            raise VerificationError(f"{domain}: the chain loops at {target}")
        visited.append(target)
        name = target
    if found != expected or tail != (None if final_redirect is None else final_redirect.render()):
        raise VerificationError(f"{domain}: the published chain does not hold the proven terms")
    if set(visited) != set(published):
        stray = ", ".join(sorted(set(published) - set(visited)))
        raise VerificationError(f"{domain}: records not on the chain: {stray}")
    kept = {t.render() for t in terms if not isinstance(t, IP4 | IP6 | All)}  # the intent's
    strings = {name: [text] for name, text in published.items()}
    check_structure(domain, strings, (RFC7208, *RECEIVER_PROFILES), kept=kept)
