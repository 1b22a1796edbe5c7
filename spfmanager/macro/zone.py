"""From an intent's address partition to a macro root record and an rbldnsd ``combined`` dataset.

The intent is read by the flattener's analysis (:mod:`spfmanager.flatten.analyze`) into its
normal form (:mod:`spfmanager.flatten.decisions`): address-only parts giving each address
range a result, and terms kept as written (``ptr``, ``exists`` with macros, ``keep``) in
between. Each address-only part becomes one macro term of the root record, answered per
client address by one ``ip4trie`` and one ``ip6trie`` subzone (longest prefix wins: one
answer per client, never two SPF records as an ``ip4set`` bucket could give):

* **include form**, when the part gives one result ``r`` to the addresses it decides and
  (the last, total part) one other result ``s`` to every other address: the term is
  ``<r>include:%{ir}.%{v}.%{d}.<zone>`` (then ``<s>all``); the subzones answer
  ``v=spf1 +all`` for the ``r`` ranges (the include matches) and ``v=spf1 -all`` for
  every other address (0/0, ::/0: the include does not match; a name without an SPF
  record would be a permerror, RFC 7208 5.2);
* **redirect form**, when the last part gives three or more results (say ``~ip4:`` ranges
  inside a ``-all`` record): ``redirect=%{ir}.%{v}.%{d}.<zone>``, the subzones answering
  ``v=spf1 <q>all`` with each range's own result and the family's most common result at
  0/0 and ::/0;
* a part deciding one result for every address needs no lookup: ``<q>all``.

Anything else is refused with a :class:`MacroError` naming the reason: addresses that get
an error (a broken upstream), or two results among addresses before a kept term. The IPv6
tries also answer for IPv4-mapped clients (``::ffff:a.b.c.d``) what the IPv4 trie answers,
so a receiver that evaluates such a client as IPv6 (libspf2) gets the IPv4 result RFC 7208
gives it (section 5).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    summarize_address_range,
)

from spfmanager.compile import Intent
from spfmanager.dns.base import Resolver, normalize_name
from spfmanager.errors import MacroError
from spfmanager.flatten.analyze import Analyzer
from spfmanager.flatten.cover import IPV4_MAPPED
from spfmanager.flatten.decisions import Decided, Decisions, NormalPart, normal_form
from spfmanager.flatten.program import Opaque
from spfmanager.spf.limits import MAX_DNS_LOOKUPS
from spfmanager.spf.ranges import Segment, merge_adjacent
from spfmanager.spf.results import Qualifier, Result

from .names import check_names, domain_spec, owner_of, subzone

DEFAULT_TTL = 300
A_VALUE = "127.0.0.2"  # the A record rbldnsd serves with each entry (SPF never asks)
MAX_ANSWER = 255  # rbldnsd cuts TXT records there (and drops answers over 512 bytes)
_ADDRESSABLE = (Result.PASS, Result.FAIL, Result.SOFTFAIL, Result.NEUTRAL)
_IPNetwork = IPv4Network | IPv6Network


@dataclass(frozen=True)
class Entry:
    """One CIDR range of a trie and the result its answer record gives."""

    network: _IPNetwork
    answer: Result  # the answer is ``v=spf1 <qualifier of answer>all``


@dataclass(frozen=True)
class Subzone:
    """One ``ip4trie``/``ip6trie`` dataset: a subzone of the macro zone, its catch-all
    answer (at 0/0 or ::/0) and its entries (disjoint, so the longest prefix is unique)."""

    name: str  # relative to the macro zone, e.g. in-addr.bigcorp.example
    version: int
    default: Result
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class MacroRecord:
    """What macro mode publishes for one domain: its root record and its subzones."""

    domain: str
    zone: str
    root: str  # the root TXT record
    form: str  # "include", "redirect", "static" (no macro lookup) or "mixed"
    subzones: tuple[Subzone, ...]
    intent_form: tuple[NormalPart, ...]  # the intent's normal form (what the proof compares)
    lookups: int  # worst-case DNS-querying terms of the root record (RFC 7208 4.6.4)

    @property
    def entries(self) -> int:
        return sum(len(s.entries) + 1 for s in self.subzones)


def answer_text(result: Result) -> str:
    """The TXT record a trie entry answers: a record giving ``result`` to every client."""
    return f"v=spf1 {Qualifier.for_result(result).value}all"


def plan_macro(intent: Intent, resolver: Resolver, zone: str) -> MacroRecord:
    """The macro root record and subzones of ``intent``, its upstream resolved through
    ``resolver``; MacroError when macro mode cannot carry it."""
    program = Analyzer(resolver, keep=intent.keep).analyze(intent.record, intent.domain)
    return plan_form(intent.domain, tuple(normal_form(program)), zone, intent.policy.qualifier)


def plan_form(
    domain: str, form: Sequence[NormalPart], zone: str, policy: Qualifier = Qualifier.FAIL
) -> MacroRecord:
    """The macro root record and subzones of an intent's normal form; ``policy`` is the
    qualifier of the catch-all term the include form prefers (the intent's own ``all``)."""
    domain, zone = normalize_name(domain), normalize_name(zone)
    terms: list[str] = []
    subzones: list[Subzone] = []
    forms: set[str] = set()
    lookups = 0
    part = 0
    for item in form:
        if isinstance(item, Opaque):
            if item.failures:
                raise MacroError(f"{domain}: {item.term.render()}: {item.failures[0].message}")
            terms.append(item.term.render())
            lookups += item.lookups
            continue
        encoded = _encode(domain, zone, item, part, policy.result)
        terms.extend(encoded.terms)
        if encoded.subzones:
            subzones.extend(encoded.subzones)
            lookups += 1
            part += 1
        forms.add(encoded.form)
    check_names(domain, zone, max(part, 1))
    if lookups > MAX_DNS_LOOKUPS:
        raise MacroError(
            f"{domain}: the macro root record needs {lookups} DNS lookups with its kept "
            f"terms, over RFC 7208's {MAX_DNS_LOOKUPS}"
        )
    root = " ".join(["v=spf1", *terms])
    used = forms - {"static"}
    kind = "static" if not used else used.pop() if len(used) == 1 else "mixed"
    return MacroRecord(domain, zone, root, kind, tuple(subzones), tuple(form), lookups)


@dataclass(frozen=True)
class _Encoded:
    terms: tuple[str, ...]
    subzones: tuple[Subzone, ...]
    form: str


def _encode(domain: str, zone: str, part: Decisions, index: int, policy: Result) -> _Encoded:
    segments = {4: list(part.ipv4), 6: _with_mapped(part.ipv4, part.ipv6)}
    failures = part.failures()
    if failures:
        raise MacroError(
            f"{domain}: receivers get an error at some addresses: {failures[0].message}"
        )
    classes = _classes(segments)
    spec = domain_spec(zone, index)
    if not part.total:
        if len(classes) != 1:
            names = ", ".join(sorted(r.value for r in classes))
            raise MacroError(
                f"{domain}: the addresses decided before a kept term get several results "
                f"({names}); an include can carry one"
            )
        (result,) = classes
        zones = _include_subzones(domain, index, segments, result)
        return _Encoded((_qualified(result, f"include:{spec}"),), zones, "include")
    if len(classes) == 1:
        (result,) = classes
        return _Encoded((_qualified(result, "all"),), (), "static")
    if len(classes) == 2:
        fallback = policy if policy in classes else _most_common(segments, classes)
        (matched,) = classes - {fallback}
        zones = _include_subzones(domain, index, segments, matched)
        terms = (_qualified(matched, f"include:{spec}"), _qualified(fallback, "all"))
        return _Encoded(terms, zones, "include")
    zones = tuple(
        _subzone(
            subzone(domain, version, index),
            version,
            _most_common({version: segments[version]}, classes),
            segments[version],
        )
        for version in (4, 6)
    )
    return _Encoded((f"redirect={spec}",), zones, "redirect")


def _classes(segments: dict[int, list[Segment[Decided]]]) -> set[Result]:
    found: set[Result] = set()
    for version in (4, 6):
        for s in segments[version]:
            if isinstance(s.value, Result):
                if s.value not in _ADDRESSABLE:
                    raise MacroError(f"no macro answer gives {s.value.value}")
                found.add(s.value)
    return found


def _qualified(result: Result, term: str) -> str:
    qualifier = Qualifier.for_result(result).value
    return term if qualifier == "+" else f"{qualifier}{term}"


def _most_common(segments: dict[int, list[Segment[Decided]]], classes: set[Result]) -> Result:
    """The result given to the most addresses (IPv4 counted first, then IPv6)."""
    counts: dict[Result, tuple[int, int]] = {r: (0, 0) for r in classes}
    for version in (4, 6):
        for s in segments.get(version, ()):
            if isinstance(s.value, Result) and s.value in counts:
                v4, v6 = counts[s.value]
                size = s.last - s.first + 1
                counts[s.value] = (v4 + size, v6) if version == 4 else (v4, v6 + size)
    order = sorted(classes, key=lambda r: (counts[r], _ADDRESSABLE.index(r)), reverse=True)
    return order[0]


def _include_subzones(
    domain: str, index: int, segments: dict[int, list[Segment[Decided]]], matched: Result
) -> tuple[Subzone, ...]:
    """Subzones answering ``+all`` (the include matches) at the ``matched`` ranges."""
    out = []
    for version in (4, 6):
        hits: list[Segment[Decided]] = [
            Segment(s.first, s.last, Result.PASS) for s in segments[version] if s.value is matched
        ]
        out.append(_subzone(subzone(domain, version, index), version, Result.FAIL, hits))
    return tuple(out)


def _subzone(
    name: str, version: int, default: Result, segments: Iterable[Segment[Decided]]
) -> Subzone:
    entries: list[Entry] = []
    address = IPv4Address if version == 4 else IPv6Address
    for s in segments:
        if not isinstance(s.value, Result) or s.value is default:
            continue
        for network in summarize_address_range(address(s.first), address(s.last)):
            entries.append(Entry(network, s.value))
    return Subzone(name, version, default, tuple(entries))


def _with_mapped(
    ipv4: Sequence[Segment[Decided]], ipv6: Sequence[Segment[Decided]]
) -> list[Segment[Decided]]:
    """The IPv6 segments with ::ffff:0:0/96 holding the IPv4 segments (RFC 7208 5: such
    clients are IPv4; the IPv6 results there are unobservable)."""
    low, high = IPV4_MAPPED
    out: list[Segment[Decided]] = []
    for s in ipv6:
        if s.first < low:
            out.append(Segment(s.first, min(s.last, low - 1), s.value))
        if s.last > high:
            out.append(Segment(max(s.first, high + 1), s.last, s.value))
    position = low
    for s in ipv4:
        if s.first + low > position:
            out.append(Segment(position, s.first + low - 1, None))
        out.append(Segment(s.first + low, s.last + low, s.value))
        position = s.last + low + 1
    if position <= high:
        out.append(Segment(position, high, None))
    return merge_adjacent(sorted(out, key=lambda s: s.first))


# -- the rbldnsd dataset ---------------------------------------------------------------------


def render_dataset(
    records: Sequence[MacroRecord],
    zone: str,
    *,
    ttl: int = DEFAULT_TTL,
    nameservers: Sequence[str] = (),
    hostmaster: str | None = None,
    kept: Mapping[str, Sequence[str]] | None = None,
    order: Sequence[str] = (),
) -> str:
    """The rbldnsd ``combined`` dataset serving every record's subzones under ``zone``.

    ``kept``: domain -> the lines of its sections in a previous dataset
    (:func:`kept_sections`), served as they were. Each domain's sections stand where
    ``order`` (every domain, in config order) puts them, so that a kept domain's lines do
    not move and an unchanged dataset stays byte for byte the same.

    ``$SOA`` and ``$NS`` come first: without them resolvers get no usable referral data
    and some SERVFAIL. The SOA serial is 0: rbldnsd substitutes the file's modification
    time, so every rewrite is a new serial.
    """
    zone = normalize_name(zone)
    servers = [normalize_name(n) for n in nameservers] or [f"ns.{zone}"]
    contact = normalize_name(hostmaster or f"hostmaster.{zone}")
    lines = [
        f"# rbldnsd combined dataset for {zone}, generated by spfmanager (macro mode).",
        "# Do not edit: it is rewritten whole (atomically) on every change upstream.",
        f"$SOA {ttl} {servers[0]} {contact} 0 3600 600 604800 {ttl}",
        f"$NS {ttl} {' '.join(servers)}",
        f"$TTL {ttl}",
    ]
    body: dict[str, list[str]] = {}
    for domain, sub in all_subzones(records, zone):
        kind = "ip4trie" if sub.version == 4 else "ip6trie"
        section = body.setdefault(domain, [])
        section.append(f"$DATASET {kind}:{sub.name} {sub.name}")
        everything = "0.0.0.0/0" if sub.version == 4 else "::/0"
        section.append(_line(everything, sub.default))
        section.extend(_line(str(e.network), e.answer) for e in sub.entries)
    for domain, previous in (kept or {}).items():
        if domain in body:
            raise MacroError(f"{domain}: both built and kept at its last good answers")
        body[domain] = list(previous)
    for domain in dict.fromkeys([*order, *body]):
        lines.extend(body.get(domain, ()))
    return "\n".join(lines) + "\n"


def kept_sections(dataset: str, domains: Collection[str]) -> dict[str, list[str]]:
    """Domain -> the lines of ``dataset``'s ``$DATASET`` sections that serve it (its
    subzones, :func:`~spfmanager.macro.names.owner_of`), for ``domains``: a domain that
    cannot be built now keeps its last good answers while the others' are rewritten."""
    wanted = {normalize_name(d) for d in domains}
    out: dict[str, list[str]] = {}
    owner: str | None = None
    for raw in dataset.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("$DATASET"):
            words = line.split()
            found = owner_of(words[1].split(":", 1)[-1]) if len(words) > 1 else None
            owner = found if found in wanted else None
        elif line.startswith(("$SOA", "$NS", "$TTL")):  # the header: written anew
            owner = None
            continue
        if owner is not None:
            out.setdefault(owner, []).append(line)
    return out


def all_subzones(records: Sequence[MacroRecord], zone: str) -> Iterator[tuple[str, Subzone]]:
    """(domain, subzone) for every record's subzones, in order; MacroError for a record
    under another zone than ``zone`` (normalized) or two subzones of one name."""
    seen: dict[str, str] = {}
    for record in records:
        if normalize_name(record.zone) != zone:
            raise MacroError(f"{record.domain}: its names are under {record.zone}, not {zone}")
        for sub in record.subzones:
            if sub.name in seen:
                raise MacroError(
                    f"subzone {sub.name} of {record.domain} is also {seen[sub.name]}'s"
                )
            seen[sub.name] = record.domain
            yield record.domain, sub


def _line(network: str, answer: Result) -> str:
    text = answer_text(answer)
    assert "$" not in text and len(text) <= MAX_ANSWER  # rbldnsd substitutes $, cuts at 255
    return f"{network} :{A_VALUE.rsplit('.', 1)[1]}:{text}"
