"""The daemon's memory in the state store: every run of every domain, and held changes.

* ``runs``: per domain and run, the outcome (``applied``, ``unchanged``, ``held``,
  ``upstream-error``, ``failed``, ``skipped``) and why, the proven records, the proof
  summary, the addresses each service authorized (ranges, for the address-level diff) and
  a reference to the upstream answers used;
* ``upstream_snapshots``: those answers as zonedata, stored once per distinct content (a
  thousand domains of one run share one snapshot), so that ``rollback`` can rebuild any
  earlier record set exactly;
* ``holds``: a change the guards refused, per domain, with the fingerprint of the held
  records; ``approve`` lets exactly that change through.

Tables live beside :mod:`spfmanager.publish.state`'s, in the same database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from spfmanager.errors import StateError
from spfmanager.publish.state import State, aware

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("domain", String(255), nullable=False, index=True),
    Column("instance", String(255), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("records", Text),  # JSON name -> strings: the proven record set of this run
    Column("proof", Text),  # JSON: the proof summary
    Column("services", Text),  # JSON service -> family -> [cidr, ...] that pass
    Column("changes", Text, nullable=False),  # JSON list of change descriptions applied
    Column("snapshot", String(64)),  # upstream_snapshots.digest
)

upstream_snapshots = Table(
    "upstream_snapshots",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("zonedata", Text, nullable=False),
)

holds = Table(
    "holds",
    metadata,
    Column("domain", String(255), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("approved_at", DateTime(timezone=True)),
    Column("pinned_run", Integer),  # a rollback holds the domain at this run's records
)

ServiceRanges = dict[str, dict[str, list[str]]]


@dataclass(frozen=True)
class Run:
    """One recorded run of one domain."""

    id: int
    domain: str
    instance: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    reason: str
    records: dict[str, list[str]] | None
    proof: dict[str, Any] | None
    services: ServiceRanges | None
    changes: list[str]
    snapshot: str | None

    @property
    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "domain": self.domain,
            "instance": self.instance,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "outcome": self.outcome,
            "reason": self.reason,
            "records": self.records,
            "proof": self.proof,
            "changes": self.changes,
        }


@dataclass(frozen=True)
class Hold:
    """A change the guards refused, waiting for ``approve`` or for upstream to recover."""

    domain: str
    created_at: datetime
    reason: str
    fingerprint: str
    approved_at: datetime | None
    pinned_run: int | None

    @property
    def data(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "created_at": self.created_at.isoformat(),
            "reason": self.reason,
            "approved": self.approved_at is not None,
            "pinned_run": self.pinned_run,
        }


def fingerprint(records: Mapping[str, Sequence[str]] | None) -> str:
    """A stable digest of a record set (empty: no records)."""
    text = json.dumps({n: list(s) for n, s in (records or {}).items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class History:
    """Runs, upstream snapshots and holds, in the state store's database."""

    def __init__(self, state: State) -> None:
        self.state = state
        state.guard("create the daemon tables", lambda: state.create_tables(metadata))

    # -- runs ----------------------------------------------------------------------------

    def add_snapshot(self, zonedata: Mapping[str, Any]) -> str:
        """Store upstream answers once per content; their digest."""
        text = json.dumps(zonedata, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()

        def write() -> None:
            with self.state.engine.begin() as connection:
                found = connection.execute(
                    select(upstream_snapshots.c.digest).where(upstream_snapshots.c.digest == digest)
                ).first()
                if found is None:
                    connection.execute(
                        insert(upstream_snapshots).values(digest=digest, zonedata=text)
                    )

        try:
            self.state.guard("store the upstream answers", write)
        except StateError:
            # another instance may have stored the same content between the look and the
            # insert: then it is there, and that is all that was wanted
            if self.snapshot(digest) is None:
                raise
        return digest

    def snapshot(self, digest: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            with self.state.engine.connect() as connection:
                row = connection.execute(
                    select(upstream_snapshots.c.zonedata).where(
                        upstream_snapshots.c.digest == digest
                    )
                ).first()
            return None if row is None else dict(json.loads(row[0]))

        return self.state.guard("read the upstream answers", read)

    def add_run(
        self,
        *,
        domain: str,
        instance: str,
        started_at: datetime,
        finished_at: datetime,
        outcome: str,
        reason: str,
        records: Mapping[str, Sequence[str]] | None = None,
        proof: Mapping[str, Any] | None = None,
        services: ServiceRanges | None = None,
        changes: Sequence[str] = (),
        snapshot: str | None = None,
    ) -> int:
        def write() -> int:
            with self.state.engine.begin() as connection:
                result = connection.execute(
                    insert(runs).values(
                        domain=domain,
                        instance=instance,
                        started_at=started_at,
                        finished_at=finished_at,
                        outcome=outcome,
                        reason=reason,
                        records=None if records is None else json.dumps(dict(records)),
                        proof=None if proof is None else json.dumps(dict(proof)),
                        services=None if services is None else json.dumps(services),
                        changes=json.dumps(list(changes)),
                        snapshot=snapshot,
                    )
                )
                key = result.inserted_primary_key
                return int(key[0]) if key else 0

        return self.state.guard("record the run", write)

    def runs(self, domain: str, *, limit: int = 50) -> list[Run]:
        """The domain's latest runs, newest first."""

        def read() -> list[Run]:
            with self.state.engine.connect() as connection:
                rows = connection.execute(
                    select(runs)
                    .where(runs.c.domain == domain)
                    .order_by(runs.c.id.desc())
                    .limit(limit)
                ).all()
            return [_run(r) for r in rows]

        return self.state.guard("read the run history", read)

    def run(self, run_id: int) -> Run | None:
        def read() -> Run | None:
            with self.state.engine.connect() as connection:
                row = connection.execute(select(runs).where(runs.c.id == run_id)).first()
            return None if row is None else _run(row)

        return self.state.guard("read the run history", read)

    def last_runs(self) -> dict[str, Run]:
        """The latest run of every domain that has one."""

        def read() -> dict[str, Run]:
            with self.state.engine.connect() as connection:
                rows = connection.execute(select(runs).order_by(runs.c.id)).all()
            return {r.domain: _run(r) for r in rows}

        return self.state.guard("read the run history", read)

    def failures_in_a_row(self, domain: str) -> int:
        """How many of the domain's latest runs failed (upstream-error or failed)."""
        count = 0
        for run in self.runs(domain, limit=1000):
            if run.outcome not in ("upstream-error", "failed"):
                break
            count += 1
        return count

    # -- holds ---------------------------------------------------------------------------

    def hold(self, domain: str) -> Hold | None:
        def read() -> Hold | None:
            with self.state.engine.connect() as connection:
                row = connection.execute(select(holds).where(holds.c.domain == domain)).first()
            return None if row is None else _hold(row)

        return self.state.guard("read the holds", read)

    def holds(self) -> list[Hold]:
        def read() -> list[Hold]:
            with self.state.engine.connect() as connection:
                rows = connection.execute(select(holds).order_by(holds.c.domain)).all()
            return [_hold(r) for r in rows]

        return self.state.guard("read the holds", read)

    def set_hold(
        self,
        domain: str,
        reason: str,
        print_: str,
        now: datetime,
        *,
        pinned_run: int | None = None,
    ) -> Hold:
        """Hold ``domain``'s change with fingerprint ``print_``; a new fingerprint replaces
        the old hold (and any approval of it), the same one keeps it."""
        current = self.hold(domain)
        if current is not None and current.fingerprint == print_ and pinned_run is None:
            return current

        def write() -> None:
            with self.state.engine.begin() as connection:
                connection.execute(delete(holds).where(holds.c.domain == domain))
                connection.execute(
                    insert(holds).values(
                        domain=domain,
                        created_at=now,
                        reason=reason,
                        fingerprint=print_,
                        approved_at=None,
                        pinned_run=pinned_run,
                    )
                )

        self.state.guard("record the hold", write)
        held = self.hold(domain)
        assert held is not None
        return held

    def approve(self, domain: str, now: datetime) -> Hold | None:
        """Approve the domain's held change; None when nothing is held."""
        if self.hold(domain) is None:
            return None

        def write() -> None:
            with self.state.engine.begin() as connection:
                connection.execute(
                    update(holds).where(holds.c.domain == domain).values(approved_at=now)
                )

        self.state.guard("approve the hold", write)
        return self.hold(domain)

    def release(self, domain: str) -> None:
        """Forget the domain's hold (published, or upstream back to normal)."""

        def write() -> None:
            with self.state.engine.begin() as connection:
                connection.execute(delete(holds).where(holds.c.domain == domain))

        self.state.guard("release the hold", write)


def _run(row: Any) -> Run:
    return Run(
        id=int(row.id),
        domain=row.domain,
        instance=row.instance,
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
        outcome=row.outcome,
        reason=row.reason,
        records=None if row.records is None else dict(json.loads(row.records)),
        proof=None if row.proof is None else dict(json.loads(row.proof)),
        services=None if row.services is None else dict(json.loads(row.services)),
        changes=list(json.loads(row.changes)),
        snapshot=row.snapshot,
    )


def _hold(row: Any) -> Hold:
    return Hold(
        domain=row.domain,
        created_at=aware(row.created_at),
        reason=row.reason,
        fingerprint=row.fingerprint,
        approved_at=None if row.approved_at is None else aware(row.approved_at),
        pinned_run=row.pinned_run,
    )
