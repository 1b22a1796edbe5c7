"""A corrupt, locked or unreachable state store is a clean error, never a traceback (7.11)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spfmanager.cli import app
from spfmanager.errors import StateError
from spfmanager.publish.state import PendingDeletion, State, utcnow
from tests.test_workflow import write_config

runner = CliRunner()


def healthy(path: Path) -> None:
    state = State(f"sqlite:///{path}")
    state.record_published("example.com", {"example.com": ["v=spf1 -all"]}, 0, utcnow())
    state.add_pending(
        [PendingDeletion("p", "example.com", "_spf1-x.example.com", "example.com", utcnow())]
    )
    state.record_service_sizes("example.com", {"services.x": {4: 1}})
    state.log_apply("p", "example.com", ["create x"], utcnow())
    state.engine.dispose()


def exercise(path: Path) -> None:
    state = State(f"sqlite:///{path}", busy_timeout=0.2)
    state.last_good("example.com")
    state.pending("p", "example.com")
    state.service_sizes("example.com")
    state.applied("p", "example.com")
    state.record_published("example.com", {"example.com": ["v=spf1 -all"]}, 0, utcnow())
    state.add_pending(
        [PendingDeletion("p", "example.com", "n.example.com", "example.com", utcnow())]
    )


def sql(path: Path, *statements: str) -> None:
    connection = sqlite3.connect(path)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


CORRUPTIONS = {
    "random bytes": lambda p: p.write_bytes(b"\x00garbage" * 512),
    "text file": lambda p: p.write_text("not a database\n"),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:1500]),
    "zeroed header": lambda p: p.write_bytes(b"\x00" * 100 + p.read_bytes()[100:]),
    "bad page": lambda p: p.write_bytes(
        p.read_bytes()[:4096] + b"\xff" * 4096 + p.read_bytes()[8192:]
    ),
    "json in records": lambda p: sql(p, "UPDATE published SET records = '{not json'"),
    "records not a mapping": lambda p: sql(p, "UPDATE published SET records = '[1, 2]'"),
    "date garbage": lambda p: sql(p, "UPDATE pending_deletions SET not_before = 'yesterday'"),
    "date number": lambda p: sql(p, "UPDATE pending_deletions SET not_before = 12"),
    "sizes garbage": lambda p: sql(p, "UPDATE service_addresses SET sizes = '{\"x\": 3}'"),
    "applies garbage": lambda p: sql(p, "UPDATE applies SET changes = 'nope'"),
    "table dropped": lambda p: sql(p, "DROP TABLE published", "CREATE TABLE published (x INT)"),
    "column missing": lambda p: sql(
        p, "DROP TABLE pending_deletions", "CREATE TABLE pending_deletions (provider TEXT)"
    ),
    "table is a view": lambda p: sql(
        p, "DROP TABLE applies", "CREATE VIEW applies AS SELECT 1 AS id"
    ),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_state_is_a_state_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "state.db"
    healthy(path)
    CORRUPTIONS[kind](path)
    with pytest.raises(StateError, match=r"state store sqlite:///.*state\.db"):
        exercise(path)


def test_locked_state_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    healthy(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StateError, match="locked"):
            exercise(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_directory_is_not_a_state_file(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="cannot open"):
        State(f"sqlite:///{tmp_path}")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://x/y", "unknown database kind"),
        ("postgresql+nosuchdriver://u:secret@localhost/db", "unknown database kind"),
        ("mysql+mysqldb://u:secret@localhost/db", "driver is not installed"),
    ],
)
def test_state_url_problems_are_clean_and_hide_the_password(url: str, message: str) -> None:
    with pytest.raises(StateError, match=message) as caught:
        State(url)
    assert "secret" not in str(caught.value)


def test_cli_reports_a_corrupt_state_cleanly(tmp_path: Path) -> None:
    config = write_config(tmp_path, ["microsoft365"])
    (tmp_path / "state.db").write_bytes(b"\x00garbage" * 512)
    snapshot = tmp_path / "snapshot.yaml"
    snapshot.write_text(
        "spf.protection.outlook.com:\n  - TXT: v=spf1 ip4:40.92.0.0/15 -all\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["plan", "-c", str(config), "--dns-snapshot", str(snapshot)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "state store" in result.output


def test_zone_lock_excludes_a_second_holder_and_lapses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first, second = State(url), State(url)
    with (
        first.zone_lock("p", "example.com"),
        pytest.raises(StateError, match="locked by another spfmanager run"),
        second.zone_lock("p", "example.com", timeout=0.3),
    ):
        pass
    with second.zone_lock("p", "example.com", timeout=1):  # released: free again
        pass
    with (
        first.zone_lock("p", "example.com", lease=-1),
        second.zone_lock("p", "example.com", timeout=1),
    ):
        pass  # a crashed holder's lease lapses
