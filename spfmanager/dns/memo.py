"""Per-run memoization: each (name, type) is queried at most once per build."""

from __future__ import annotations

import threading

from spfmanager.dns.base import Answer, Resolver, RRType, normalize_name
from spfmanager.errors import DNSTemporaryError


class MemoResolver:
    """Remembers every answer (and every temporary error) of the wrapped resolver."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._answers: dict[tuple[str, RRType], Answer | DNSTemporaryError] = {}
        self._lock = threading.Lock()
        self.queries = 0

    def query(self, name: str, rrtype: RRType) -> Answer:
        key = (normalize_name(name), rrtype)
        with self._lock:
            known = self._answers.get(key)
        if known is None:
            self.queries += 1
            try:
                known = self.resolver.query(name, rrtype)
            except DNSTemporaryError as exc:
                known = exc
            with self._lock:
                self._answers[key] = known
        if isinstance(known, DNSTemporaryError):
            raise known
        return known
