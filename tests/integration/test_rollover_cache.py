"""The rollover waits for the old root's TTL: a receiver that caches the old root never breaks.

``test_rollover.py`` checks SPF through a resolver without a cache, so it never meets the
case the wait exists for. Here the receiver keeps the root TXT record for its full TTL and
asks the server afresh for every other name. A cache may drop an entry early but never keep
it longer than its TTL, so this is the worst case a publisher must survive: the old root
stays in use for as long as DNS allows while the chained names it points at are not cached.

The old root (build A) has a TTL of 3 s, the new one (build B) 1 s, so that the wait must
be the *old* root's TTL. A's chained names are retired by applying B, and "later runs"
(plan and apply, every 0.2 s) delete them once that TTL has passed, and not before.
``test_early_cleanup_breaks_the_cached_old_root`` runs the same rollover with the deletion
forced early and asserts that the receiver then sees permerror: the check can fail.

Every result is compared with the intent of the root the receiver used (A's or B's); the
addresses whose result differs between A and B are therefore checked as strictly as the
others. All traffic goes to a BIND on 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import spfmanager
from spfmanager.dns.base import normalize_name
from spfmanager.dns.resolver import LiveResolver
from spfmanager.publish.plan import Phase
from spfmanager.publish.state import utcnow
from spfmanager.publish.workflow import Workspace
from tests.integration.bind import BindServer, named_binary
from tests.integration.test_rollover import UPSTREAM

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(named_binary() is None, reason="BIND 9 named is not installed"),
]

Result = spfmanager.Result
TXT = spfmanager.RRType.TXT
DOMAIN = "example.com"
SENDER = f"alice@{DOMAIN}"
HELO = f"mail.{DOMAIN}"
TTL_A = 3  # seconds: the old root's TTL, the wait the cleanup must honour
TTL_B = 1  # the new root's, shorter: waiting for it instead would be too early
SERVICES_A = ["microsoft365", "sendgrid"]
IP4_A = ["198.51.100.0/24"]  # authorized by A only
SERVICES_B = ["microsoft365", "sendgrid", "mailchimp"]  # Mailchimp: authorized by B only
# ip -> (result under A, result under B). Both roots redirect through two chained names.
INTENT = {
    "40.92.1.1": (Result.PASS, Result.PASS),  # matched in the root
    "167.0.0.1": (Result.PASS, Result.PASS),  # matched in the root
    "167.88.1.1": (Result.PASS, Result.PASS),  # matched in the last chained name
    "2a01:111:f400::1": (Result.PASS, Result.PASS),  # matched in the last chained name
    "167.119.0.1": (Result.FAIL, Result.FAIL),  # SendGrid's ~all: no match, then -all
    "192.0.2.1": (Result.FAIL, Result.FAIL),  # through the whole chain to -all
    "198.51.100.7": (Result.PASS, Result.FAIL),  # only A
    "205.201.128.1": (Result.FAIL, Result.PASS),  # only B
}
# s between the receiver caching the old root and the rollover's start: room for the
# receiver's own evaluation (a few ms), which must end before the old names may go
EARLIEST_SWITCH = 0.1
GRACE = 0.5  # s past the old root's TTL before its names may go (apply's retire_grace)
CLEANUP_INTERVAL = 0.2  # s between the later runs
CLEANUP_SLACK = 3.0  # s past the old root's TTL by which the cleanup must have happened
CHECKER_SECONDS = 30.0  # the checker stops after this long, or after MAX_CHECKS evaluations
MAX_CHECKS = 100_000
WAIT_SECONDS = 5.0  # bound on each wait for the checker


def write_config(
    path: Path, bind: BindServer, services: list[str], ip4: list[str], ttl: int
) -> None:
    domain: dict[str, Any] = {"services": services}
    if ip4:
        domain["ip4"] = ip4
    config = {
        "defaults": {"policy": "-all", "ttl": ttl, "provider": "dyn"},
        "providers": {
            "dyn": {
                "kind": "rfc2136",
                "server": "127.0.0.1",
                "port": bind.port,
                "tsig_name": bind.tsig_name,
                "tsig_secret": "env:SPFMANAGER_TEST_TSIG",
            }
        },
        "state": {"url": "sqlite:///state.db"},
        "domains": {DOMAIN: domain},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


def spf_texts(answer: spfmanager.Answer) -> tuple[str, ...]:
    return tuple(sorted(t.data.decode("ascii", "replace") for t in answer.texts()))


class RootCachingResolver:
    """A receiver's resolver: the root TXT answer kept for its TTL, every other name asked afresh.

    The root goes through a :class:`LiveResolver` with its TTL cache (real time); the rest
    through one without. ``root`` is the root record of the last answer given, ``fetched_at``
    (``time.monotonic()``) when the root last came from the server.
    """

    def __init__(self, bind: BindServer, domain: str) -> None:
        self._cached = bind.resolver()
        self._direct = bind.resolver(cache=False)
        self._domain = normalize_name(domain)
        self.root: tuple[str, ...] = ()
        self.fetched_at = 0.0

    def query(self, name: str, rrtype: spfmanager.RRType) -> spfmanager.Answer:
        if rrtype is not TXT or normalize_name(name) != self._domain:
            return self._direct.query(name, rrtype)
        sent = self._cached.queries
        answer = self._cached.query(name, rrtype)
        if self._cached.queries != sent:
            self.fetched_at = time.monotonic()
        self.root = spf_texts(answer)
        return answer

    def refetch(self) -> None:
        """Forget the cached root, and return once the receiver has fetched it again."""
        before = time.monotonic()
        self._cached.clear_cache()
        wait_for(lambda: self.fetched_at > before, "the receiver to fetch the root again")


@dataclass(frozen=True)
class Observation:
    at: float  # time.monotonic() when the evaluation ended
    ip: str
    root: tuple[str, ...]  # the root record it started from
    result: spfmanager.Result
    reason: str


class CachingChecker(threading.Thread):
    """Evaluates SPF for every address in INTENT, over and over, through a RootCachingResolver.

    Runs until ``stop`` is set, for at most CHECKER_SECONDS and MAX_CHECKS evaluations;
    ``errored`` is set on the first permerror or temperror.
    """

    def __init__(self, resolver: RootCachingResolver) -> None:
        super().__init__(daemon=True)
        self.resolver = resolver
        self.stop = threading.Event()
        self.errored = threading.Event()
        self.observations: list[Observation] = []
        self.stopped_by = "running"
        self.crash: BaseException | None = None

    def run(self) -> None:
        deadline = time.monotonic() + CHECKER_SECONDS
        try:
            while not self.stop.is_set():
                if len(self.observations) >= MAX_CHECKS or time.monotonic() >= deadline:
                    self.stopped_by = "bound"
                    return
                for ip in INTENT:
                    outcome = spfmanager.evaluate(ip, SENDER, HELO, resolver=self.resolver)
                    self.observations.append(
                        Observation(
                            time.monotonic(),
                            ip,
                            self.resolver.root,
                            outcome.result,
                            outcome.reason,
                        )
                    )
                    if outcome.result.is_error:
                        self.errored.set()
            self.stopped_by = "stop"
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.crash = exc
            self.stopped_by = "crash"

    def finish(self) -> list[Observation]:
        self.stop.set()
        self.join(timeout=WAIT_SECONDS)
        assert not self.is_alive(), "the checker did not stop"
        assert self.crash is None, f"the checker crashed: {self.crash!r}"
        assert self.stopped_by == "stop", "the checker hit its bound before the test ended"
        return list(self.observations)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def violations(observations: list[Observation], roots: dict[tuple[str, ...], int]) -> list[str]:
    """Observations whose result is not the intent of the root they used (0: A, 1: B)."""
    found = []
    for obs in observations:
        build = roots.get(obs.root)
        if build is None:
            found.append(f"{obs.ip}: {obs.result} from an unknown root {obs.root}")
        elif obs.result is not INTENT[obs.ip][build]:
            want = INTENT[obs.ip][build]
            found.append(
                f"{obs.ip} with root {'AB'[build]}: {obs.result}, want {want} ({obs.reason})"
            )
    return found


@dataclass
class Rollover:
    """Build B published over build A while a CachingChecker holds A's root."""

    config: Path
    upstream: spfmanager.SnapshotResolver
    live: LiveResolver  # no cache: what the server serves now
    old_names: set[str]
    receiver: RootCachingResolver
    checker: CachingChecker
    switch_started: datetime = field(default_factory=utcnow)
    switch_done: datetime = field(default_factory=utcnow)
    switched_at: float = 0.0  # time.monotonic() once B is applied
    roots: dict[tuple[str, ...], int] = field(default_factory=dict)

    def served(self) -> set[str]:
        """A's chained names the server still serves."""
        return {n for n in self.old_names if self.live.query(n, TXT).texts()}


