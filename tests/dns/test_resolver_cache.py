"""LiveResolver's per-run cache and counters, against a real BIND 9 on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from spfmanager.dns.base import RRType
from spfmanager.dns.resolver import LiveResolver
from spfmanager.errors import DNSTemporaryError
from tests.integration.bind import BindServer, require_named

pytestmark = pytest.mark.integration

ZONEDATA = {
    "short.example.org": [{"A": "192.0.2.30"}, {"TXT": "v=spf1 -all"}],
    **{f"host{i}.example.org": [{"A": f"192.0.2.{i}"}] for i in range(5)},
}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server() -> Iterator[BindServer]:
    require_named()
    with BindServer() as bind:
        bind.add_zone("example.org", ZONEDATA)  # TTL 3600, negative TTL 300
        bind.add_zone("short.example.net", {"short.example.net": [{"A": "192.0.2.31"}]}, ttl=30)
        yield bind


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def resolver(server: BindServer, clock: Clock) -> LiveResolver:
    return server.resolver(clock=clock)


def test_second_query_is_served_from_cache(resolver: LiveResolver, clock: Clock) -> None:
    first = resolver.query("short.example.org", RRType.A)
    clock.now += 100
    second = resolver.query("SHORT.example.org.", RRType.A)
    assert (resolver.queries, resolver.cache_hits) == (1, 1)
    assert second.records == first.records == (IPv4Address("192.0.2.30"),)
    assert second.name == "SHORT.example.org."  # the name asked, not the cached one
    assert second.ttl == 3500  # what is left of the TTL, as a caching resolver says


def test_types_are_cached_apart(resolver: LiveResolver) -> None:
    resolver.query("short.example.org", RRType.A)
    txt = resolver.query("short.example.org", RRType.TXT)
    assert txt.texts()[0].data == b"v=spf1 -all"
    assert (resolver.queries, resolver.cache_hits) == (2, 0)


def test_answers_expire_with_their_ttl(resolver: LiveResolver, clock: Clock) -> None:
    assert resolver.query("short.example.net", RRType.A).ttl == 30
    clock.now += 29
    resolver.query("short.example.net", RRType.A)
    assert (resolver.queries, resolver.cache_hits) == (1, 1)
    clock.now += 1
    assert resolver.query("short.example.net", RRType.A).ttl == 30
    assert (resolver.queries, resolver.cache_hits) == (2, 1)


def test_negative_answers_use_the_negative_ttl(resolver: LiveResolver, clock: Clock) -> None:
    assert resolver.query("missing.example.org", RRType.A).nxdomain
    assert resolver.query("short.example.org", RRType.MX).is_void  # NODATA
    clock.now += 299
    assert resolver.query("missing.example.org", RRType.A).nxdomain
    assert resolver.query("short.example.org", RRType.MX).is_void
    assert (resolver.queries, resolver.cache_hits) == (2, 2)
    clock.now += 1  # the SOA minimum (300) is over
    resolver.query("missing.example.org", RRType.A)
    assert (resolver.queries, resolver.cache_hits) == (3, 2)


def test_failures_are_not_cached(resolver: LiveResolver) -> None:
    for _ in range(2):
        with pytest.raises(DNSTemporaryError):
            resolver.query("example.com", RRType.A)  # REFUSED: not served here
    assert (resolver.queries, resolver.cache_hits) == (2, 0)


def test_without_cache_every_query_is_sent(server: BindServer) -> None:
    resolver = server.resolver(cache=False)
    for _ in range(3):
        resolver.query("short.example.org", RRType.A)
    assert (resolver.queries, resolver.cache_hits) == (3, 0)


def test_clear_cache(resolver: LiveResolver) -> None:
    resolver.query("short.example.org", RRType.A)
    resolver.clear_cache()
    resolver.query("short.example.org", RRType.A)
    assert (resolver.queries, resolver.cache_hits) == (2, 0)


def test_shared_between_threads(server: BindServer) -> None:
    resolver = server.resolver()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for round_ in range(20):
                i = round_ % 5
                answer = resolver.query(f"host{i}.example.org", RRType.A)
                assert answer.records == (IPv4Address(f"192.0.2.{i}"),)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert resolver.queries + resolver.cache_hits == 8 * 20
    assert 5 <= resolver.queries <= 5 * 8  # at most one concurrent miss per thread and name
