"""The daemon's Prometheus metrics, read back through the text exposition a scraper sees."""

from __future__ import annotations

import re
import sys
import threading
from enum import StrEnum
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from spfmanager import __version__, errors
from spfmanager.daemon.metrics import (
    DURATION_BUCKETS,
    ERROR_CAUSES,
    OUTCOMES,
    Metrics,
    cause_of,
)

DOCS = Path(__file__).parents[2] / "docs" / "metrics.md"
NOW = 1_700_000_000.0


def samples(metrics: Metrics) -> list[Sample]:
    text = generate_latest(metrics.registry).decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    found = [s.value for s in samples(metrics) if s.name == name and s.labels == labels]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def domain_series(metrics: Metrics, domain: str) -> list[Sample]:
    return [s for s in samples(metrics) if s.labels.get("domain") == domain]


def test_a_run_is_exposed_with_every_value() -> None:
    metrics = Metrics()
    metrics.observe_run(
        "example.com",
        "applied",
        0.3,
        lookups=4,
        records=2,
        bytes_=412,
        passing={4: 4352, 6: 2**80},
        upstream_changed=True,
        now=NOW,
    )
    d = {"domain": "example.com"}
    assert value(metrics, "spfmanager_domain_last_success_timestamp_seconds", **d) == NOW
    assert value(metrics, "spfmanager_domain_last_run_timestamp_seconds", **d) == NOW
    assert value(metrics, "spfmanager_domain_last_run_duration_seconds", **d) == 0.3
    assert value(metrics, "spfmanager_domain_dns_lookups", **d) == 4
    assert value(metrics, "spfmanager_domain_records", **d) == 2
    assert value(metrics, "spfmanager_domain_bytes", **d) == 412
    addresses = "spfmanager_domain_authorized_addresses"
    assert value(metrics, addresses, family="ipv4", **d) == 4352
    assert value(metrics, addresses, family="ipv6", **d) == float(2**80)
    assert value(metrics, "spfmanager_upstream_changes_total", **d) == 1
    assert value(metrics, "spfmanager_held_changes_total", **d) == 0
    for outcome in OUTCOMES:
        expected = 1.0 if outcome == "applied" else 0.0
        assert value(metrics, "spfmanager_domain_last_outcome", outcome=outcome, **d) == expected
    assert value(metrics, "spfmanager_up") == 1
    assert value(metrics, "spfmanager_build_info", version=__version__) == 1


def test_the_outcome_state_set_follows_the_last_run_and_failures_keep_the_last_success() -> None:
    metrics = Metrics()
    metrics.observe_run("example.com", "unchanged", 0.1, lookups=3, records=1, now=NOW)
    metrics.observe_run("example.com", "failed", 0.2, error_cause="provider", now=NOW + 60)
    d = {"domain": "example.com"}
    outcome = {
        o: value(metrics, "spfmanager_domain_last_outcome", outcome=o, **d) for o in OUTCOMES
    }
    assert outcome == {o: (1.0 if o == "failed" else 0.0) for o in OUTCOMES}
    assert value(metrics, "spfmanager_domain_last_success_timestamp_seconds", **d) == NOW
    assert value(metrics, "spfmanager_domain_last_run_timestamp_seconds", **d) == NOW + 60
    # The failed run knew no record set: the published one's figures stay.
    assert value(metrics, "spfmanager_domain_dns_lookups", **d) == 3
    assert value(metrics, "spfmanager_domain_records", **d) == 1
    assert value(metrics, "spfmanager_domain_bytes", **d) is None  # never reported
    assert value(metrics, "spfmanager_errors_total", cause="provider", **d) == 1


def test_a_domain_that_never_succeeded_has_no_success_timestamp() -> None:
    metrics = Metrics()
    for outcome in ("held", "upstream-error", "failed", "skipped"):
        metrics.observe_run("example.org", outcome, 0.01, now=NOW)
    assert value(metrics, "spfmanager_domain_last_success_timestamp_seconds", domain="x") is None
    assert not [
        s for s in samples(metrics) if s.name == "spfmanager_domain_last_success_timestamp_seconds"
    ]


def test_counters_count_upstream_changes_holds_and_errors_by_cause() -> None:
    metrics = Metrics()
    metrics.observe_run("a.example", "held", 0.1, upstream_changed=True)
    metrics.observe_run("a.example", "held", 0.1, upstream_changed=True)
    metrics.observe_run("a.example", "upstream-error", 2.0, error_cause="dns-temporary")
    metrics.observe_run("a.example", "upstream-error", 2.0, error_cause="dns-temporary")
    metrics.observe_run("a.example", "failed", 0.5, error_cause="state")
    metrics.observe_run("b.example", "applied", 0.5, upstream_changed=True)
    a, b = {"domain": "a.example"}, {"domain": "b.example"}
    assert value(metrics, "spfmanager_upstream_changes_total", **a) == 2
    assert value(metrics, "spfmanager_upstream_changes_total", **b) == 1
    assert value(metrics, "spfmanager_held_changes_total", **a) == 2
    assert value(metrics, "spfmanager_held_changes_total", **b) == 0
    assert value(metrics, "spfmanager_errors_total", cause="dns-temporary", **a) == 2
    assert value(metrics, "spfmanager_errors_total", cause="state", **a) == 1
    assert value(metrics, "spfmanager_errors_total", cause="state", **b) is None


