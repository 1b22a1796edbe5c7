"""What spfmanager remembers between runs (SQLite by default, any SQLAlchemy URL).

* ``published``: the last records proven and applied per domain — the "last good record"
  kept live when upstream DNS fails.
* ``service_addresses``: per domain, how many addresses each upstream service authorized at
  the last apply (the baseline for the shrink/growth guard).
* ``pending_deletions``: chained names retired by a rollover, deletable once every resolver's
  cached copy of the old root has expired (``not_before``).
* ``locks``: leases that serialise writers of one provider zone across processes and hosts
  (for adapters without a lock of their own); a crashed holder's lease expires.
* ``applies``: an audit log of applied changes.

Every database failure (a corrupt or locked file, a schema that is not ours, a driver that
is not installed) is raised as :class:`~spfmanager.errors.StateError` naming the store.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)

from spfmanager.errors import StateError

log = logging.getLogger(__name__)

#: How long a zone lock is held at most before another writer may take it over.
LOCK_LEASE_SECONDS = 900.0

metadata = MetaData()

published = Table(
    "published",
    metadata,
    Column("domain", String(255), primary_key=True),
    Column("records", Text, nullable=False),  # JSON: name -> TXT strings, root first
    Column("lookups", Integer, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

service_addresses = Table(
    "service_addresses",
    metadata,
    Column("domain", String(255), primary_key=True),
    Column("sizes", Text, nullable=False),  # JSON: service -> {"4": n, "6": n}
)

pending_deletions = Table(
    "pending_deletions",
    metadata,
    Column("provider", String(255), primary_key=True),
    Column("zone", String(255), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("domain", String(255), nullable=False),
    Column("not_before", DateTime(timezone=True), nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(600), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

applies = Table(
    "applies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", String(255), nullable=False),
    Column("zone", String(255), nullable=False),
    Column("changes", Text, nullable=False),  # JSON list of change descriptions
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

ServiceSizes = dict[str, dict[int, int]]  # service -> address family -> addresses that pass


@dataclass(frozen=True)
class PendingDeletion:
    provider: str
    zone: str
    name: str
    domain: str
    not_before: datetime

    def due(self, now: datetime) -> bool:
        return now >= self.not_before


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes, PostgreSQL aware ones in the session's TimeZone;
    everything here is UTC."""
    if not isinstance(moment, datetime):
        raise ValueError(f"not a timestamp: {moment!r}")
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


_T = TypeVar("_T")


