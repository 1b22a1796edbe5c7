"""The state store on a real PostgreSQL server on 127.0.0.1 — the store daemons share.

Each test gets a database of its own (``postgres_db``); the concurrency tests use real
processes, each with its own connections, as several spfmanager runs on several hosts would.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from spfmanager.cli import app
from spfmanager.errors import StateError
from spfmanager.providers.zonefile import ZoneFileProvider
from spfmanager.publish.state import PendingDeletion, State, utcnow
from tests.integration.postgres import PASSWORD, PASSWORD_ROLE, PostgresServer, free_port
from tests.test_workflow import UPSTREAM

pytestmark = pytest.mark.integration

PROVIDER, ZONE = "powerdns", "example.com"
WAIT = 30.0  # seconds a child process may take to report

# A child holding the zone lock until it reads a line (or is killed).
HOLD_LOCK = """
import sys
from spfmanager.publish.state import State
state = State(sys.argv[1])
with state.zone_lock(sys.argv[2], sys.argv[3], lease=float(sys.argv[4]), timeout=30):
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""

# A child taking the lock ``rounds`` times, writing "in"/"out" around each hold.
CONTEND = """
import os, sys, time
from spfmanager.publish.state import State
url, journal, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
state = State(url)
print("ready", flush=True)
sys.stdin.readline()
def note(word):
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{os.getpid()} {word}\\n".encode())
    os.close(fd)
for _ in range(rounds):
    with state.zone_lock("powerdns", "example.com", poll=0.01, timeout=60):
        note("in")
        time.sleep(0.02)
        note("out")
print("done", flush=True)
"""

# A child opening a store (creating its tables) the moment it reads a line.
OPEN_STORE = """
import sys
from spfmanager.publish import state
url = sys.argv[1]
print("ready", flush=True)
sys.stdin.readline()
store = state.State(url)
store.record_service_sizes(sys.argv[2], {"svc": {4: 1}})
print("opened", flush=True)
"""


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )


