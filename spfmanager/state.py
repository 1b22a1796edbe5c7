"""What spfmanager remembers between runs (SQLite by default, any SQLAlchemy URL).

* ``published``: the last records proven and applied per domain — the "last good record"
  kept live when upstream DNS fails.
* ``pending_deletions``: chained names retired by a rollover, deletable once every resolver's
  cached copy of the old root has expired (``not_before``).
* ``applies``: an audit log of applied changes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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
)
from sqlalchemy.engine import Engine

metadata = MetaData()

published = Table(
    "published",
    metadata,
    Column("domain", String(255), primary_key=True),
    Column("records", Text, nullable=False),  # JSON: name -> TXT strings, root first
    Column("lookups", Integer, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
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

applies = Table(
    "applies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", String(255), nullable=False),
    Column("zone", String(255), nullable=False),
    Column("changes", Text, nullable=False),  # JSON list of change descriptions
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


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


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class State:
    """The state store. Safe to share between threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        self._lock = threading.Lock()
        metadata.create_all(self.engine)

    def last_good(self, domain: str) -> dict[str, list[str]] | None:
        """The records last applied for ``domain`` (name -> strings), if any."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(published.c.records).where(published.c.domain == domain)
            ).first()
        return None if row is None else dict(json.loads(row[0]))

    def record_published(
        self, domain: str, records: dict[str, list[str]], lookups: int, now: datetime
    ) -> None:
        with self._lock, self.engine.begin() as connection:
            connection.execute(delete(published).where(published.c.domain == domain))
            connection.execute(
                insert(published).values(
                    domain=domain, records=json.dumps(records), lookups=lookups, applied_at=now
                )
            )

    def pending(self, provider: str, zone: str) -> list[PendingDeletion]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(pending_deletions).where(
                    (pending_deletions.c.provider == provider) & (pending_deletions.c.zone == zone)
                )
            ).all()
        return [
            PendingDeletion(r.provider, r.zone, r.name, r.domain, _aware(r.not_before))
            for r in rows
        ]

    def add_pending(self, items: Sequence[PendingDeletion]) -> None:
        with self._lock, self.engine.begin() as connection:
            for item in items:
                connection.execute(
                    delete(pending_deletions).where(
                        (pending_deletions.c.provider == item.provider)
                        & (pending_deletions.c.zone == item.zone)
                        & (pending_deletions.c.name == item.name)
                    )
                )
                connection.execute(
                    insert(pending_deletions).values(
                        provider=item.provider,
                        zone=item.zone,
                        name=item.name,
                        domain=item.domain,
                        not_before=item.not_before,
                    )
                )

    def remove_pending(self, provider: str, zone: str, names: Sequence[str]) -> None:
        if not names:
            return
        with self._lock, self.engine.begin() as connection:
            connection.execute(
                delete(pending_deletions).where(
                    (pending_deletions.c.provider == provider)
                    & (pending_deletions.c.zone == zone)
                    & (pending_deletions.c.name.in_(list(names)))
                )
            )

    def log_apply(self, provider: str, zone: str, changes: list[str], now: datetime) -> None:
        with self._lock, self.engine.begin() as connection:
            connection.execute(
                insert(applies).values(
                    provider=provider, zone=zone, changes=json.dumps(changes), applied_at=now
                )
            )
