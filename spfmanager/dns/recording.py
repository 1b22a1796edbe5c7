"""Record every answer a run needs, to write an offline ``--dns-snapshot`` file."""

from __future__ import annotations

from typing import Any

from spfmanager.dns.base import Answer, MXRecord, Resolver, RRType, TXTRecord, normalize_name
from spfmanager.errors import DNSTemporaryError


class RecordingResolver:
    """Passes queries through and remembers the answers, as zonedata."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._entries: dict[str, list[dict[str, Any]]] = {}
        self._seen: set[tuple[str, RRType]] = set()
        self._timeouts: set[str] = set()
        self.min_ttl: int | None = None  # the shortest TTL of the answers seen

    def query(self, name: str, rrtype: RRType) -> Answer:
        key = normalize_name(name)
        try:
            answer = self.resolver.query(name, rrtype)
        except DNSTemporaryError:
            self._timeouts.add(key)
            raise
        if answer.records and answer.ttl > 0:
            self.min_ttl = answer.ttl if self.min_ttl is None else min(self.min_ttl, answer.ttl)
        if (key, rrtype) not in self._seen:
            self._seen.add((key, rrtype))
            if not answer.nxdomain:
                entries = self._entries.setdefault(key, [])
                entries.extend({rrtype.value: _value(r)} for r in answer.records)
        return answer

    def zonedata(self) -> dict[str, list[Any]]:
        """Everything seen, in the zonedata form (names sorted)."""
        data: dict[str, list[Any]] = {}
        for name in sorted(set(self._entries) | self._timeouts):
            entries: list[Any] = list(self._entries.get(name, []))
            if name in self._timeouts:
                entries.append("TIMEOUT")
            data[name] = entries
        return data


def _value(record: object) -> Any:
    if isinstance(record, TXTRecord):
        strings = [s.decode("latin-1") for s in record.strings]
        return strings[0] if len(strings) == 1 else strings
    if isinstance(record, MXRecord):
        return [record.preference, record.exchange]
    return str(record)