class State:
    """The state store. Safe to share between threads."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0) -> None:
        self.url = url
        self.label = _label(url)
        self._lock = threading.Lock()
        try:
            sqlite = make_url(url).get_backend_name() == "sqlite"
            # Writers in other processes hold SQLite's lock briefly: wait for it, not fail.
            connect_args = {"timeout": busy_timeout} if sqlite else {}
            self.engine: Engine = create_engine(url, future=True, connect_args=connect_args)
        except NoSuchModuleError as exc:
            raise StateError(f"state store {self.label}: unknown database kind ({exc})") from None
        except ArgumentError as exc:
            raise StateError(f"state store {self.label}: not a database URL ({exc})") from None
        except ImportError as exc:
            raise StateError(
                f"state store {self.label}: its database driver is not installed "
                f"({exc.name or exc}); install it (e.g. pip install psycopg) or use sqlite:///"
            ) from None
        self.guard("open", self._create_tables)

    def _create_tables(self) -> None:
        self.create_tables(metadata)

    def create_tables(self, tables: MetaData) -> None:
        """Create ``tables``' missing tables. Two processes opening a new store at once race
        between checking and creating (on PostgreSQL the loser's CREATE fails on a catalog
        unique index): the loser looks again and finds them."""
        for attempt in range(3):
            try:
                tables.create_all(self.engine)
                return
            except (OperationalError, ProgrammingError, IntegrityError):
                if attempt == 2:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def guard(self, what: str, call: Callable[[], _T]) -> _T:
        """Run ``call``; a database failure becomes a StateError naming the store."""
        try:
            return call()
        except (SQLAlchemyError, ValueError, TypeError, KeyError, AttributeError) as exc:
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise StateError(
                f"state store {self.label}: cannot {what}: {detail} "
                "(is it a spfmanager state database, not corrupt and not locked?)"
            ) from None
        except ImportError as exc:
            raise StateError(
                f"state store {self.label}: its database driver is not installed ({exc})"
            ) from None

    def ping(self) -> None:
        """Raise StateError unless the store answers (for health checks)."""

        def select_one() -> None:
            with self.engine.connect() as connection:
                connection.execute(select(1))

        self.guard("answer", select_one)

    def last_good(self, domain: str) -> dict[str, list[str]] | None:
        """The records last applied for ``domain`` (name -> strings), if any."""

        def read() -> dict[str, list[str]] | None:
            with self.engine.connect() as connection:
                row = connection.execute(
                    select(published.c.records).where(published.c.domain == domain)
                ).first()
            return None if row is None else dict(json.loads(row[0]))

        return self.guard("read the published records", read)

    def published_at(self, domain: str) -> datetime | None:
        """When records were last applied for ``domain``, if ever."""

        def read() -> datetime | None:
            with self.engine.connect() as connection:
                row = connection.execute(
                    select(published.c.applied_at).where(published.c.domain == domain)
                ).first()
            return None if row is None else aware(row[0])

        return self.guard("read the published records", read)

    def record_published(
        self, domain: str, records: Mapping[str, Sequence[str]], lookups: int, now: datetime
    ) -> None:
        def write() -> None:
            with self._lock, self.engine.begin() as connection:
                connection.execute(delete(published).where(published.c.domain == domain))
                connection.execute(
                    insert(published).values(
                        domain=domain,
                        records=json.dumps({n: list(s) for n, s in records.items()}),
                        lookups=lookups,
                        applied_at=now,
                    )
                )

        self.guard("record the published records", write)

    def service_sizes(self, domain: str) -> ServiceSizes | None:
        """Addresses per service at the last apply of ``domain``, if recorded."""

        def read() -> ServiceSizes | None:
            with self.engine.connect() as connection:
                row = connection.execute(
                    select(service_addresses.c.sizes).where(service_addresses.c.domain == domain)
                ).first()
            if row is None:
                return None
            data = json.loads(row[0])
            return {
                str(service): {int(v): int(n) for v, n in families.items()}
                for service, families in data.items()
            }

        return self.guard("read the service sizes", read)

    def all_service_sizes(self) -> dict[str, ServiceSizes]:
        """:meth:`service_sizes` of every domain recorded, in one read."""

        def read() -> dict[str, ServiceSizes]:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(service_addresses.c.domain, service_addresses.c.sizes)
                ).all()
            return {
                domain: {
                    str(service): {int(v): int(n) for v, n in families.items()}
                    for service, families in json.loads(sizes).items()
                }
                for domain, sizes in rows
            }

        return self.guard("read the service sizes", read)

    def record_service_sizes(self, domain: str, sizes: ServiceSizes) -> None:
        def write() -> None:
            data = _sizes_json(sizes)
            with self._lock, self.engine.begin() as connection:
                connection.execute(
                    delete(service_addresses).where(service_addresses.c.domain == domain)
                )
                connection.execute(
                    insert(service_addresses).values(domain=domain, sizes=json.dumps(data))
                )

        self.guard("record the service sizes", write)

    def pending(self, provider: str, zone: str) -> list[PendingDeletion]:
        def read() -> list[PendingDeletion]:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(pending_deletions).where(
                        (pending_deletions.c.provider == provider)
                        & (pending_deletions.c.zone == zone)
                    )
                ).all()
            return [
                PendingDeletion(r.provider, r.zone, r.name, r.domain, aware(r.not_before))
                for r in rows
            ]

        return self.guard("read the pending deletions", read)

    def all_pending(self) -> dict[tuple[str, str], list[PendingDeletion]]:
        """:meth:`pending` of every (provider, zone) with a scheduled deletion, in one read."""

        def read() -> dict[tuple[str, str], list[PendingDeletion]]:
            with self.engine.connect() as connection:
                rows = connection.execute(select(pending_deletions)).all()
            found: dict[tuple[str, str], list[PendingDeletion]] = {}
            for r in sorted(rows, key=lambda r: (r.provider, r.zone, r.name)):
                found.setdefault((r.provider, r.zone), []).append(
                    PendingDeletion(r.provider, r.zone, r.name, r.domain, aware(r.not_before))
                )
            return found

        return self.guard("read the pending deletions", read)

    def add_pending(self, items: Sequence[PendingDeletion]) -> None:
        """Schedule deletions; a name already scheduled keeps its (earlier) time."""

        def write() -> None:
            with self._lock, self.engine.begin() as connection:
                for item in items:
                    exists = connection.execute(
                        select(pending_deletions.c.name).where(
                            (pending_deletions.c.provider == item.provider)
                            & (pending_deletions.c.zone == item.zone)
                            & (pending_deletions.c.name == item.name)
                        )
                    ).first()
                    if exists is not None:
                        continue
                    connection.execute(
                        insert(pending_deletions).values(
                            provider=item.provider,
                            zone=item.zone,
                            name=item.name,
                            domain=item.domain,
                            not_before=item.not_before,
                        )
                    )

        if items:
            self.guard("schedule deletions", write)

    def remove_pending(self, provider: str, zone: str, names: Sequence[str]) -> None:
        """Forget scheduled deletions of ``names`` (deleted, or wanted again)."""

        def write() -> None:
            with self._lock, self.engine.begin() as connection:
                connection.execute(
                    delete(pending_deletions).where(
                        (pending_deletions.c.provider == provider)
                        & (pending_deletions.c.zone == zone)
                        & (pending_deletions.c.name.in_(list(names)))
                    )
                )

        if names:
            self.guard("update the pending deletions", write)

    def log_apply(self, provider: str, zone: str, changes: list[str], now: datetime) -> None:
        def write() -> None:
            with self._lock, self.engine.begin() as connection:
                connection.execute(
                    insert(applies).values(
                        provider=provider, zone=zone, changes=json.dumps(changes), applied_at=now
                    )
                )

        self.guard("log the apply", write)

    def applied(self, provider: str, zone: str) -> list[list[str]]:
        """The logged change lists of ``provider``'s ``zone``, oldest first."""

        def read() -> list[list[str]]:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(applies.c.changes)
                    .where((applies.c.provider == provider) & (applies.c.zone == zone))
                    .order_by(applies.c.id)
                ).all()
            return [list(json.loads(r[0])) for r in rows]

        return self.guard("read the apply log", read)

    @contextmanager
    def zone_lock(
        self,
        provider: str,
        zone: str,
        *,
        timeout: float = 300.0,
        lease: float = LOCK_LEASE_SECONDS,
        poll: float = 0.2,
    ) -> Iterator[None]:
        """Hold the lock of ``provider``'s ``zone`` among every user of this store.

        A lease, not a session lock: it works on any SQL database and a crashed holder's
        lock lapses after ``lease`` seconds. Raises StateError after ``timeout`` seconds.
        """
        name = f"zone:{provider}:{zone}"
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + timeout
        while not self.guard("take the zone lock", lambda: self._try_lock(name, owner, lease)):
            if time.monotonic() >= deadline:
                raise StateError(
                    f"state store {self.label}: zone {zone} at provider {provider} is locked "
                    f"by another spfmanager run; gave up after {timeout:.0f}s"
                )
            time.sleep(poll)
        try:
            yield
        finally:
            self.guard("release the zone lock", lambda: self._unlock(name, owner))

    def _try_lock(self, name: str, owner: str, lease: float) -> bool:
        now = utcnow()
        with self._lock, self.engine.begin() as connection:
            connection.execute(
                delete(locks).where((locks.c.name == name) & (locks.c.expires_at < now))
            )
        try:
            with self._lock, self.engine.begin() as connection:
                connection.execute(
                    insert(locks).values(
                        name=name, owner=owner, expires_at=now + timedelta(seconds=lease)
                    )
                )
        except IntegrityError:
            return False
        return True

    def try_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``seconds`` unless another owner holds it.

        Unlike :meth:`zone_lock` a lease outlives the run that took it: the daemon leases a
        domain for an interval, so that of several instances exactly one runs it per
        interval, and a killed instance's domains fall to the others when it lapses.
        """

        def take() -> bool:
            now = utcnow()
            until = now + timedelta(seconds=seconds)
            with self._lock, self.engine.begin() as connection:
                connection.execute(
                    delete(locks).where((locks.c.name == name) & (locks.c.expires_at < now))
                )
                renewed = connection.execute(
                    update(locks)
                    .where((locks.c.name == name) & (locks.c.owner == owner))
                    .values(expires_at=until)
                )
                if renewed.rowcount:
                    return True
            try:
                with self._lock, self.engine.begin() as connection:
                    connection.execute(
                        insert(locks).values(name=name, owner=owner, expires_at=until)
                    )
            except IntegrityError:
                return False
            return True

        return self.guard("take a lease", take)

    def release_lease(self, name: str, owner: str) -> None:
        self.guard("release a lease", lambda: self._unlock(name, owner))

    def _unlock(self, name: str, owner: str) -> None:
        with self._lock, self.engine.begin() as connection:
            connection.execute(
                delete(locks).where((locks.c.name == name) & (locks.c.owner == owner))
            )


def _label(url: str) -> str:
    """The URL as safe to print: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unreadable URL>"


def _sizes_json(sizes: Mapping[str, Mapping[int, int]]) -> dict[str, Any]:
    return {s: {str(v): n for v, n in fam.items()} for s, fam in sizes.items()}
