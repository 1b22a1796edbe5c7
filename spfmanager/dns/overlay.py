"""Resolvers over other resolvers: chosen TXT records over a base ("what if we published
this"), and offline layers of DNS data, first covering layer wins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from spfmanager.dns.base import Answer, Resolver, RRType, TXTRecord, normalize_name
from spfmanager.errors import DNSTemporaryError

MAX_CNAME_CHAIN = 8  # as the snapshot resolver follows
UNCOVERED_TTL = 3600  # the TTL of an NXDOMAIN for a name no layer covers (as snapshots give)


class OverlayResolver:
    """Answers TXT queries for ``overrides`` names itself; everything else goes to ``base``.

    Each override value is a list of TXT records, each a list of character-strings.
    """

    def __init__(self, base: Resolver, overrides: Mapping[str, Sequence[Sequence[str]]]) -> None:
        self.base = base
        self._txt = {
            normalize_name(name): tuple(
                TXTRecord(tuple(s.encode("ascii") for s in strings)) for strings in records
            )
            for name, records in overrides.items()
        }

    def query(self, name: str, rrtype: RRType) -> Answer:
        key = normalize_name(name)
        if rrtype is RRType.TXT and key in self._txt:
            return Answer(name, rrtype, self._txt[key], ttl=0)
        return self.base.query(name, rrtype)


@runtime_checkable
class Layer(Resolver, Protocol):
    """Offline DNS data that knows which names it speaks for (a snapshot, a zone file)."""

    def covers(self, name: str) -> bool:
        """Whether this layer answers for ``name`` (else the next layer is asked)."""
        ...

    def cname(self, name: str) -> str | None:
        """The CNAME target at ``name`` itself (not followed), or None."""
        ...


class LayeredResolver:
    """Answers each name from the first of ``layers`` that covers it; a name no layer
    covers is NXDOMAIN (as an absent name of one snapshot is).

    CNAMEs are followed here, across layers (a zone's alias of a vendor's name in a
    snapshot resolves as it would in DNS), up to ``MAX_CNAME_CHAIN`` links; the NXDOMAIN
    or NODATA at the end of a chain is about its last name (RFC 6604). ``queries`` counts
    the queries answered.
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = tuple(layers)
        self.queries = 0

    def layer_for(self, name: str) -> Layer | None:
        """The layer that answers for ``name``, or None when none covers it."""
        return next((layer for layer in self.layers if layer.covers(name)), None)

    def query(self, name: str, rrtype: RRType) -> Answer:
        self.queries += 1
        key = normalize_name(name)
        for _ in range(MAX_CNAME_CHAIN):
            layer = self.layer_for(key)
            if layer is None:
                return Answer(name, rrtype, (), nxdomain=True, ttl=UNCOVERED_TTL)
            target = None if rrtype is RRType.CNAME else layer.cname(key)
            if target is None:  # no alias here: the layer answers without following any
                return replace(layer.query(key, rrtype), name=name)
            key = normalize_name(target)
        raise DNSTemporaryError(f"CNAME chain too long at {name} {rrtype}")
