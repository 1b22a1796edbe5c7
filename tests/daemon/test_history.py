"""The daemon's history in the state store: runs, content-addressed snapshots, holds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from spfmanager.daemon.history import History, fingerprint
from spfmanager.publish.state import State, utcnow


def history(tmp_path: Path) -> History:
    return History(State(f"sqlite:///{tmp_path / 'state.db'}"))


def test_runs_are_kept_newest_first_with_their_records(tmp_path: Path) -> None:
    store = history(tmp_path)
    now = utcnow()
    ids = [
        store.add_run(
            domain="example.com",
            instance="a",
            started_at=now + timedelta(seconds=i),
            finished_at=now + timedelta(seconds=i, milliseconds=5),
            outcome=outcome,
            reason=f"run {i}",
            records={"example.com": [f"v=spf1 ip4:192.0.2.{i} -all"]},
            services={"services.x": {"4": [f"192.0.2.{i}/32"], "6": []}},
            changes=[f"update example.com #{i}"],
        )
        for i, outcome in enumerate(["applied", "failed", "upstream-error"])
    ]
    runs = store.runs("example.com")
    assert [r.id for r in runs] == ids[::-1]
    assert runs[0].outcome == "upstream-error" and runs[2].records == {
        "example.com": ["v=spf1 ip4:192.0.2.0 -all"]
    }
    assert runs[0].started_at.tzinfo is not None
    assert store.failures_in_a_row("example.com") == 2
    assert store.run(ids[0]) == runs[2]
    assert store.last_runs()["example.com"].id == ids[-1]
    assert store.runs("other.example") == []


def test_snapshots_are_stored_once_per_content(tmp_path: Path) -> None:
    store = history(tmp_path)
    data = {"spf.example": [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}]}
    first = store.add_snapshot(data)
    assert store.add_snapshot(dict(data)) == first
    assert store.add_snapshot({"spf.example": []}) != first
    assert store.snapshot(first) == data
    assert store.snapshot("0" * 64) is None


def test_a_hold_is_replaced_by_a_new_change_and_approved_only_as_is(tmp_path: Path) -> None:
    store = history(tmp_path)
    now = utcnow()
    a, b = fingerprint({"x": ["v=spf1 -all"]}), fingerprint({"x": ["v=spf1 +all"]})
    assert a != b and fingerprint(None) == fingerprint({})
    held = store.set_hold("example.com", "shrank", a, now)
    assert store.set_hold("example.com", "shrank", a, now + timedelta(seconds=9)) == held
    approved = store.approve("example.com", now)
    assert approved is not None and approved.approved_at is not None
    renewed = store.set_hold("example.com", "grew", b, now)  # upstream moved again
    assert renewed.fingerprint == b and renewed.approved_at is None
    assert [h.domain for h in store.holds()] == ["example.com"]
    store.release("example.com")
    assert store.hold("example.com") is None and store.approve("example.com", now) is None
