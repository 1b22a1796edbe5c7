"""Serve zonedata (the form SnapshotResolver reads) to pyspf from memory.

pyspf resolves through the module-level function ``spf.DNSLookup(name, qtype, strict,
timeout)``, which yields ``((name, type), value)`` pairs in the shapes its dnspython driver
produces; its own test harness (``test/testspf.py``) replaces that function the same way.
:func:`serve` swaps it in for the duration of a ``with`` block only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import spf

Pair = tuple[tuple[str, str], Any]


class PyspfZone:
    """zonedata compiled to answers in pyspf's shapes; absent names are NXDOMAIN."""

    def __init__(self, zonedata: Mapping[str, Iterable[Any]]) -> None:
        self._answers: dict[tuple[str, str], list[Pair]] = {}
        self._timeouts: set[str] = set()
        for raw_name, entries in zonedata.items():
            name = raw_name.rstrip(".").lower()
            spf_entries: list[Any] = []
            has_txt = False
            for entry in entries:
                if entry == "TIMEOUT":
                    self._timeouts.add(name)
                    continue
                ((rrtype, value),) = entry.items()
                rrtype = str(rrtype).upper()
                if rrtype == "SPF":
                    spf_entries.append(value)
                    continue
                if rrtype == "TXT":
                    has_txt = True
                    if value == "NONE":
                        continue
                self._add(name, rrtype, value)
            if spf_entries and not has_txt:
                for value in spf_entries:
                    self._add(name, "TXT", value)

    def _add(self, name: str, rrtype: str, value: Any) -> None:
        if rrtype == "TXT":
            strings = value if isinstance(value, list) else [value]
            value = [s if isinstance(s, bytes) else str(s).encode("latin-1") for s in strings]
        elif rrtype == "MX":
            value = (int(value[0]), str(value[1]).rstrip(".").lower())
        elif rrtype in ("PTR", "CNAME"):
            value = str(value).rstrip(".").lower()
        else:
            value = str(value)
        self._answers.setdefault((name, rrtype), []).append(((name, rrtype), value))

    def lookup(
        self, name: str, qtype: str, strict: object = True, timeout: object = 0
    ) -> list[Pair]:
        """A drop-in for ``spf.DNSLookup``."""
        key = name.rstrip(".").lower()
        answers = self._answers.get((key, qtype))
        if answers:
            return answers
        cname = self._answers.get((key, "CNAME"))
        if cname:
            return cname
        if key in self._timeouts:
            raise spf.TempError(f"DNS timeout for {name} {qtype}")
        return []


@contextmanager
def serve(zone: PyspfZone) -> Iterator[PyspfZone]:
    """Make pyspf resolve from ``zone`` inside the block, restoring its resolver after."""
    original = spf.DNSLookup
    spf.DNSLookup = zone.lookup
    try:
        yield zone
    finally:
        spf.DNSLookup = original
