"""Record selection: the SPF record among the TXT records of one answer (RFC 7208 4.5).

The one place that decides which TXT records are SPF records and whether there is exactly
one: the evaluator, the flattener's analysis, ``check``'s tree walk and ``explain`` all
select through :func:`select_record`, and differ only in what they report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from spfmanager.dns.base import RData, TXTRecord
from spfmanager.spf.parser import is_spf_record
from spfmanager.spf.results import Cause
from spfmanager.spf.terms import VERSION


@dataclass(frozen=True, slots=True)
class Selection:
    """The SPF records of one TXT answer, and whether they make a usable record.

    ``records`` are the answer's TXT records whose text, character-strings joined without
    separator (RFC 7208 3.3, :attr:`TXTRecord.data`), begins with ``v=spf1`` as a whole
    word, in answer order. Records not beginning so are discarded (4.5). The one record's
    text is ``record.data.decode("ascii")``: a record that is not ASCII is still selected,
    and is a syntax error to whoever parses it.
    """

    records: tuple[TXTRecord, ...]

    @property
    def cause(self) -> Cause | None:
        """Why there is no record to evaluate: ``NO_RECORD`` (none, so check_host() gives
        none) or ``MULTIPLE_RECORDS`` (several: permerror); None for exactly one (4.5)."""
        if not self.records:
            return Cause.NO_RECORD
        if len(self.records) > 1:
            return Cause.MULTIPLE_RECORDS
        return None

    @property
    def record(self) -> TXTRecord | None:
        """The SPF record when there is exactly one, else None."""
        return self.records[0] if len(self.records) == 1 else None


def select_record(records: Iterable[RData]) -> Selection:
    """Select the SPF record among an answer's records (RFC 7208 4.5).

    ``records`` may be a whole answer's records: those that are not TXT are ignored.
    """
    return Selection(tuple(r for r in records if isinstance(r, TXTRecord) and _is_spf(r)))


def _is_spf(record: TXTRecord) -> bool:
    # Only the head is decoded: a record that is not ASCII further on is still an SPF
    # record, and a syntax error, rather than no record at all.
    return is_spf_record(record.data[: len(VERSION) + 1].decode("latin-1"))
