"""Prometheus metrics of the daemon: what each domain's last run did, and how runs go.

:class:`Metrics` owns its own :class:`~prometheus_client.CollectorRegistry` (never the
process-global one, so two daemons in one test process, or a library user's own metrics,
cannot collide) and one collector that renders every spfmanager family from a snapshot
taken under a lock: a scrape never sees half of a run (a state set with two outcomes at 1,
a lookup count from one run beside a record count from another).

Label cardinality is bounded by construction: the only open-ended label is ``domain``, one
value per configured domain (:meth:`Metrics.forget` drops a domain removed from the config);
every other label (``outcome``, ``family``, ``cause``) takes its values from the fixed
tuples below, and anything else is a :class:`ValueError`. The run-duration histogram has no
``domain`` label at all: per-domain timing is the ``last_run_duration`` gauge.

Every family is documented in ``docs/metrics.md``; a test keeps the two in step.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from spfmanager import __version__
from spfmanager.errors import (
    ConfigError,
    DNSError,
    DNSTemporaryError,
    FlattenError,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
    RefusalCause,
    SnapshotError,
    SPFSyntaxError,
    StateError,
    VerificationError,
)

__all__ = [
    "DURATION_BUCKETS",
    "ERROR_CAUSES",
    "FAMILIES",
    "OUTCOMES",
    "SUCCESS_OUTCOMES",
    "Metrics",
    "cause_of",
]

#: What one run did for one domain (the state store records the same words).
OUTCOMES: Final = ("applied", "unchanged", "held", "upstream-error", "failed", "skipped")
#: The outcomes that count as a success: the published records match the upstream now.
SUCCESS_OUTCOMES: Final = frozenset({"applied", "unchanged"})
#: Why a run failed: the ``cause`` label of ``spfmanager_errors_total``. See :func:`cause_of`.
ERROR_CAUSES: Final = (
    "dns",
    "dns-temporary",
    "upstream",
    "snapshot",
    "syntax",
    "config",
    "flatten",
    "verification",
    "state",
    "provider",
    "provider-auth",
    "provider-rate-limit",
    "provider-server",
    "internal",
)
#: Address family (4 or 6) -> the ``family`` label of ``..._authorized_addresses``.
FAMILIES: Final[Mapping[int, str]] = {4: "ipv4", 6: "ipv6"}
#: Upper bounds (seconds) of ``spfmanager_run_duration_seconds``: from a cached rebuild
#: (tens of milliseconds) to a rollover waiting on a slow provider API (minutes).
DURATION_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

# Most specific class first: the first match wins.
_CAUSES_BY_ERROR: Final[tuple[tuple[type[BaseException], str], ...]] = (
    (DNSTemporaryError, "dns-temporary"),
    (DNSError, "dns"),
    (SnapshotError, "snapshot"),
    (SPFSyntaxError, "syntax"),
    (ConfigError, "config"),
    (VerificationError, "verification"),
    (StateError, "state"),
    (ProviderAuthError, "provider-auth"),
    (ProviderRateLimitError, "provider-rate-limit"),
    (ProviderServerError, "provider-server"),
    (ProviderError, "provider"),
)


#: The causes that are upstream's, not the domain's own config: the last good record stays.
UPSTREAM_CAUSES: Final = frozenset({"dns-temporary", "upstream"})


def build_cause(transient: bool, refusal: RefusalCause | None) -> str:
    """The ``cause`` label of a build that flatten refused: ``dns-temporary`` (a timeout
    upstream), ``upstream`` (an include or redirect target vanished — a sudden NXDOMAIN —,
    duplicated, looping, nesting too deep or unparsable), else ``flatten``."""
    if transient or refusal is RefusalCause.TRANSIENT_DNS:
        return "dns-temporary"
    if refusal is not None and refusal.value.startswith("upstream-"):
        return "upstream"
    return "flatten"


def cause_of(error: BaseException) -> str:
    """The ``cause`` label (one of :data:`ERROR_CAUSES`) for an exception a run raised.

    A :class:`~spfmanager.errors.FlattenError` marked ``transient`` (a DNS timeout
    upstream) is ``dns-temporary``; anything outside the spfmanager tree is ``internal``.
    """
    if isinstance(error, FlattenError):
        return build_cause(error.transient, error.cause)
    for kind, cause in _CAUSES_BY_ERROR:
        if isinstance(error, kind):
            return cause
    return "internal"


@dataclass(slots=True)
class _Domain:
    """What the metrics know about one domain (mutated only under ``Metrics._lock``)."""

    last_run: float = 0.0
    last_duration: float = 0.0
    outcome: str = "skipped"
    last_success: float | None = None
    lookups: int | None = None
    records: int | None = None
    bytes_: int | None = None
    addresses: dict[str, int] = field(default_factory=dict)
    upstream_changes: int = 0
    held_changes: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def copy(self) -> _Domain:
        return _Domain(
            self.last_run,
            self.last_duration,
            self.outcome,
            self.last_success,
            self.lookups,
            self.records,
            self.bytes_,
            dict(self.addresses),
            self.upstream_changes,
            self.held_changes,
            dict(self.errors),
        )


@dataclass(slots=True)
class _Durations:
    """One histogram series: non-cumulative bucket counts (the last one is ``+Inf``)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        index = next(
            (i for i, bound in enumerate(DURATION_BUCKETS) if seconds <= bound),
            len(DURATION_BUCKETS),
        )
        self.counts[index] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        bounds = [*(repr(b) for b in DURATION_BUCKETS), "+Inf"]
        running, out = 0, []
        for bound, count in zip(bounds, self.counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out


class Metrics:
    """The daemon's Prometheus metrics, in a registry of their own (:attr:`registry`).

    Thread-safe: scheduler threads call :meth:`observe_run` while the HTTP server's threads
    scrape. ``process_metrics`` adds the standard ``process_*`` (Linux) and ``python_info``
    families of prometheus-client to the registry.
    """

    def __init__(self, *, process_metrics: bool = True) -> None:
        self._lock = threading.Lock()
        self._domains: dict[str, _Domain] = {}
        self._durations = {outcome: _Durations() for outcome in OUTCOMES}
        self._scheduler_running = False
        self._registry = CollectorRegistry()
        self._registry.register(_Collector(self))
        if process_metrics:
            ProcessCollector(registry=self._registry)
            PlatformCollector(registry=self._registry)

    @property
    def registry(self) -> CollectorRegistry:
        """The registry to expose (``generate_latest(metrics.registry)``)."""
        return self._registry

    @property
    def domains(self) -> frozenset[str]:
        """The domains that currently have series."""
        with self._lock:
            return frozenset(self._domains)

    def set_scheduler_running(self, running: bool) -> None:
        """Set ``spfmanager_scheduler_running``: 1 once the scheduler started, 0 when it stops."""
        with self._lock:
            self._scheduler_running = running

    def observe_run(
        self,
        domain: str,
        outcome: str,
        duration: float,
        *,
        lookups: int | None = None,
        records: int | None = None,
        bytes_: int | None = None,
        passing: Mapping[int, int] | None = None,
        upstream_changed: bool = False,
        error_cause: str | None = None,
        now: float | None = None,
    ) -> None:
        """Record one finished run of ``domain``.

        ``outcome`` is one of :data:`OUTCOMES`; ``duration`` the run's wall time in seconds.
        ``lookups`` (DNS lookups a receiver spends on the record set), ``records`` (TXT
        records in it), ``bytes_`` (their total size) and ``passing`` (address family 4/6 ->
        number of addresses it authorizes) describe the record set published after the run;
        ``None`` keeps the value of an earlier run (a failed run does not know them).
        ``upstream_changed`` counts an upstream change the run saw (whether or not it was
        published); ``error_cause`` (one of :data:`ERROR_CAUSES`, see :func:`cause_of`)
        counts an error. ``now`` is the Unix time the run finished (default: now).

        Raises :class:`ValueError` for an unknown outcome, family or cause, a negative or
        non-finite duration, or a negative count: nothing is recorded then.
        """
        if not domain:
            raise ValueError("domain must not be empty")
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")
        if error_cause is not None and error_cause not in ERROR_CAUSES:
            raise ValueError(
                f"unknown error cause {error_cause!r}: expected one of {', '.join(ERROR_CAUSES)}"
            )
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"duration must be a finite number of seconds >= 0, not {duration!r}")
        for name, count in (("lookups", lookups), ("records", records), ("bytes_", bytes_)):
            if count is not None and count < 0:
                raise ValueError(f"{name} must be >= 0, not {count!r}")
        addresses: dict[str, int] | None = None
        if passing is not None:
            addresses = {}
            for family, count in passing.items():
                if family not in FAMILIES:
                    raise ValueError(f"unknown address family {family!r}: expected 4 or 6")
                if count < 0:
                    raise ValueError(f"authorized addresses must be >= 0, not {count!r}")
                addresses[FAMILIES[family]] = count
        # Store the canonical plain strings, even when given members of a str enum.
        outcome = OUTCOMES[OUTCOMES.index(outcome)]
        if error_cause is not None:
            error_cause = ERROR_CAUSES[ERROR_CAUSES.index(error_cause)]
        finished = time.time() if now is None else now

        with self._lock:
            state = self._domains.setdefault(domain, _Domain())
            state.last_run = finished
            state.last_duration = duration
            state.outcome = outcome
            if outcome in SUCCESS_OUTCOMES:
                state.last_success = finished
            if lookups is not None:
                state.lookups = lookups
            if records is not None:
                state.records = records
            if bytes_ is not None:
                state.bytes_ = bytes_
            if addresses is not None:
                state.addresses = addresses
            if upstream_changed:
                state.upstream_changes += 1
            if outcome == "held":
                state.held_changes += 1
            if error_cause is not None:
                state.errors[error_cause] = state.errors.get(error_cause, 0) + 1
            self._durations[outcome].observe(duration)

    def forget(self, domain: str) -> bool:
        """Drop every series of ``domain`` (removed from the config); False if it had none.

        The run-duration histogram has no ``domain`` label and keeps its counts.
        """
        with self._lock:
            return self._domains.pop(domain, None) is not None

    def _snapshot(self) -> tuple[dict[str, _Domain], dict[str, _Durations], bool]:
        with self._lock:
            domains = {name: state.copy() for name, state in sorted(self._domains.items())}
            durations = {
                outcome: _Durations(list(series.counts), series.total)
                for outcome, series in self._durations.items()
            }
            return domains, durations, self._scheduler_running


