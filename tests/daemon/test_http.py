"""The /metrics and /healthz endpoint, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from spfmanager.daemon.http import ObservabilityServer, parse_address, serve
from spfmanager.daemon.metrics import Metrics


class Health:
    """A health function the test flips, counting its calls."""

    def __init__(self) -> None:
        self.state: tuple[bool, str] = (True, "ok")
        self.calls = 0

    def __call__(self) -> tuple[bool, str]:
        self.calls += 1
        return self.state


def get(url: str, *, method: str = "GET", accept: str | None = None) -> tuple[int, str, bytes]:
    """Status, content type and body of a request (error statuses included)."""
    request = urllib.request.Request(url, method=method)
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def health() -> Health:
    return Health()


@pytest.fixture
def server(metrics: Metrics, health: Health) -> Iterator[ObservabilityServer]:
    with serve("127.0.0.1:0", metrics, health) as running:
        yield running


def test_metrics_are_served_in_the_prometheus_text_format(
    server: ObservabilityServer, metrics: Metrics
) -> None:
    metrics.observe_run(
        "example.com", "applied", 0.25, lookups=7, records=3, passing={4: 512}, now=1e9
    )
    metrics.set_scheduler_running(True)
    status, content_type, body = get(f"{server.url}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    d = (("domain", "example.com"),)
    assert values[("spfmanager_domain_dns_lookups", d)] == 7
    assert values[("spfmanager_domain_records", d)] == 3
    assert values[("spfmanager_domain_last_success_timestamp_seconds", d)] == 1e9
    assert values[("spfmanager_domain_authorized_addresses", (*d, ("family", "ipv4")))] == 512
    assert values[("spfmanager_domain_last_outcome", (*d, ("outcome", "applied")))] == 1
    assert values[("spfmanager_scheduler_running", ())] == 1
    assert values[("spfmanager_run_duration_seconds_count", (("outcome", "applied"),))] == 1
    assert families["spfmanager_errors"].type == "counter"


def test_metrics_follow_later_runs(server: ObservabilityServer, metrics: Metrics) -> None:
    metrics.observe_run("example.com", "applied", 0.1, lookups=7)
    metrics.observe_run("example.com", "applied", 0.1, lookups=5)
    _, _, body = get(f"{server.url}/metrics")
    assert 'spfmanager_domain_dns_lookups{domain="example.com"} 5.0' in body.decode()


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(
    server: ObservabilityServer, metrics: Metrics
) -> None:
    metrics.observe_run("example.com", "held", 0.1, upstream_changed=True)
    status, content_type, body = get(
        f"{server.url}/metrics", accept="application/openmetrics-text; version=1.0.0"
    )
    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(body.decode())}  # type: ignore[no-untyped-call]
    (held,) = families["spfmanager_held_changes"].samples
    assert (held.name, held.labels, held.value) == (
        "spfmanager_held_changes_total",
        {"domain": "example.com"},
        1,
    )


def test_healthz_is_200_while_healthy_and_503_with_the_reason_otherwise(
    server: ObservabilityServer, health: Health
) -> None:
    assert get(f"{server.url}/healthz") == (200, "text/plain; charset=utf-8", b"ok\n")
    health.state = (False, "state store: connection refused")
    status, _, body = get(f"{server.url}/healthz")
    assert (status, body) == (503, b"state store: connection refused\n")
    health.state = (True, "")
    assert get(f"{server.url}/healthz")[0] == 200
    assert health.calls == 3  # asked on every request, never cached


def test_head_answers_without_a_body(server: ObservabilityServer, health: Health) -> None:
    assert get(f"{server.url}/healthz", method="HEAD") == (200, "text/plain; charset=utf-8", b"")
    health.state = (False, "scheduler stopped")
    assert get(f"{server.url}/healthz", method="HEAD")[0] == 503


def test_a_health_check_that_raises_is_503_without_its_message(metrics: Metrics) -> None:
    def broken() -> tuple[bool, str]:
        raise ConnectionError("postgresql://spf:hunter2@db/spf refused")

    with serve("127.0.0.1:0", metrics, broken) as server:
        status, _, body = get(f"{server.url}/healthz")
    assert status == 503
    assert body == b"health check raised ConnectionError\n"


def test_a_hung_health_check_is_503_within_the_timeout(metrics: Metrics) -> None:
    release = threading.Event()
    calls: list[float] = []

    def hangs() -> tuple[bool, str]:
        calls.append(time.monotonic())
        release.wait(30)
        return True, "ok"

    with serve("127.0.0.1:0", metrics, hangs, health_timeout=0.3) as server:
        try:
            start = time.monotonic()
            status, _, body = get(f"{server.url}/healthz")
            elapsed = time.monotonic() - start
            assert status == 503
            assert body.startswith(b"health check did not answer within 0.3 s")
            assert 0.25 <= elapsed < 2.0
            # /metrics does not wait for health, and a second probe shares the stuck call.
            assert get(f"{server.url}/metrics")[0] == 200
            assert get(f"{server.url}/healthz")[0] == 503
            assert len(calls) == 1
        finally:
            release.set()
        deadline = time.monotonic() + 5
        while get(f"{server.url}/healthz")[0] != 200:  # the check finished: healthy again
            assert time.monotonic() < deadline
            time.sleep(0.05)


@pytest.mark.parametrize("path", ["/", "/metrics/x", "/health", "/favicon.ico", "/healthzz"])
def test_other_paths_are_404(server: ObservabilityServer, path: str) -> None:
    assert get(f"{server.url}{path}")[0] == 404


def test_a_query_string_does_not_change_the_path(server: ObservabilityServer) -> None:
    assert get(f"{server.url}/healthz?verbose=1")[0] == 200
    assert get(f"{server.url}/metrics?name[]=spfmanager_up")[0] == 200


def test_port_0_picks_a_free_port_and_address_tells_it(server: ObservabilityServer) -> None:
    assert server.host == "127.0.0.1"
    assert server.port > 0
    assert server.address == f"127.0.0.1:{server.port}"


def test_close_stops_serving_and_frees_the_port(metrics: Metrics, health: Health) -> None:
    server = serve("127.0.0.1:0", metrics, health)
    port = server.port
    assert get(f"{server.url}/healthz")[0] == 200
    server.close()
    server.close()  # idempotent
    with pytest.raises(urllib.error.URLError):
        get(f"http://127.0.0.1:{port}/healthz")
    # The same port can be served again at once.
    with serve(f"127.0.0.1:{port}", metrics, health) as again:
        assert again.port == port
        assert get(f"{again.url}/healthz")[0] == 200


def test_a_port_in_use_is_an_os_error(server: ObservabilityServer, metrics: Metrics) -> None:
    with pytest.raises(OSError):
        serve(server.address, metrics, Health())


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_address_is_served(metrics: Metrics, health: Health) -> None:
    with serve("[::1]:0", metrics, health) as server:
        assert server.host == "::1"
        assert server.address == f"[::1]:{server.port}"
        assert get(f"{server.url}/healthz")[0] == 200


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9100", ("127.0.0.1", 9100)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:65535", ("localhost", 65535)),
        ("[::1]:9100", ("::1", 9100)),
        ("[::]:9100", ("::", 9100)),
        (" 127.0.0.1:9100 ", ("127.0.0.1", 9100)),
    ],
)
def test_good_addresses_parse(address: str, expected: tuple[str, int]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "metrics address is empty"),
        ("127.0.0.1", "has no port"),
        ("9100", "has no port"),
        (":9100", "has no host: use 0.0.0.0:9100"),
        ("::1:9100", "put an IPv6 address in brackets, as in [::1]:9100"),
        ("[::1", "has no closing ']'"),
        ("[::1]", "has no port after ']'"),
        ("[::1]9100", "has no port after ']'"),
        ("[example.com]:80", "is not an IPv6 address"),
        ("127.0.0.1:http", "port 'http' is not a number"),
        ("127.0.0.1:", "port '' is not a number"),
        ("127.0.0.1:-1", "port '-1' is not a number"),
        ("127.0.0.1:65536", "port 65536 is above 65535"),
        ("127.0.0.1:٩١٠٠", "is not a number"),  # Arabic-Indic digits
        ("http://127.0.0.1:9100", "is not a URL"),
        ("a:b:9100", "'a:b' is not a host name"),
        ("my host:9100", "is not a host name"),
    ],
)
def test_bad_addresses_are_refused_with_the_reason(address: str, message: str) -> None:
    with pytest.raises(ValueError, match="metrics address") as error:
        parse_address(address)
    assert message in str(error.value)


def test_serve_refuses_a_bad_address_before_binding(metrics: Metrics) -> None:
    with pytest.raises(ValueError, match="has no port"):
        serve("127.0.0.1", metrics, Health())
    with pytest.raises(ValueError, match="cannot resolve"):
        serve("no-such-host.invalid:0", metrics, Health())


def test_serve_refuses_a_non_positive_health_timeout(metrics: Metrics) -> None:
    check: Callable[[], tuple[bool, str]] = Health()
    with pytest.raises(ValueError, match="health_timeout"):
        serve("127.0.0.1:0", metrics, check, health_timeout=0)