def test_the_duration_histogram_counts_runs_per_outcome_in_buckets() -> None:
    metrics = Metrics()
    for seconds in (0.01, 0.3, 0.3, 7.0, 1000.0):
        metrics.observe_run("example.com", "applied", seconds)
    metrics.observe_run("example.com", "skipped", 0.0)
    name = "spfmanager_run_duration_seconds"
    assert value(metrics, f"{name}_count", outcome="applied") == 5
    assert value(metrics, f"{name}_sum", outcome="applied") == pytest.approx(1007.61)
    assert value(metrics, f"{name}_bucket", outcome="applied", le="0.05") == 1
    assert value(metrics, f"{name}_bucket", outcome="applied", le="0.5") == 3
    assert value(metrics, f"{name}_bucket", outcome="applied", le="10.0") == 4
    assert value(metrics, f"{name}_bucket", outcome="applied", le="300.0") == 4
    assert value(metrics, f"{name}_bucket", outcome="applied", le="+Inf") == 5
    assert value(metrics, f"{name}_count", outcome="skipped") == 1
    assert value(metrics, f"{name}_count", outcome="held") == 0  # every outcome is present
    buckets = {s.labels["le"] for s in samples(metrics) if s.name == f"{name}_bucket"}
    assert len(buckets) == len(DURATION_BUCKETS) + 1


def test_the_scheduler_gauge_follows_the_scheduler() -> None:
    metrics = Metrics()
    assert value(metrics, "spfmanager_scheduler_running") == 0
    metrics.set_scheduler_running(True)
    assert value(metrics, "spfmanager_scheduler_running") == 1
    metrics.set_scheduler_running(False)
    assert value(metrics, "spfmanager_scheduler_running") == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcome": "published"}, "unknown outcome 'published'"),
        ({"outcome": "Applied"}, "unknown outcome"),
        ({"error_cause": "timeout"}, "unknown error cause 'timeout'"),
        ({"passing": {5: 1}}, "unknown address family 5"),
        ({"passing": {4: -1}}, "authorized addresses must be >= 0"),
        ({"duration": -1.0}, "duration must be"),
        ({"duration": float("nan")}, "duration must be"),
        ({"lookups": -1}, "lookups must be >= 0"),
        ({"domain": ""}, "domain must not be empty"),
    ],
)
def test_invalid_runs_are_refused_and_record_nothing(
    kwargs: dict[str, object], message: str
) -> None:
    metrics = Metrics()
    call: dict[str, object] = {"domain": "example.com", "outcome": "applied", "duration": 0.1}
    call.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        metrics.observe_run(**call)  # type: ignore[arg-type]
    assert metrics.domains == frozenset()
    assert value(metrics, "spfmanager_run_duration_seconds_count", outcome="applied") == 0


class _Outcome(StrEnum):
    HELD = "held"


def test_a_str_enum_outcome_is_stored_as_its_plain_value() -> None:
    metrics = Metrics()
    metrics.observe_run("example.com", _Outcome.HELD, 0.1)
    d = {"domain": "example.com"}
    assert value(metrics, "spfmanager_domain_last_outcome", outcome="held", **d) == 1
    assert value(metrics, "spfmanager_held_changes_total", **d) == 1


def test_forget_removes_every_series_of_a_domain_and_only_that_domain() -> None:
    metrics = Metrics()
    for domain in ("gone.example", "kept.example"):
        metrics.observe_run(
            domain,
            "applied",
            0.2,
            lookups=2,
            records=1,
            bytes_=100,
            passing={4: 1, 6: 1},
            upstream_changed=True,
            error_cause="dns",
        )
    kept_before = domain_series(metrics, "kept.example")
    assert domain_series(metrics, "gone.example")
    assert metrics.forget("gone.example") is True
    assert domain_series(metrics, "gone.example") == []
    assert domain_series(metrics, "kept.example") == kept_before
    assert metrics.domains == frozenset({"kept.example"})
    assert metrics.forget("gone.example") is False
    # The histogram has no domain label: its counts stay.
    assert value(metrics, "spfmanager_run_duration_seconds_count", outcome="applied") == 2