class _Collector(Collector):
    """Renders :class:`Metrics` into metric families, from one consistent snapshot."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterable[Metric]:
        # Names only, so that the registry refuses a second collector with the same names.
        return list(self._families({}, {}, scheduler_running=False))

    def collect(self) -> Iterable[Metric]:
        domains, durations, running = self._metrics._snapshot()
        return list(self._families(domains, durations, scheduler_running=running))

    @staticmethod
    def _families(
        domains: Mapping[str, _Domain],
        durations: Mapping[str, _Durations],
        *,
        scheduler_running: bool,
    ) -> Iterator[Metric]:
        up = GaugeMetricFamily("spfmanager_up", "1 while the spfmanager process runs.")
        up.add_metric([], 1.0)
        yield up
        info = GaugeMetricFamily(
            "spfmanager_build_info", "The running spfmanager version (value 1).", labels=["version"]
        )
        info.add_metric([__version__], 1.0)
        yield info
        running = GaugeMetricFamily(
            "spfmanager_scheduler_running", "1 while the scheduler runs jobs, else 0."
        )
        running.add_metric([], 1.0 if scheduler_running else 0.0)
        yield running

        def gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=["domain", *extra])

        def counter(name: str, doc: str, extra: tuple[str, ...] = ()) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=["domain", *extra])

        last_success = gauge(
            "spfmanager_domain_last_success_timestamp_seconds",
            "Unix time of the domain's last applied or unchanged run.",
        )
        last_run = gauge(
            "spfmanager_domain_last_run_timestamp_seconds",
            "Unix time the domain's last run finished, whatever its outcome.",
        )
        last_duration = gauge(
            "spfmanager_domain_last_run_duration_seconds",
            "Wall time of the domain's last run.",
        )
        outcome = gauge(
            "spfmanager_domain_last_outcome",
            "Outcome of the domain's last run: 1 for that outcome, 0 for the others.",
            ("outcome",),
        )
        lookups = gauge(
            "spfmanager_domain_dns_lookups",
            "DNS lookups a receiver spends evaluating the published record set (limit 10).",
        )
        records = gauge("spfmanager_domain_records", "TXT records in the published record set.")
        size = gauge(
            "spfmanager_domain_bytes",
            "Total size in bytes of the published record set's TXT values.",
        )
        addresses = gauge(
            "spfmanager_domain_authorized_addresses",
            "Addresses the published record set authorizes (pass), per address family.",
            ("family",),
        )
        upstream = counter(
            "spfmanager_upstream_changes_total",
            "Runs that saw the domain's upstream records change (published or not).",
        )
        held = counter(
            "spfmanager_held_changes_total", "Runs that held a change back (outcome held)."
        )
        errors = counter("spfmanager_errors_total", "Runs that failed, by cause.", ("cause",))

        for domain, state in domains.items():
            if state.last_success is not None:
                last_success.add_metric([domain], state.last_success)
            last_run.add_metric([domain], state.last_run)
            last_duration.add_metric([domain], state.last_duration)
            for name in OUTCOMES:
                outcome.add_metric([domain, name], 1.0 if name == state.outcome else 0.0)
            if state.lookups is not None:
                lookups.add_metric([domain], float(state.lookups))
            if state.records is not None:
                records.add_metric([domain], float(state.records))
            if state.bytes_ is not None:
                size.add_metric([domain], float(state.bytes_))
            for family, count in sorted(state.addresses.items()):
                addresses.add_metric([domain, family], float(count))
            upstream.add_metric([domain], float(state.upstream_changes))
            held.add_metric([domain], float(state.held_changes))
            for cause, count in sorted(state.errors.items()):
                errors.add_metric([domain, cause], float(count))
        yield from (last_success, last_run, last_duration, outcome, lookups, records, size)
        yield from (addresses, upstream, held, errors)

        histogram = HistogramMetricFamily(
            "spfmanager_run_duration_seconds",
            "Wall time of domain runs, by outcome.",
            labels=["outcome"],
        )
        for name, series in durations.items():
            histogram.add_metric([name], series.cumulative(), series.total)
        yield histogram
