"""An offline resolver over zonedata (the OpenSPF test-suite form; ``--dns-snapshot`` files).

Conventions: an absent name is NXDOMAIN, a present name without the queried type is
NODATA; ``TIMEOUT`` makes queries for types without data at that name time out; ``SPF``
entries are served as TXT where the name has no TXT entry, and ``TXT: NONE`` stops that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

from spfmanager.dns.base import Answer, MXRecord, RData, RRType, TXTRecord, normalize_name
from spfmanager.errors import ConfigError, DNSTemporaryError, SnapshotEntryError, SnapshotError
from spfmanager.files.yamlnodes import load_yaml

MAX_CNAME_CHAIN = 8


class SnapshotResolver:
    """Answers queries from in-memory zonedata; counts the queries it answers."""

    def __init__(self, zonedata: Mapping[str, Iterable[Any]], *, source: str = "<zonedata>"):
        self.source = source
        self._records: dict[tuple[str, RRType], list[RData]] = {}
        self._names: set[str] = set()
        self._timeouts: set[str] = set()
        self._answers: dict[tuple[str, RRType], Answer] = {}  # answers are immutable
        self.queries = 0
        for name, entries in (zonedata or {}).items():
            self._load_name(str(name), entries)

    @classmethod
    def from_file(cls, path: str | Path) -> SnapshotResolver:
        """Read a zonedata YAML file (a mapping of name to entries)."""
        path = Path(path)
        try:
            document = load_yaml(path, "snapshot")
        except ConfigError as exc:
            raise SnapshotError("\n".join(exc.problems)) from None
        data = {} if document.data is None else document.data
        if not isinstance(data, Mapping):
            raise SnapshotError(f"{path}:1: a snapshot is a mapping of DNS names to records")
        try:
            return cls(data, source=str(path))
        except SnapshotEntryError as exc:
            raise SnapshotError(
                f"{document.where((exc.name, exc.index))}: {exc.name}: {exc.detail}"
            ) from None

    def _load_name(self, name: str, entries: Iterable[Any]) -> None:
        key = normalize_name(name)
        self._names.add(key)
        spf: list[RData] = []
        txt_none = False
        has_txt = False
        if isinstance(entries, str | Mapping) or (
            entries is not None and not isinstance(entries, list | tuple)
        ):
            entries = [entries]
        for index, entry in enumerate(entries or []):
            if entry == "TIMEOUT":
                self._timeouts.add(key)
                continue
            if not isinstance(entry, Mapping) or len(entry) != 1:
                detail = f"bad entry {entry!r}: write {{TYPE: value}} or TIMEOUT"
                raise SnapshotEntryError(self.source, name, index, detail)
            ((rrtype, value),) = entry.items()
            rrtype = str(rrtype).upper()
            if rrtype == "TXT" and value == "NONE":
                txt_none = True
                continue
            if rrtype == "SPF":
                spf.append(_txt(value))
                continue
            if rrtype == "TXT":
                has_txt = True
            try:
                rdata = _rdata(rrtype, value)
            except ValueError as exc:
                raise SnapshotEntryError(self.source, name, index, str(exc)) from None
            self._records.setdefault((key, RRType(rrtype)), []).append(rdata)
        if spf and not has_txt and not txt_none:
            self._records.setdefault((key, RRType.TXT), []).extend(spf)

    def names(self) -> list[str]:
        """Every name that has data, sorted."""
        return sorted(self._names)

    def covers(self, name: str) -> bool:
        """Whether ``name`` is in the snapshot (an absent name is NXDOMAIN): a layer of a
        :class:`~spfmanager.dns.overlay.LayeredResolver` answers only for names it covers."""
        return normalize_name(name) in self._names

    def cname(self, name: str) -> str | None:
        """The CNAME target at ``name`` itself (not followed), or None."""
        records = self._records.get((normalize_name(name), RRType.CNAME))
        return str(records[0]) if records else None

    def query(self, name: str, rrtype: RRType) -> Answer:
        """Answer from the snapshot, following CNAMEs like a recursive resolver."""
        self.queries += 1
        known = self._answers.get((name, rrtype))
        if known is not None:
            return known
        answer = self._resolve(name, rrtype)
        self._answers[(name, rrtype)] = answer
        return answer

    def _resolve(self, name: str, rrtype: RRType) -> Answer:
        key = normalize_name(name)
        for _ in range(MAX_CNAME_CHAIN):
            records = self._records.get((key, rrtype))
            if records:
                return Answer(name, rrtype, tuple(records), ttl=3600)
            cname = self._records.get((key, RRType.CNAME))
            if cname and rrtype is not RRType.CNAME:
                key = normalize_name(str(cname[0]))
                continue
            if key in self._timeouts:
                raise DNSTemporaryError(f"timeout querying {name} {rrtype}")
            return Answer(name, rrtype, (), nxdomain=key not in self._names, ttl=3600)
        raise DNSTemporaryError(f"CNAME chain too long at {name} {rrtype}")


def _txt(value: Any) -> TXTRecord:
    strings = value if isinstance(value, list) else [value]
    return TXTRecord(tuple(zonedata_bytes(s) for s in strings))


def zonedata_bytes(value: Any) -> bytes:
    """Zonedata text as octets: Latin-1 where it fits (as the suite means), else UTF-8."""
    if isinstance(value, bytes):
        return value
    text = str(value)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _rdata(rrtype: str, value: Any) -> RData:
    """One record's data; ValueError says what is wrong."""
    try:
        if rrtype == "A":
            return IPv4Address(str(value))
        if rrtype == "AAAA":
            return IPv6Address(str(value))
        if rrtype == "MX":
            preference, exchange = value
            return MXRecord(int(preference), normalize_name(str(exchange)))
        if rrtype == "TXT":
            return _txt(value)
        if rrtype in ("PTR", "CNAME"):
            return normalize_name(str(value))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad {rrtype} value {value!r}: {exc}") from None
    supported = ", ".join(t.value for t in RRType)
    raise ValueError(f"unsupported record type {rrtype!r} (supported: {supported}, SPF)")