def test_label_values_stay_within_the_fixed_sets() -> None:
    metrics = Metrics()
    domains = [f"d{i}.example" for i in range(5)]
    for domain in domains:
        for outcome in OUTCOMES:
            for cause in ERROR_CAUSES:
                metrics.observe_run(
                    domain,
                    outcome,
                    0.1,
                    lookups=1,
                    records=1,
                    bytes_=1,
                    passing={4: 1, 6: 2},
                    error_cause=cause,
                )
    allowed = {
        "domain": set(domains),
        "outcome": set(OUTCOMES),
        "cause": set(ERROR_CAUSES),
        "family": {"ipv4", "ipv6"},
    }
    per_domain = 0
    for sample in samples(metrics):
        for label, values in allowed.items():
            if label in sample.labels:
                assert sample.labels[label] in values, sample
        per_domain += "domain" in sample.labels
    # Per domain: 3 run gauges, 6 outcomes, 3 record-set gauges, 2 families, 2 counters
    # and at most one error series per cause.
    assert per_domain == len(domains) * (3 + len(OUTCOMES) + 3 + 2 + 2 + len(ERROR_CAUSES))


def test_two_instances_do_not_share_series() -> None:
    one, two = Metrics(), Metrics()
    one.observe_run("example.com", "applied", 0.1)
    assert domain_series(one, "example.com")
    assert domain_series(two, "example.com") == []


def test_a_scrape_never_sees_half_a_run() -> None:
    metrics = Metrics(process_metrics=False)
    stop = threading.Event()

    def runs() -> None:
        i = 0
        while not stop.is_set():
            metrics.observe_run("example.com", OUTCOMES[i % len(OUTCOMES)], 0.01)
            i += 1

    writers = [threading.Thread(target=runs) for _ in range(3)]
    for writer in writers:
        writer.start()
    try:
        for _ in range(200):
            states = [
                s.value for s in samples(metrics) if s.name == "spfmanager_domain_last_outcome"
            ]
            assert states == [] or sorted(states) == [0.0] * (len(OUTCOMES) - 1) + [1.0]
    finally:
        stop.set()
        for writer in writers:
            writer.join()


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (errors.DNSTemporaryError("timeout"), "dns-temporary"),
        (errors.DNSError("nxdomain"), "dns"),
        (errors.FlattenError("upstream timed out", transient=True), "dns-temporary"),
        (errors.FlattenError("does not fit"), "flatten"),
        (
            errors.UpstreamRecordError("gone", cause=errors.RefusalCause.UPSTREAM_MISSING),
            "upstream",
        ),
        (errors.OwnRecordError("bad", cause=errors.RefusalCause.OWN_SYNTAX), "flatten"),
        (errors.SnapshotError("bad"), "snapshot"),
        (errors.SPFSyntaxError("bad"), "syntax"),
        (errors.ConfigError(["f:1: bad"]), "config"),
        (errors.VerificationError("differs"), "verification"),
        (errors.StateError("locked"), "state"),
        (errors.ProviderAuthError("403"), "provider-auth"),
        (errors.ProviderRateLimitError("429"), "provider-rate-limit"),
        (errors.ProviderServerError("500"), "provider-server"),
        (errors.ProviderError("refused"), "provider"),
        (errors.SPFManagerError("?"), "internal"),
        (KeyError("x"), "internal"),
    ],
)
def test_cause_of_maps_the_error_tree_onto_the_fixed_causes(
    error: BaseException, cause: str
) -> None:
    assert cause_of(error) == cause
    assert cause in ERROR_CAUSES


# --- docs/metrics.md cannot drift -------------------------------------------------------

_ROW = re.compile(r"^\|\s*`(?P<name>[a-z_]+)`\s*\|\s*(?P<type>\w+)\s*\|(?P<labels>[^|]*)\|.+\|$")


def _documented() -> dict[str, tuple[str, frozenset[str]]]:
    rows: dict[str, tuple[str, frozenset[str]]] = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            labels = frozenset(re.findall(r"`([a-z_]+)`", match["labels"]))
            assert match["name"] not in rows, f"{match['name']} documented twice"
            rows[match["name"]] = (match["type"], labels)
    return rows


def _exposed(metrics: Metrics) -> dict[str, tuple[str, frozenset[str]]]:
    """Every family of the registry as a user queries it: name, type, label names."""
    text = generate_latest(metrics.registry).decode()
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for family in text_string_to_metric_families(text):
        name = f"{family.name}_total" if family.type == "counter" else family.name
        labels = frozenset(k for s in family.samples for k in s.labels if k != "le")
        found[name] = (family.type, labels)
    return found


def test_every_registered_metric_is_documented_with_its_type_and_labels() -> None:
    metrics = Metrics()
    # One run of everything, so that every family has samples and shows its labels.
    metrics.observe_run(
        "example.com",
        "applied",
        0.1,
        lookups=1,
        records=1,
        bytes_=1,
        passing={4: 1, 6: 1},
        upstream_changed=True,
        error_cause="dns",
    )
    exposed, documented = _exposed(metrics), _documented()
    if sys.platform != "linux":  # prometheus-client reads process_* from /proc
        documented = {k: v for k, v in documented.items() if not k.startswith("process_")}
    assert sorted(set(exposed) - set(documented)) == [], "registered but not in docs/metrics.md"
    assert sorted(set(documented) - set(exposed)) == [], "in docs/metrics.md but not registered"
    for name, (kind, labels) in exposed.items():
        assert documented[name] == (kind, labels), name