def expect(process: subprocess.Popen[str], word: str, timeout: float = WAIT) -> None:
    """Wait until the child prints ``word`` on a line of its own."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = process.stdout.readline()
        if not line:
            break  # the child exited
        seen.append(line)
        if line.strip() == word:
            return
    process.kill()
    rest = process.communicate()[0]
    pytest.fail(f"child did not print {word!r}:\n{''.join(seen)}{rest}")


def tell(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def finish(process: subprocess.Popen[str]) -> None:
    try:
        out, _ = process.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    assert process.returncode == 0, out


def database_name(url: str) -> str:
    name = make_url(url).database
    assert name is not None
    return name


def test_the_session_server_listens_on_loopback_only(postgres_url: str) -> None:
    import psycopg  # noqa: PLC0415 - the fixture skips when it is not installed

    url = make_url(postgres_url)
    assert (url.drivername, url.host, url.username, url.database) == (
        "postgresql+psycopg",
        "127.0.0.1",
        "postgres",
        "spfmanager",
    )
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database) as c:
        settings = dict(c.execute("SELECT name, setting FROM pg_settings").fetchall())
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["fsync"] == "off"
    assert State(postgres_url).last_good("example.com") is None


def test_published_records_round_trip(postgres_db: str) -> None:
    state = State(postgres_db)
    assert state.last_good("example.com") is None
    chained = {
        "example.com": ["v=spf1 redirect=_spf1-0a1b2c.example.com"],
        "_spf1-0a1b2c.example.com": ["v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32", " -all"],
    }
    state.record_published("example.com", chained, 3, utcnow())
    assert state.last_good("example.com") == chained
    assert list(state.last_good("example.com") or {}) == list(chained)  # root first
    flat = {"example.com": ["v=spf1 ip4:198.51.100.0/24 -all"]}
    state.record_published("example.com", flat, 0, utcnow())
    state.record_published("other.example", chained, 3, utcnow())
    reopened = State(postgres_db)  # another process's view: nothing cached in the object
    assert reopened.last_good("example.com") == flat
    assert reopened.last_good("other.example") == chained


def test_service_sizes_beyond_64_bits_round_trip(postgres_db: str) -> None:
    state = State(postgres_db)
    assert state.service_sizes("example.com") is None
    sizes = {
        "microsoft365": {4: 2**17 + 2**16, 6: 2**80},  # a /48 of IPv6: 2**80 addresses
        "everything-v6": {6: 2**128},
        "odd": {4: 1, 6: 2**64 + 1},
    }
    state.record_service_sizes("example.com", sizes)
    assert State(postgres_db).service_sizes("example.com") == sizes
    state.record_service_sizes("example.com", {"odd": {6: 2**127 - 1}})
    assert state.service_sizes("example.com") == {"odd": {6: 2**127 - 1}}


def test_pending_deletions_add_keep_earlier_and_remove(postgres_db: str) -> None:
    state = State(postgres_db)
    early = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    late = early + timedelta(hours=1)

    def pending(name: str, when: datetime, zone: str = ZONE) -> PendingDeletion:
        return PendingDeletion(PROVIDER, zone, name, "example.com", when)

    state.add_pending([pending("_spf1-old.example.com", early)])
    state.add_pending(
        [pending("_spf1-old.example.com", late), pending("_spf1-older.example.com", late)]
    )
    state.add_pending([pending("_spf1-old.example.net", late, zone="example.net")])
    found = {p.name: p for p in State(postgres_db).pending(PROVIDER, ZONE)}
    assert set(found) == {"_spf1-old.example.com", "_spf1-older.example.com"}
    assert found["_spf1-old.example.com"].not_before == early  # the earlier time is kept
    assert found["_spf1-older.example.com"].not_before == late
    assert found["_spf1-old.example.com"].due(early) and not found["_spf1-old.example.com"].due(
        early - timedelta(microseconds=1)
    )
    state.remove_pending(PROVIDER, ZONE, ["_spf1-old.example.com", "_spf1-never.example.com"])
    assert [p.name for p in state.pending(PROVIDER, ZONE)] == ["_spf1-older.example.com"]
    assert [p.name for p in state.pending(PROVIDER, "example.net")] == ["_spf1-old.example.net"]
    assert state.pending("route53", ZONE) == []


def test_apply_log_keeps_the_order_of_applies(postgres_db: str) -> None:
    state = State(postgres_db)
    start = utcnow()
    for i in range(5):
        # Clocks of several hosts disagree: the log's order is the order of the writes.
        state.log_apply(PROVIDER, ZONE, [f"create _spf1-{i}.example.com"], start - timedelta(i))
        state.log_apply(PROVIDER, "example.net", [f"net {i}"], start)
    state.log_apply(PROVIDER, ZONE, ["update example.com", "delete _spf1-0.example.com"], start)
    assert State(postgres_db).applied(PROVIDER, ZONE) == [
        *([f"create _spf1-{i}.example.com"] for i in range(5)),
        ["update example.com", "delete _spf1-0.example.com"],
    ]
    assert state.applied(PROVIDER, "example.net") == [[f"net {i}"] for i in range(5)]
    assert state.applied("route53", ZONE) == []


@pytest.mark.parametrize(
    "timezone",
    [
        "UTC",
        "Asia/Kolkata",
        "America/New_York",
    ],
)
def test_timestamps_come_back_aware_in_utc(
    postgres_server: PostgresServer, postgres_db: str, timezone: str
) -> None:
    """Whatever the database's TimeZone setting (a shared server's may be local time)."""
    postgres_server.execute(
        f"ALTER DATABASE {database_name(postgres_db)} SET timezone TO '{timezone}'"
    )
    state = State(postgres_db)
    when = datetime(2030, 6, 1, 12, 0, 0, 1, tzinfo=UTC)
    state.add_pending([PendingDeletion(PROVIDER, ZONE, "_spf1-x.example.com", ZONE, when)])
    (found,) = state.pending(PROVIDER, ZONE)
    assert found.not_before == when
    assert found.not_before.utcoffset() == timedelta(0), found.not_before.tzinfo
    assert found.not_before.isoformat() == when.isoformat()


def test_zone_lock_excludes_another_process(postgres_db: str) -> None:
    State(postgres_db)  # tables first: this test is about the lock, not their creation
    holder = spawn(HOLD_LOCK, postgres_db, PROVIDER, ZONE, "900")
    try:
        expect(holder, "held")
        state = State(postgres_db)
        started = time.monotonic()
        with (
            pytest.raises(StateError, match="is locked by another spfmanager run"),
            state.zone_lock(PROVIDER, ZONE, timeout=0.5, poll=0.05),
        ):
            pytest.fail("took a lock another process holds")
        assert time.monotonic() - started < 5
        with state.zone_lock(PROVIDER, "example.net", timeout=1):  # other zones are free
            pass
        with state.zone_lock("route53", ZONE, timeout=1):  # same zone, another provider
            pass
        tell(holder)
        expect(holder, "released")
        with state.zone_lock(PROVIDER, ZONE, timeout=5, poll=0.05):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_zone_lock_serialises_processes_that_contend(postgres_db: str, tmp_path: Path) -> None:
    State(postgres_db)
    journal = tmp_path / "journal"
    rounds, workers = 6, 3
    children = [spawn(CONTEND, postgres_db, str(journal), str(rounds)) for _ in range(workers)]
    try:
        for child in children:
            expect(child, "ready")
        for child in children:
            tell(child)
        for child in children:
            finish(child)
    finally:
        for child in children:
            child.kill()
            child.wait()
    lines = journal.read_text().splitlines()
    assert len(lines) == 2 * rounds * workers
    for opened, closed in zip(lines[::2], lines[1::2], strict=True):
        pid = opened.split()[0]
        assert (opened, closed) == (f"{pid} in", f"{pid} out"), lines  # never two holders


def test_a_lapsed_lease_is_taken_over(postgres_db: str) -> None:
    State(postgres_db)
    lease = 2.0
    holder = spawn(HOLD_LOCK, postgres_db, PROVIDER, ZONE, str(lease))
    try:
        expect(holder, "held")
        held_at = time.monotonic()
        holder.send_signal(signal.SIGKILL)  # a crashed run: it never releases
        holder.wait()
    finally:
        holder.kill()
        holder.wait()
    state = State(postgres_db)
    with (
        pytest.raises(StateError, match="locked by another"),
        state.zone_lock(PROVIDER, ZONE, timeout=0.2, poll=0.05),
    ):
        pytest.fail("took a lease before it lapsed")
    with state.zone_lock(PROVIDER, ZONE, timeout=10, poll=0.05):
        taken_after = time.monotonic() - held_at
    assert lease - 0.5 <= taken_after < lease + 5


def test_two_processes_create_a_new_store_at_once(postgres_server: PostgresServer) -> None:
    """Both succeed although each finds no table and creates them (the loser retries)."""
    for round_ in range(3):
        name = f"race_{os.getpid()}_{round_}"
        url = postgres_server.create_database(name)
        try:
            children = [spawn(OPEN_STORE, url, f"d{i}.example") for i in range(2)]
            try:
                for child in children:
                    expect(child, "ready")
                for child in children:
                    tell(child)
                for child in children:
                    expect(child, "opened")
                    finish(child)
            finally:
                for child in children:
                    child.kill()
                    child.wait()
            state = State(url)
            assert state.service_sizes("d0.example") == state.service_sizes("d1.example")
        finally:
            postgres_server.drop_database(name)


# A child asking for the lease argv[2] as owner argv[3] for argv[4] seconds, when told.
TAKE_LEASE = """
import sys
from spfmanager.publish.state import State
state = State(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print("won" if state.try_lease(sys.argv[2], sys.argv[3], float(sys.argv[4])) else "lost")
"""


def take_lease(url: str, name: str, owner: str, seconds: float) -> bool:
    """``try_lease`` in a process of its own (another daemon)."""
    child = spawn(TAKE_LEASE, url, name, owner, str(seconds))
    expect(child, "ready")
    tell(child)
    out, _ = child.communicate(timeout=WAIT)
    assert child.returncode == 0 and out.strip() in {"won", "lost"}, out
    return out.strip() == "won"


def test_a_domain_lease_has_one_owner_across_processes(postgres_db: str) -> None:
    """The daemon's lease (point 6): it outlives the process, its owner renews it, and a
    lapsed one falls to another instance."""
    state = State(postgres_db)
    lease = "domain:example.com"
    assert take_lease(postgres_db, lease, "daemon-a", 1.5)  # the process has exited since
    assert not state.try_lease(lease, "daemon-b", 60)
    assert take_lease(postgres_db, lease, "daemon-a", 1.5)  # renewed by its owner
    renewed_at = time.monotonic()
    assert not state.try_lease("domain:example.com", "daemon-b", 60)
    assert state.try_lease("domain:example.net", "daemon-b", 60)  # another domain is free
    while not state.try_lease(lease, "daemon-b", 60):
        assert time.monotonic() - renewed_at < 10, "the lapsed lease was never taken over"
        time.sleep(0.05)
    assert time.monotonic() - renewed_at >= 1.0  # not before it lapsed
    assert not take_lease(postgres_db, lease, "daemon-a", 1.5)
    state.release_lease(lease, "daemon-b")
    assert take_lease(postgres_db, lease, "daemon-a", 60)


def test_a_free_lease_goes_to_exactly_one_of_many_at_once(postgres_db: str) -> None:
    State(postgres_db)
    for round_ in range(2):
        lease = f"domain:{round_}.example.com"
        children = [spawn(TAKE_LEASE, postgres_db, lease, f"daemon-{i}", "60") for i in range(3)]
        try:
            for child in children:
                expect(child, "ready")
            for child in children:
                tell(child)
            outcomes = [child.communicate(timeout=WAIT)[0].strip() for child in children]
        finally:
            for child in children:
                child.kill()
                child.wait()
        assert sorted(outcomes) == ["lost", "lost", "won"], outcomes


SECRET = "s3cr3t-Never-Printed"


def _wrong_password(server: PostgresServer, db: str) -> str:
    return server.url(db, user=PASSWORD_ROLE, password=SECRET)


def _unknown_database(server: PostgresServer, db: str) -> str:
    return server.url("no_such_database", user=PASSWORD_ROLE, password=PASSWORD)


def _closed_port(server: PostgresServer, db: str) -> str:
    return f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:{free_port()}/{db}"


@pytest.mark.parametrize(
    ("make_url_for", "cause"),
    [
        (_wrong_password, "password authentication failed"),
        (_unknown_database, 'database "no_such_database" does not exist'),
        (_closed_port, "refused"),
    ],
    ids=["wrong-password", "unknown-database", "closed-port"],
)
def test_connection_failures_are_clean_state_errors(
    postgres_server: PostgresServer, postgres_db: str, make_url_for: Any, cause: str
) -> None:
    db = database_name(postgres_db)
    postgres_server.execute(f"ALTER DATABASE {db} OWNER TO {PASSWORD_ROLE}")
    # The right password opens the store: what fails below is the one thing changed.
    good = State(postgres_server.url(db, user=PASSWORD_ROLE, password=PASSWORD))
    assert good.last_good("example.com") is None
    url = make_url_for(postgres_server, db)
    started = time.monotonic()
    with pytest.raises(StateError) as raised:
        State(url)
    message = str(raised.value)
    assert time.monotonic() - started < 10
    assert cause in message
    assert SECRET not in message and PASSWORD not in message
    assert f"state store {make_url(url).render_as_string(hide_password=True)}" in message
    assert ":***@127.0.0.1" in message
    assert "\n" not in message and "Traceback" not in message


def write_config(directory: Path, services: list[str]) -> Path:
    config = {
        "defaults": {"policy": "-all", "ttl": 300, "provider": "local"},
        "providers": {"local": {"kind": "zonefile", "directory": str(directory / "zones")}},
        "domains": {"example.com": {"services": services}},
    }
    path = directory / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def test_plan_and_apply_on_postgres_then_nothing_to_apply(postgres_db: str, tmp_path: Path) -> None:
    snapshot = tmp_path / "dns-snapshot.yaml"
    snapshot.write_text(yaml.safe_dump(UPSTREAM), encoding="utf-8")
    config = write_config(tmp_path, ["microsoft365", "sendgrid", "mailchimp"])
    common = ["-c", str(config), "--dns-snapshot", str(snapshot), "--state", postgres_db]

    code, out = cli("plan", *common, "--json")
    assert code == 2 and not json.loads(out)["in_sync"], out
    code, out = cli("apply", *common, "--json")
    assert code == 0, out
    first = json.loads(out)
    assert first["applied"] and not first["errors"], out

    served = {
        n: list(rs.values)
        for n, rs in ZoneFileProvider(ZONE, tmp_path / "zones").list_records().items()
    }
    assert len(served) > 1, served  # sendgrid's 60 ranges need a chain: a real rollover test
    state = State(postgres_db)
    last_good = state.last_good("example.com")
    assert last_good is not None and set(last_good) == set(served)
    sizes = state.service_sizes("example.com") or {}
    assert {s.removeprefix("services.") for s in sizes} == {"microsoft365", "sendgrid", "mailchimp"}
    assert sizes["services.microsoft365"][6] == 2**80  # ip6:2a01:111:f400::/48
    assert len(state.applied("local", ZONE)) == 1

    code, out = cli("plan", *common, "--json")
    assert code == 0 and json.loads(out)["in_sync"], out
    code, out = cli("apply", *common, "--json")
    assert code == 0 and json.loads(out)["applied"] == [], out
    assert len(state.applied("local", ZONE)) == 1  # nothing logged twice
    assert not list(tmp_path.glob("*.db")), "the --state URL was not used"

    # A smaller set of services: the old chain is retired, its deletion waits in PostgreSQL.
    write_config(tmp_path, ["microsoft365", "mailchimp"])
    code, out = cli("apply", *common, "--json")
    assert code == 0, out
    retired = set(served) - {"example.com"}
    pending = state.pending("local", ZONE)
    assert {p.name for p in pending} == retired
    assert all(
        p.not_before > utcnow() and p.not_before.utcoffset() == timedelta(0) for p in pending
    )
    assert len(state.applied("local", ZONE)) == 2
