"""An overall deadline for an audit: lookups after it are not made, and say so."""

from __future__ import annotations

import time
from collections.abc import Callable

from spfmanager.dns.base import Answer, Resolver, RRType, query_within
from spfmanager.errors import DeadlineReached, DNSTemporaryError

DEFAULT_CHECK_DEADLINE = 60.0  # seconds a whole ``check`` may take


class DeadlineResolver:
    """Passes queries to ``resolver`` until ``seconds`` from now, then refuses them.

    Each query gets only the time left (when ``resolver`` can bound its queries, as the
    live resolver does), so nothing runs past the deadline by more than a moment.
    ``clock`` (seconds, monotonic) is injectable for tests.
    """

    def __init__(
        self, resolver: Resolver, seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.resolver = resolver
        self.seconds = seconds
        self.clock = clock
        self.ends = clock() + seconds
        self.reached = False

    def _reached(self, name: str, rrtype: RRType) -> DeadlineReached:
        self.reached = True
        return DeadlineReached(
            f"{name} {rrtype.value} not looked up: the deadline of {self.seconds:g} s passed"
        )

    def query(self, name: str, rrtype: RRType) -> Answer:
        left = self.ends - self.clock()
        if left <= 0:
            raise self._reached(name, rrtype)
        try:
            return query_within(self.resolver, name, rrtype, left)
        except DNSTemporaryError:
            if self.clock() >= self.ends:
                raise self._reached(name, rrtype) from None
            raise
