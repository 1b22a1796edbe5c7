"""The state store (:class:`spfmanager.publish.state.State`) on a real SQLite file.

Corrupt and unreadable stores are tested in ``test_state_errors.py``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spfmanager.errors import StateError
from spfmanager.publish.state import PendingDeletion, State

T0 = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
ROOT = ["v=spf1 ip4:192.0.2.0/24 redirect=_spf1-0123abcd.example.com"]
LINK = ["v=spf1 ip4:198.51.100.0/24 ", "-all"]


def store(tmp_path: Path) -> State:
    return State(f"sqlite:///{tmp_path / 'state.db'}")


def deletion(
    name: str, when: datetime, zone: str = "example.com", provider: str = "local"
) -> PendingDeletion:
    return PendingDeletion(provider, zone, name, zone, when)


def test_published_records_round_trip_root_first_and_are_replaced(tmp_path: Path) -> None:
    state = store(tmp_path)
    assert state.last_good("example.com") is None
    records = {"example.com": ROOT, "_spf1-0123abcd.example.com": LINK}
    state.record_published("example.com", records, 1, T0)
    stored = state.last_good("example.com")
    assert stored == records
    assert list(stored or {}) == ["example.com", "_spf1-0123abcd.example.com"]
    state.record_published("example.com", {"example.com": ["v=spf1 -all"]}, 0, T0)
    assert state.last_good("example.com") == {"example.com": ["v=spf1 -all"]}
    assert state.last_good("example.org") is None


def test_service_sizes_round_trip_with_huge_ipv6_counts(tmp_path: Path) -> None:
    state = store(tmp_path)
    assert state.service_sizes("example.com") is None
    sizes = {
        "services.microsoft365": {4: 196_608, 6: 1 << 80},
        "include.example.net": {4: 0, 6: (1 << 112) + 1},  # > 2**64: no SQL integer holds it
    }
    state.record_service_sizes("example.com", sizes)
    assert state.service_sizes("example.com") == sizes
    state.record_service_sizes("example.com", {"services.mailchimp": {4: 20_480, 6: 0}})
    assert state.service_sizes("example.com") == {"services.mailchimp": {4: 20_480, 6: 0}}
    assert state.service_sizes("example.org") is None


def test_pending_deletions_are_per_zone_and_keep_the_earlier_time(tmp_path: Path) -> None:
    state = store(tmp_path)
    state.add_pending(
        [
            deletion("_spf1-aaaaaaaa.example.com", T0),
            deletion("_spf1-bbbbbbbb.example.com", T0 + timedelta(hours=1)),
            deletion("_spf1-cccccccc.example.org", T0, zone="example.org"),
            deletion("_spf1-aaaaaaaa.example.com", T0, provider="aws"),
        ]
    )
    # Scheduled again (a later rollover retires it too): the earlier time stands.
    state.add_pending([deletion("_spf1-aaaaaaaa.example.com", T0 + timedelta(days=1))])
    pending = sorted(state.pending("local", "example.com"), key=lambda p: p.name)
    assert pending == [
        deletion("_spf1-aaaaaaaa.example.com", T0),
        deletion("_spf1-bbbbbbbb.example.com", T0 + timedelta(hours=1)),
    ]
    assert all(p.not_before.tzinfo is not None for p in pending)  # SQLite's naive times: UTC
    assert [p.due(T0) for p in pending] == [True, False]
    assert state.pending("local", "example.org") == [
        deletion("_spf1-cccccccc.example.org", T0, zone="example.org")
    ]
    assert [p.provider for p in state.pending("aws", "example.com")] == ["aws"]


def test_remove_pending_forgets_only_the_named_in_that_zone(tmp_path: Path) -> None:
    state = store(tmp_path)
    names = ["_spf1-aaaaaaaa.example.com", "_spf1-bbbbbbbb.example.com"]
    state.add_pending([deletion(n, T0) for n in names])
    state.add_pending([deletion(names[0], T0, provider="aws")])
    state.remove_pending("local", "example.com", [])
    assert len(state.pending("local", "example.com")) == 2
    state.remove_pending("local", "example.com", [names[0], "_spf9-unknown0.example.com"])
    assert [p.name for p in state.pending("local", "example.com")] == [names[1]]
    assert [p.name for p in state.pending("aws", "example.com")] == [names[0]]


def test_the_apply_log_keeps_its_order_per_zone(tmp_path: Path) -> None:
    state = store(tmp_path)
    assert state.applied("local", "example.com") == []
    state.log_apply("local", "example.com", ["create b", "create a"], T0 + timedelta(hours=2))
    state.log_apply("local", "example.org", ["update example.org"], T0)
    state.log_apply("local", "example.com", ["update example.com"], T0)  # an earlier clock
    state.log_apply("local", "example.com", ["delete c"], T0 + timedelta(hours=1))
    assert state.applied("local", "example.com") == [
        ["create b", "create a"],
        ["update example.com"],
        ["delete c"],
    ]
    assert state.applied("local", "example.org") == [["update example.org"]]


def test_a_second_store_on_the_same_file_sees_the_first_ones_writes(tmp_path: Path) -> None:
    first, second = store(tmp_path), store(tmp_path)
    first.record_published("example.com", {"example.com": ROOT}, 0, T0)
    first.record_service_sizes("example.com", {"services.x": {4: 1, 6: 1 << 70}})
    first.add_pending([deletion("_spf1-aaaaaaaa.example.com", T0)])
    first.log_apply("local", "example.com", ["create example.com"], T0)
    assert second.last_good("example.com") == {"example.com": ROOT}
    assert second.service_sizes("example.com") == {"services.x": {4: 1, 6: 1 << 70}}
    assert second.pending("local", "example.com") == [deletion("_spf1-aaaaaaaa.example.com", T0)]
    assert second.applied("local", "example.com") == [["create example.com"]]
    second.remove_pending("local", "example.com", ["_spf1-aaaaaaaa.example.com"])
    assert first.pending("local", "example.com") == []


def test_the_zone_lock_excludes_another_store_until_released(tmp_path: Path) -> None:
    holder, other = store(tmp_path), store(tmp_path)
    with holder.zone_lock("local", "example.com"):
        started = time.monotonic()
        with (
            pytest.raises(StateError, match=r"zone example\.com at provider local is locked"),
            other.zone_lock("local", "example.com", timeout=0.3, poll=0.05),
        ):
            pass
        assert time.monotonic() - started >= 0.3  # it waited for the timeout
        # Another zone, or the same zone at another provider, is not held.
        with other.zone_lock("local", "example.org", timeout=0):
            pass
        with other.zone_lock("aws", "example.com", timeout=0):
            pass
    with other.zone_lock("local", "example.com", timeout=0):
        pass


def test_a_waiting_writer_gets_the_lock_once_it_is_released(tmp_path: Path) -> None:
    holder, waiter = store(tmp_path), store(tmp_path)
    order: list[str] = []
    locked = threading.Event()

    def hold() -> None:
        with holder.zone_lock("local", "example.com"):
            locked.set()
            time.sleep(0.3)
            order.append("holder done")

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(5)
    with waiter.zone_lock("local", "example.com", timeout=10, poll=0.02):
        order.append("waiter in")
    thread.join()
    assert order == ["holder done", "waiter in"]


def test_a_lapsed_lease_is_taken_over_and_the_old_holder_frees_nothing(tmp_path: Path) -> None:
    crashed, taker, third = store(tmp_path), store(tmp_path), store(tmp_path)
    with crashed.zone_lock("local", "example.com", lease=0.2):
        with (
            pytest.raises(StateError, match="locked"),
            taker.zone_lock("local", "example.com", timeout=0),
        ):
            pass
        time.sleep(0.3)  # the holder hangs past its lease
        with taker.zone_lock("local", "example.com", timeout=2, poll=0.05):
            pass
        # The taker holds it now; the late holder's release must not free the taker's lock.
        taken = taker.zone_lock("local", "example.com", timeout=0)
        taken.__enter__()
    try:
        with (
            pytest.raises(StateError, match="locked"),
            third.zone_lock("local", "example.com", timeout=0),
        ):
            pass
    finally:
        taken.__exit__(None, None, None)
    with third.zone_lock("local", "example.com", timeout=0):
        pass
