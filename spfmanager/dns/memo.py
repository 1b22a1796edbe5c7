"""Per-run memoization: each (name, type) is queried at most once per build.

:meth:`MemoResolver.warm` fetches many queries at once, concurrently; a warmed answer is
*used* (and counted, and charged by a resolver with a ``charge`` method) only when a
caller first asks for it, so counts and budgets read as if it had been queried then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Protocol, runtime_checkable

from spfmanager.dns.base import Answer, Resolver, RRType, normalize_name, query_within
from spfmanager.errors import DNSTemporaryError, FlattenError

Key = tuple[str, RRType]
Known = Answer | DNSTemporaryError


@runtime_checkable
class Charged(Protocol):
    """A resolver that charges an answer fetched ahead of time when it is first used."""

    def charge(self, name: str, rrtype: RRType) -> None: ...


class MemoResolver:
    """Remembers every answer (and every temporary error) of the wrapped resolver."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._answers: dict[Key, Known] = {}
        self._warm: dict[Key, Known] = {}  # fetched ahead, not yet asked for
        self._lock = threading.Lock()
        self.queries = 0  # queries used: sent, or warmed and then asked for
        self.uses: set[Key] | None = None  # when a set: every query asked, collected

    def used(self) -> set[Key]:
        """The queries asked so far (each counted in :attr:`queries` once)."""
        with self._lock:
            return set(self._answers)

    def query(self, name: str, rrtype: RRType) -> Answer:
        key = (normalize_name(name), rrtype)
        if self.uses is not None:
            self.uses.add(key)
        with self._lock:
            known = self._answers.get(key)
            warm = None if known is not None else self._warm.get(key)
        if known is None and warm is not None:
            if isinstance(self.resolver, Charged):
                self.resolver.charge(name, rrtype)  # may raise: the answer stays warm
            known = warm
            with self._lock:
                self._warm.pop(key, None)
                self._answers[key] = known
                self.queries += 1
        if known is None:
            with self._lock:
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

    def peek(self, name: str, rrtype: RRType) -> Known | None:
        """What is known of a query, used or warmed, without using it."""
        key = (normalize_name(name), rrtype)
        with self._lock:
            known = self._answers.get(key)
            return known if known is not None else self._warm.get(key)

    def warm(
        self,
        queries: Iterable[Key],
        *,
        workers: int,
        seconds: float,
        charge_on_use: bool,
    ) -> int:
        """Fetch ``queries`` not yet known, ``workers`` at a time, none started after
        ``seconds``. Returns how many were sent.

        With ``charge_on_use`` an answer counts (and is charged) when first asked for, as
        if queried then; without, it counts now, as a query of whoever is being charged.
        """
        now = time.monotonic
        ends = now() + seconds
        keys = dict.fromkeys((normalize_name(name), rrtype) for name, rrtype in queries)
        with self._lock:
            todo = [k for k in keys if k not in self._answers and k not in self._warm]
        sent = 0
        if workers <= 1 or len(todo) <= 1:
            for key in todo:
                if now() >= ends:
                    break
                self._store(key, self._fetch(key, ends), charge_on_use)
                sent += 1
            return sent
        with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
            pending: dict[Future[Known | None], Key] = {}
            queue = iter(todo)
            while True:
                while len(pending) < workers and now() < ends:
                    nxt = next(queue, None)
                    if nxt is None:
                        break
                    pending[pool.submit(self._fetch, nxt, ends)] = nxt
                    sent += 1
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    self._store(pending.pop(future), future.result(), charge_on_use)
        return sent

    def _fetch(self, key: Key, ends: float) -> Known | None:
        """The answer, or None when time or the budget ran out first (not remembered: the
        caller's own query, with its own deadline, will tell)."""
        try:
            return query_within(self.resolver, *key, ends - time.monotonic())
        except DNSTemporaryError as exc:
            return None if time.monotonic() >= ends else exc
        except FlattenError:
            return None

    def _store(self, key: Key, known: Known | None, charge_on_use: bool) -> None:
        if known is None:
            return
        with self._lock:
            if key in self._answers:
                return
            if charge_on_use:
                self._warm[key] = known
            else:
                self._answers[key] = known
                self.queries += 1
