"""Why a normal form cannot be published as it is, for people and for programs.

A reachable :class:`~spfmanager.flatten.program.Failure` (receivers get an error there) or a
kept term whose reach is unknown (a loop, an unanswered query below it) is refused with the
:class:`~spfmanager.errors.FlattenError` subclass and :class:`~spfmanager.errors.RefusalCause`
that say whose fault it is, and with the share of client addresses it is about: the
addresses that reach it, an upper bound ("up to") when a kept term before it may decide some.
Unreachable failures are absent from the normal form, so they are never refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from spfmanager.errors import FlattenError, OwnRecordError, RefusalCause, UpstreamRecordError
from spfmanager.flatten.decisions import BITS, Decisions, NormalPart
from spfmanager.flatten.program import Failure

UPSTREAM = frozenset(
    {
        RefusalCause.UPSTREAM_MISSING,
        RefusalCause.UPSTREAM_DUPLICATE,
        RefusalCause.UPSTREAM_LOOP,
        RefusalCause.UPSTREAM_DEPTH,
        RefusalCause.UPSTREAM_SYNTAX,
    }
)


def refusal(domain: str, form: Sequence[NormalPart]) -> FlattenError | None:
    """The error to raise for ``form`` (the intent's normal form at ``domain``), or None.

    The intent's own errors come first (:class:`OwnRecordError`, ``intent-error``), then
    broken upstream records (:class:`UpstreamRecordError`), then unanswered queries
    (transient): retrying cannot mend the first two.
    """
    found = _failures(form)
    if not found:
        return None
    own = [
        f for f in found if f.cause not in UPSTREAM and f.cause is not RefusalCause.TRANSIENT_DNS
    ]
    upstream = [f for f in found if f.cause in UPSTREAM]
    transient = [f for f in found if f.cause is RefusalCause.TRANSIENT_DNS]
    group = own or upstream or transient
    affected, note = share(_sum(found[f][0] for f in group), bound=any(found[f][1] for f in group))
    reasons = "; ".join(dict.fromkeys(f.message for f in group))
    if own:
        message = f"{domain}: receivers get an error from this record for {note}: {reasons}"
        return OwnRecordError(
            message, cause=RefusalCause.INTENT_ERROR, affected=affected, affected_note=note
        )
    if upstream:
        results = "/".join(dict.fromkeys(f.result.value for f in group))
        message = f"{domain}: {reasons}; receivers get {results} for {note}"
        return UpstreamRecordError(
            message, cause=upstream[0].cause, affected=affected, affected_note=note
        )
    message = (
        f"{domain}: {reasons}; the result of {note} depends on the answer "
        "(transient: try again later)"
    )
    return FlattenError(
        message,
        transient=True,
        cause=RefusalCause.TRANSIENT_DNS,
        affected=affected,
        affected_note=note,
    )


def _failures(form: Sequence[NormalPart]) -> dict[Failure, tuple[dict[int, int], bool]]:
    """Each reachable failure: the addresses that reach it, per family, and whether that
    is an upper bound."""
    undecided = {v: 1 << BITS[v] for v in (4, 6)}
    found: dict[Failure, tuple[dict[int, int], bool]] = {}
    kept_before = False
    for part in form:
        if not isinstance(part, Decisions):
            for failure in part.failures:
                found.setdefault(failure, (dict(undecided), True))
            kept_before = True  # the counts after a kept term are upper bounds
            continue
        for version in (4, 6):
            for segment in part.segments(version):
                if segment.value is None:
                    continue
                size = segment.last - segment.first + 1
                undecided[version] -= size
                if isinstance(segment.value, Failure):
                    counts, _ = found.setdefault(segment.value, ({4: 0, 6: 0}, kept_before))
                    counts[version] += size
    return found


def _sum(counts: Iterable[Mapping[int, int]]) -> dict[int, int]:
    total = {4: 0, 6: 0}
    for each in counts:
        for version in (4, 6):
            total[version] = min(total[version] + each.get(version, 0), 1 << BITS[version])
    return total


def share(counts: Mapping[int, int], *, bound: bool = False) -> tuple[float, str]:
    """The share of client addresses (the larger of the two families', 0..1) and a phrase
    for people: "every IPv4 and IPv6 address", "up to 256 IPv4 addresses (6e-06% of IPv4)"."""
    shares = {v: counts.get(v, 0) / (1 << BITS[v]) for v in (4, 6)}
    if all(shares[v] == 1 for v in (4, 6)):
        text = "every IPv4 and IPv6 address"
    else:
        text = " and ".join(_amount(counts[v], v) for v in (4, 6) if counts.get(v)) or "no address"
    return max(shares.values()), f"up to {text}" if bound else text


def _amount(count: int, version: int) -> str:
    size = 1 << BITS[version]
    if count == size:
        return f"every IPv{version} address"
    number = f"{count:,}" if count < 1 << 32 else f"2^{math.log2(count):.4g}"
    plural = "" if count == 1 else "es"
    percent = f"{count / size * 100:.3g}"
    percent = "almost 100" if percent == "100" else percent  # not every address
    return f"{number} IPv{version} address{plural} ({percent}% of IPv{version})"