@pytest.fixture
def bind(monkeypatch: pytest.MonkeyPatch) -> Iterator[BindServer]:
    with BindServer({DOMAIN: {f"www.{DOMAIN}": [{"A": "192.0.2.80"}]}}, tsig=True) as server:
        assert server.tsig_secret is not None
        monkeypatch.setenv("SPFMANAGER_TEST_TSIG", server.tsig_secret)
        yield server


@pytest.fixture
def rollover(tmp_path: Path, bind: BindServer) -> Iterator[Rollover]:
    """Apply A, start the checker on A's root, then apply B the moment after it cached it."""
    config = tmp_path / "spfmanager.yaml"
    upstream = spfmanager.SnapshotResolver(UPSTREAM)
    live = bind.resolver(cache=False)

    write_config(config, bind, SERVICES_A, IP4_A, TTL_A)
    first = Workspace.load(config, upstream)
    plan_a = first.plan()
    first.apply(plan_a)
    assert plan_a.domains[0].build.result is not None
    old_names = set(plan_a.domains[0].build.result.records) - {DOMAIN}
    assert len(old_names) >= 2
    root_a = spf_texts(live.query(DOMAIN, TXT))
    assert live.query(DOMAIN, TXT).ttl == TTL_A
    for ip, (want, _) in INTENT.items():
        assert spfmanager.evaluate(ip, SENDER, HELO, resolver=live).result is want, ip

    write_config(config, bind, SERVICES_B, [], TTL_B)
    second = Workspace.load(config, upstream)
    plan_b = second.plan()
    assert plan_b.changes[0].phase is Phase.CHAIN
    assert set(plan_b.domains[0].retire) == old_names

    receiver = RootCachingResolver(bind, DOMAIN)
    checker = CachingChecker(receiver)
    checker.start()
    state = Rollover(config, upstream, live, old_names, receiver, checker)
    try:
        wait_for(lambda: len(checker.observations) >= len(INTENT), "a first round of checks")
        # The worst moment for the receiver to cache the old root: just before the rollover.
        receiver.refetch()
        assert receiver.root == root_a
        time.sleep(EARLIEST_SWITCH)
        state.switch_started = utcnow()
        report = second.apply(plan_b, retire_grace=GRACE)
        state.switch_done = utcnow()
        state.switched_at = time.monotonic()
        root_b = spf_texts(live.query(DOMAIN, TXT))
        assert root_b != root_a
        assert state.served() == old_names
        assert {p.name for p in report.scheduled} == old_names
        for pending in report.scheduled:  # the old root's TTL and the grace, from the switch
            wait = timedelta(seconds=TTL_A + GRACE)
            assert state.switch_started + wait <= pending.not_before <= state.switch_done + wait
        state.roots = {root_a: 0, root_b: 1}
        yield state
    finally:
        checker.stop.set()
        checker.join(timeout=WAIT_SECONDS)


