"""Explain one message: what the receiver recorded, what SPF says now, why, and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from spfmanager.dns.base import Resolver
from spfmanager.dns.memo import MemoResolver
from spfmanager.explain.config_edit import ConfigEdit, ConfigView, suggest_config_edit
from spfmanager.explain.fix import Diagnosis, Fix, diagnose, suggest_fix
from spfmanager.explain.headers import RecordedCheck
from spfmanager.explain.message import Connection, Evidence, IPAddress, IPSource, connection
from spfmanager.spf.evaluate import SPFResult, evaluate
from spfmanager.spf.results import Cause, Result


class Change(StrEnum):
    """How today's result compares with the one the receiver recorded."""

    SAME = "same"
    NOW_PASSES = "now-passes"  # the record was fixed, or an include's upstream changed
    NOW_FAILS = "now-fails"  # it passed then: the record or an include changed since
    DIFFERENT = "different"
    UNKNOWN = "unknown"  # the receiver recorded no SPF result


@dataclass(frozen=True)
class Explanation:
    """The full answer for one message; ``lines()`` says it in plain language."""

    evidence: Evidence
    connection: Connection
    now: SPFResult
    change: Change
    diagnosis: Diagnosis | None
    fix: Fix | None
    notes: tuple[str, ...] = ()
    config_edit: ConfigEdit | None = None  # the sender as part of the config's intent

    @property
    def recorded(self) -> RecordedCheck | None:
        return self.evidence.recorded

    @property
    def receiver(self) -> str | None:
        """The receiver's name: from its verdict, else from any trace header naming one."""
        named = (c.receiver for c in self.evidence.checks if c.receiver)
        recorded = self.recorded
        return (recorded.receiver if recorded else None) or next(named, None)

    @property
    def passes(self) -> bool:
        return self.now.result is Result.PASS

    @property
    def data(self) -> dict[str, Any]:
        return {
            "message": self.evidence.data,
            "connection": self.connection.data,
            "then": None if self.recorded is None else self.recorded.data,
            "now": self.now.data,
            "change": self.change.value,
            "diagnosis": None if self.diagnosis is None else self.diagnosis.data,
            "fix": None if self.fix is None else self.fix.data,
            "config_edit": None if self.config_edit is None else self.config_edit.data,
            "notes": list(self.notes),
            "summary": self.lines(),
        }

    def lines(self) -> list[str]:
        """The explanation as a few plain-language sentences."""
        lines = [self._then(), self._now(), self._why()]
        lines.extend(self.notes)
        if self.change is Change.NOW_PASSES:
            lines.append(
                "SPF failed when the message arrived but passes now: the record was fixed "
                "since, or a service it includes changed its ranges."
            )
        elif self.change is Change.NOW_FAILS:
            lines.append(
                "SPF passed when the message arrived but not now: the record or an included "
                "record changed since."
            )
        if self.diagnosis is not None:
            lines.append(f"What to do: {self.diagnosis.advice}.")
        if self.fix is not None:
            lines.extend(f"Change: {change}." for change in self.fix.changes)
            lines.append(
                f"Publish for {self.fix.domain}: {self.fix.proposed}  (verified: "
                f"{self.fix.verified.result.value}, {self.fix.verified.lookups} DNS lookups)"
            )
            lines.extend(f"Note: {note}." for note in self.fix.notes)
        elif self.diagnosis is not None and not self.passes:
            lines.append("No single record change was proven to make this message pass.")
        if self.config_edit is not None:
            lines.append(f"Config edit: {self.config_edit.message}.")
        return lines

    def _then(self) -> str:
        recorded = self.recorded
        if recorded is None:
            return "The message carries no SPF verdict from its receiver."
        who = self.receiver or "the receiver"
        return (
            f"When it arrived, {who} recorded SPF {recorded.raw_result} "
            f"({recorded.kind.value}) for {self._sender()} from {self.connection.ip}."
        )

    def _now(self) -> str:
        return (
            f"Checked now: SPF {self.now.result.value} for {self.now.sender} from {self.now.ip} "
            f"(IP {self.connection.ip_source.value}; DNS lookups: {self.now.lookups})."
        )

    def _why(self) -> str:
        if self.now.mechanism is not None and self.now.result is not Result.PASS:
            return (
                f"Why: '{self.now.mechanism}' decided it: no earlier term of the record of "
                f"{self.now.domain} (or the records it includes) lists {self.now.ip}."
            )
        return f"Why: {self.now.reason}."

    def _sender(self) -> str:
        return self.connection.mailfrom or f"postmaster@{self.connection.helo} (null sender)"


def explain(
    evidence: Evidence,
    resolver: Resolver,
    *,
    ip: IPAddress | None = None,
    config: ConfigView | None = None,
) -> Explanation:
    """Re-evaluate the message's connection now and explain the result.

    For a sender that is not authorised, the explanation also names the config edit
    (:func:`~spfmanager.explain.config_edit.suggest_config_edit`): in ``config`` when
    given (its file, domain and line), else as a snippet; ``config``'s own services count
    as catalog services for the record fix too.
    """
    conn = connection(evidence, ip)
    resolver = MemoResolver(resolver)  # one consistent view of DNS for every evaluation
    now = evaluate(conn.ip, conn.mailfrom, conn.helo, resolver=resolver)
    diagnosis = diagnose(now)
    catalog = None if config is None else config.catalog
    fix = (
        None if diagnosis is None else suggest_fix(now, diagnosis, conn, resolver, catalog=catalog)
    )
    edit = None
    if diagnosis is not None and diagnosis.cause in _UNAUTHORISED:
        edit = suggest_config_edit(now.ip, now.domain, conn.helo, resolver, config)
    return Explanation(
        evidence=evidence,
        connection=conn,
        now=now,
        change=_change(evidence.recorded, now.result),
        diagnosis=diagnosis,
        fix=fix,
        notes=_notes(evidence, conn),
        config_edit=edit,
    )


# The causes a config edit cures: the sender is simply not (yet) part of the intent.
_UNAUTHORISED = frozenset({Cause.NOT_AUTHORISED, Cause.NO_RECORD})


def _change(recorded: RecordedCheck | None, now: Result) -> Change:
    if recorded is None or recorded.result is None:
        return Change.UNKNOWN
    if recorded.result is now:
        return Change.SAME
    if now is Result.PASS:
        return Change.NOW_PASSES
    if recorded.result is Result.PASS:
        return Change.NOW_FAILS
    return Change.DIFFERENT


def _notes(evidence: Evidence, conn: Connection) -> tuple[str, ...]:
    notes: list[str] = []
    edge = evidence.edge
    if edge is not None and edge.from_ip is not None and edge.from_ip != conn.ip:
        notes.append(
            f"The Received chain points at {edge.from_ip} ({edge.from_host or 'unnamed host'}) "
            f"as the last external hop, not {conn.ip} ({conn.ip_source.value})."
        )
    if evidence.from_report:
        notes.append("This is a bounce: the returned original message was analysed.")
    if conn.ip_source is IPSource.RECEIVED_CHAIN:
        notes.append(
            f"The receiver did not record the client IP; {conn.ip} is the last external hop "
            "of the Received chain."
        )
    notes.extend(evidence.skipped)  # a hostile or broken message was read only in part
    return tuple(notes)
