"""Prove that published records give the same result as the intent for every address.

Two independent checks, both required:

1. The normal forms (:mod:`spfmanager.flatten.decisions`) of the intent and of the published
   records, read back through DNS as a receiver would, are equal: same kept terms in the same
   order and the same result for every IPv4 and IPv6 address range.
2. At every range boundary of either side, the bundled evaluator (``check_host``) gives the
   published records the same result as the intent (evaluated without lookup limits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from spfmanager.dns.base import Resolver
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import VerificationError
from spfmanager.flatten.analyze import Analyzer
from spfmanager.flatten.decisions import Decisions, NormalPart, normal_form
from spfmanager.flatten.program import Opaque
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.parser import parse_record
from spfmanager.spf.terms import Mechanism, Record, Redirect

UNLIMITED = 1_000_000


@dataclass(frozen=True)
class Proof:
    """What was checked."""

    ranges_compared: int
    points_evaluated: int
    published_lookups: int  # the most lookups any evaluated point needed

    @property
    def data(self) -> dict[str, int]:
        return {
            "ranges_compared": self.ranges_compared,
            "points_evaluated": self.points_evaluated,
            "published_lookups": self.published_lookups,
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
) -> Proof:
    """Raise VerificationError unless ``published`` (name -> TXT strings) equals ``intent``.

    ``points=False`` skips the evaluator at boundaries (for an encoding already proven);
    ``intent_form`` passes the intent's normal form when the caller has it already.
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
    if not points:
        return Proof(ranges, 0, 0)
    as_intent = OverlayResolver(resolver, {domain: [[intent.render()]]})
    boundaries = set(_boundaries(intent_form)) | set(_boundaries(published_form))
    most = 0
    sender = f"postmaster@{domain}"
    for point in sorted(boundaries, key=_key):
        expected = evaluate(
            point,
            sender,
            domain,
            resolver=as_intent,
            max_lookups=UNLIMITED,
            max_void_lookups=UNLIMITED,
        )
        actual = evaluate(point, sender, domain, resolver=live, max_lookups=max_lookups)
        most = max(most, actual.lookups)
        if actual.result is not expected.result:
            raise VerificationError(
                f"{domain}: published records give {actual.result.value} for {point} "
                f"({actual.reason}) where the intent gives {expected.result.value} "
                f"({expected.reason})"
            )
    return Proof(ranges, len(boundaries), most)


def compare_forms(intent: Sequence[NormalPart], published: Sequence[NormalPart]) -> None:
    """Raise VerificationError unless the two normal forms are equal."""
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


def _first_difference(want: Decisions, got: Decisions, version: int) -> str:
    for a, b in zip(want.segments(version), got.segments(version), strict=False):
        if a != b:
            return f"{_address(min(a.first, b.first), version)}: {a.value} vs {b.value}"
    return "the end of the address space"


def _address(value: int, version: int) -> IPv4Address | IPv6Address:
    return IPv4Address(value) if version == 4 else IPv6Address(value)


def _boundaries(form: list[NormalPart]) -> Iterable[IPv4Address | IPv6Address]:
    for part in form:
        if isinstance(part, Decisions):
            for version in (4, 6):
                for segment in part.segments(version):
                    yield _address(segment.first, version)
                    yield _address(segment.last, version)


def _key(address: IPv4Address | IPv6Address) -> tuple[int, int]:
    return address.version, int(address)


def verify_chain(
    domain: str,
    published: Mapping[str, str],
    terms: Sequence[Mechanism],
    final_redirect: Redirect | None,
) -> None:
    """Structural proof: the root and its ``redirect=`` chain, read in order, hold exactly
    ``terms`` and end with ``final_redirect`` (a redirect is a tail call, so a chain means
    what its concatenated terms mean). Every published record must be on the chain.
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