def test_cached_old_root_never_meets_a_deleted_name(rollover: Rollover) -> None:
    checker, receiver = rollover.checker, rollover.receiver
    due = rollover.switch_started + timedelta(seconds=TTL_A + GRACE)  # earliest deletion
    deadline = time.monotonic() + TTL_A + GRACE + CLEANUP_SLACK
    kept: list[datetime] = []  # when the later runs that kept A's names planned
    deleted_by: datetime | None = None
    while deleted_by is None and time.monotonic() < deadline:
        later = Workspace.load(rollover.config, rollover.upstream)
        plan = later.plan()
        cleanup = {c.name for c in plan.changes if c.phase is Phase.CLEANUP}
        later.apply(plan)
        served = rollover.served()
        if served:
            assert served == rollover.old_names, f"deleted only some of A's names: {served}"
            assert not cleanup & rollover.old_names
            # once the old root's TTL has passed since the switch, a run must delete them
            latest = rollover.switch_done + timedelta(seconds=TTL_A + GRACE)
            assert plan.created_at < latest, f"{served} still served at {plan.created_at}"
            kept.append(plan.created_at)
            time.sleep(CLEANUP_INTERVAL)
        else:
            assert cleanup == rollover.old_names
            deleted_by = plan.created_at
    assert deleted_by is not None, "A's chained names were never deleted"
    deleted_at = time.monotonic()
    for name in rollover.old_names:
        assert rollover.live.query(name, TXT).nxdomain
    # keep checking on B's root (cached for TTL_B) for a while after the deletion
    wait_for(
        lambda: sum(o.at > deleted_at for o in checker.observations) >= 3 * len(INTENT),
        "checks after the deletion",
    )
    observations = checker.finish()

    # what the receiver saw: never an error, always the intent of the root it used ...
    errors = [o for o in observations if o.result.is_error]
    assert not errors, f"{len(errors)} errors, first: {errors[0].ip} {errors[0].reason}"
    wrong = violations(observations, rollover.roots)
    assert not wrong, f"{len(wrong)} wrong results, first: {wrong[:3]}"
    # ... having used A's root for (almost) all of its TTL after B was published, then B's
    old_root_after_switch = [
        o.at
        for o in observations
        if rollover.roots.get(o.root) == 0 and o.at > rollover.switched_at
    ]
    assert old_root_after_switch
    held = max(old_root_after_switch) - rollover.switched_at
    assert held > TTL_A - EARLIEST_SWITCH - 0.5, f"old root used only {held:.2f}s after the switch"
    assert any(rollover.roots.get(o.root) == 1 for o in observations)
    assert receiver.root in rollover.roots

    # what the later runs did: kept A's names right up to the old root's TTL, then deleted them
    assert deleted_by >= due, f"deleted {(due - deleted_by).total_seconds():.3f}s too early"
    assert len(kept) >= 5, f"only {len(kept)} later runs before the old root's TTL had passed"
    assert max(kept) > due - timedelta(seconds=1)
    for ip, (_, want) in INTENT.items():
        assert spfmanager.evaluate(ip, SENDER, HELO, resolver=rollover.live).result is want, ip


def test_early_cleanup_breaks_the_cached_old_root(rollover: Rollover) -> None:
    """The same rollover with the cleanup run told the TTL has passed: the check must fail."""
    checker, receiver = rollover.checker, rollover.receiver
    too_early = utcnow() + timedelta(seconds=TTL_A + GRACE + 1)
    later = Workspace.load(rollover.config, rollover.upstream)
    plan = later.plan(now=too_early)
    assert {c.name for c in plan.changes if c.phase is Phase.CLEANUP} == rollover.old_names
    later.apply(plan, now=too_early)
    assert not rollover.served()
    # the receiver still holds A's root, which points at the names just deleted
    assert time.monotonic() < receiver.fetched_at + TTL_A
    assert checker.errored.wait(TTL_A + 1), "the caching checker never saw the broken chain"
    observations = checker.finish()

    broken = [o for o in observations if o.result.is_error]
    assert {o.result for o in broken} == {Result.PERMERROR}
    assert all(rollover.roots.get(o.root) == 0 for o in broken)
    assert violations(observations, rollover.roots)
