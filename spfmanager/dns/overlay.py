"""A resolver that serves chosen TXT records over another resolver: "what if we published this"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from spfmanager.dns.base import Answer, Resolver, RRType, TXTRecord, normalize_name


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
