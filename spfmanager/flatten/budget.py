"""What flattening one domain may spend: DNS queries and time (hostile include trees end)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from spfmanager.dns.base import Answer, Resolver, RRType, query_within
from spfmanager.errors import DNSTemporaryError, FlattenError, RefusalCause

DEFAULT_QUERY_BUDGET = 5000  # DNS queries flattening one domain may send
DEFAULT_DEADLINE = 60.0  # seconds flattening one domain may take

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Budget:
    """What flattening one domain may spend: ``queries`` sent to DNS, ``seconds`` in all."""

    domain: str
    queries: int = DEFAULT_QUERY_BUDGET
    seconds: float = DEFAULT_DEADLINE

    def over_queries(self) -> FlattenError:
        """The error for a domain that needs more queries (upstream is too large or hostile:
        retrying will not help)."""
        return FlattenError(
            f"flattening {self.domain} needed more than {self.queries} DNS queries (query_budget)",
            cause=RefusalCause.QUERY_BUDGET,
        )

    def over_time(self) -> FlattenError:
        """The error for a domain that took too long (slow DNS may recover: transient)."""
        return FlattenError(
            f"flattening {self.domain} took longer than {self.seconds:g} s (flatten_deadline)",
            transient=True,
            cause=RefusalCause.DEADLINE,
        )


class MeteredResolver:
    """Sends queries to ``resolver`` within the current :class:`Budget` (none: unbounded).

    Place it *under* the run's cache (``MemoResolver(MeteredResolver(live))``): only the
    queries that reach it, those not answered from memory, are charged. Before each one it
    raises the budget's FlattenError when the queries or the time are spent; a query that
    can be bounded (:func:`~spfmanager.dns.base.query_within`) gets only the time left, so
    a domain ends within its deadline even when every server is silent. The FlattenError
    is not a DNSTemporaryError: caches do not remember it against the name.
    """

    def __init__(self, resolver: Resolver, *, clock: Clock = time.monotonic) -> None:
        self.resolver = resolver
        self.clock = clock
        self.queries = 0  # sent, in all budgets and outside them
        self._budget: Budget | None = None
        self._spent = 0
        self._ends = 0.0
        self._lock = threading.Lock()  # prefetch threads share the counters

    @contextmanager
    def budget(self, budget: Budget) -> Iterator[None]:
        """Charge the queries made inside the ``with`` block to ``budget``."""
        previous = (self._budget, self._spent, self._ends)
        self._budget, self._spent, self._ends = budget, 0, self.clock() + budget.seconds
        try:
            yield
        finally:
            self._budget, self._spent, self._ends = previous

    @property
    def spent(self) -> int:
        """Queries charged to the current budget so far."""
        return self._spent

    def charge(self, name: str, rrtype: RRType) -> None:
        """Charge the current budget for an answer fetched before it was asked for (see
        :meth:`~spfmanager.dns.memo.MemoResolver.warm`), as if it were sent now."""
        self._take(sent=False)

    def query(self, name: str, rrtype: RRType) -> Answer:
        return self.query_within(name, rrtype, float("inf"))

    def query_within(self, name: str, rrtype: RRType, seconds: float) -> Answer:
        """Like :meth:`query`, given at most ``seconds`` (and the budget's time left)."""
        budget = self._budget
        left = min(self._take(sent=True), seconds)
        if left == float("inf"):
            return self.resolver.query(name, rrtype)
        if budget is None:
            return query_within(self.resolver, name, rrtype, left)
        try:
            return query_within(self.resolver, name, rrtype, left)
        except DNSTemporaryError:
            if self.clock() >= self._ends:
                raise budget.over_time() from None  # cut short by the deadline, not upstream
            raise

    def _take(self, *, sent: bool) -> float:
        """Charge one query to the current budget; the seconds left (inf without one)."""
        with self._lock:
            self.queries += sent
            budget = self._budget
            if budget is None:
                return float("inf")
            if self._spent >= budget.queries:
                self.queries -= sent
                raise budget.over_queries()
            left = self._ends - self.clock()
            if left <= 0:
                self.queries -= sent
                raise budget.over_time()
            self._spent += 1
            return left
