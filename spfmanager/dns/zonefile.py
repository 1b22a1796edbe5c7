"""An offline resolver over a BIND zone file: DNS as it will be once the file is published.

The file (``$ORIGIN``, ``$TTL``, SOA, TXT records split into strings, comments, any record
types: what the zone-file provider writes) is parsed by dnspython and turned into the
snapshot's zonedata, which a :class:`~spfmanager.dns.snapshot.SnapshotResolver` answers
from. What a snapshot cannot say, the zone adds: it speaks for every name at or below its
origin (a name of the zone without records is NXDOMAIN, or NODATA when names exist below
it), except below a delegation (NS records at a name other than the origin), and nowhere
else. A wildcard (``*.example.com``) answers for the names of the zone that do not exist
(RFC 4592). Only the types SPF asks for are kept (A, AAAA, MX, TXT, PTR, CNAME); a name
with other records only (NS, SOA, SRV, the obsolete SPF type...) exists without them.

The zone's origin is, in this order: the one the caller names; the file's first
``$ORIGIN`` when it comes before any relative name; the file's name, when it is
``ZONE.zone`` (as the zone-file provider names its files). Else the file cannot be read.
The origin needs no SOA or NS records: a draft zone can be checked too. ``$INCLUDE`` is not
followed. Every problem raises :class:`~spfmanager.errors.SnapshotError` naming the file
and, where there is one, the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tokenizer
import dns.zone
import dns.zonefile
from dns.rdtypes.ANY.CNAME import CNAME as CNAMERdata
from dns.rdtypes.ANY.MX import MX as MXRdata
from dns.rdtypes.ANY.PTR import PTR as PTRRdata
from dns.rdtypes.ANY.TXT import TXT as TXTRdata
from dns.rdtypes.IN.A import A as ARdata
from dns.rdtypes.IN.AAAA import AAAA as AAAARdata

from spfmanager.dns.base import Answer, RRType, normalize_name
from spfmanager.dns.snapshot import MAX_CNAME_CHAIN, SnapshotResolver
from spfmanager.errors import DNSTemporaryError, SnapshotError

ZONE_SUFFIX = ".zone"  # ZONE.zone: how the zone-file provider names its files
MAX_QUOTED = 80  # characters of the bad line an error quotes
OUTSIDE_TTL = 3600  # the TTL of the NXDOMAIN for a name outside the zone (as snapshots give)


class ZoneResolver:
    """Answers queries for the names of one zone from its records; counts the queries.

    A name outside the zone (or below a delegation) is NXDOMAIN here, as an absent name of a
    snapshot is, and :meth:`covers` says False for it, so that a
    :class:`~spfmanager.dns.overlay.LayeredResolver` asks the next layer instead. CNAMEs
    are followed within the zone; a LayeredResolver follows them across layers.
    """

    def __init__(
        self,
        origin: str,
        zonedata: Mapping[str, Iterable[Any]],
        *,
        delegations: Iterable[str] = (),
        source: str = "<zone>",
    ) -> None:
        self.origin = normalize_name(origin)
        self.source = source
        self._delegations = frozenset(normalize_name(name) for name in delegations)
        self._delegations -= {self.origin}  # the zone's own NS records delegate nothing
        self._data = SnapshotResolver(self._with_ancestors(zonedata), source=source)
        self._names = frozenset(self._data.names())
        self.queries = 0

    @classmethod
    def from_file(cls, path: str | Path, origin: str | None = None) -> ZoneResolver:
        """Read a zone file; ``origin`` (when given) is the zone's name (see the module doc)."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SnapshotError(f"{path}: cannot read zone file: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise SnapshotError(f"{path}:{line}: not UTF-8 text") from None
        named = path.name[: -len(ZONE_SUFFIX)] if path.name.endswith(ZONE_SUFFIX) else None
        return cls.from_text(text, origin, source=str(path), file_origin=named or None)

    @classmethod
    def from_text(
        cls,
        text: str,
        origin: str | None = None,
        *,
        source: str = "<zone>",
        file_origin: str | None = None,
    ) -> ZoneResolver:
        """Parse zone file text. Without ``origin``, the text's own ``$ORIGIN`` names the
        zone, else ``file_origin`` (the name the file's name gives), else SnapshotError."""
        zone = _parse(text, None if origin is None else _origin(origin, source), source)
        if zone is None and file_origin is not None:
            zone = _parse(text, _origin(file_origin, source), source)
        if zone is None or zone.origin is None:
            raise SnapshotError(
                f"{source}: cannot tell which zone the file holds: it has no $ORIGIN "
                f"before its first record and its name is not ZONE{ZONE_SUFFIX}; add "
                "'$ORIGIN example.com.' at its top, or name the zone (check: --zone ZONE=FILE)"
            )
        zonedata: dict[str, list[dict[str, Any]]] = {}
        delegations: list[str] = []
        for owner, node in zone.nodes.items():
            name = _name_text(owner)
            entries = zonedata.setdefault(name, [])
            for rdataset in node:
                if rdataset.rdtype == dns.rdatatype.NS:
                    delegations.append(name)
                entries.extend(_entries(rdataset))
        return cls(_name_text(zone.origin), zonedata, delegations=delegations, source=source)

    def _with_ancestors(self, zonedata: Mapping[str, Iterable[Any]]) -> dict[str, Any]:
        """``zonedata`` with its empty non-terminals: a name with names below it exists
        (NODATA, not NXDOMAIN), up to the origin."""
        data: dict[str, Any] = {}
        for name, entries in zonedata.items():
            key = normalize_name(name)
            data[key] = [*data.get(key, []), *entries]
            while key != self.origin and self._within(key):
                key = key.partition(".")[2]
                data.setdefault(key, [])
        return data

    def _within(self, name: str) -> bool:
        return not self.origin or name == self.origin or name.endswith(f".{self.origin}")

    def covers(self, name: str) -> bool:
        """Whether the zone answers for ``name``: at or below its origin, not delegated."""
        key = normalize_name(name)
        if not self._within(key):
            return False
        return not any(key == cut or key.endswith(f".{cut}") for cut in self._delegations)

    def names(self) -> list[str]:
        """Every name that exists in the zone (empty non-terminals too), sorted."""
        return sorted(self._names)

    def _source(self, key: str) -> str | None:
        """The name whose records answer for ``key``: itself, the wildcard of its closest
        existing ancestor (RFC 4592 3.3.1), or None (NXDOMAIN)."""
        if key in self._names:
            return key
        encloser = key
        while encloser != self.origin and "." in encloser:
            encloser = encloser.partition(".")[2]
            if encloser in self._names or encloser == self.origin:
                wildcard = f"*.{encloser}"
                return wildcard if wildcard in self._names else None
        return None

    def cname(self, name: str) -> str | None:
        """The CNAME target at ``name`` itself (not followed), or None."""
        key = normalize_name(name)
        source = self._source(key) if self.covers(key) else None
        return None if source is None else self._data.cname(source)

    def query(self, name: str, rrtype: RRType) -> Answer:
        """Answer from the zone; a name outside it is NXDOMAIN (see the class doc)."""
        self.queries += 1
        key = normalize_name(name)
        for _ in range(MAX_CNAME_CHAIN):
            target = None if rrtype is RRType.CNAME else self.cname(key)
            if target is None:
                break
            key = normalize_name(target)
        else:
            raise DNSTemporaryError(f"CNAME chain too long at {name} {rrtype}")
        source = self._source(key) if self.covers(key) else None
        if source is None:
            return Answer(name, rrtype, (), nxdomain=True, ttl=OUTSIDE_TTL)
        return replace(self._data.query(source, rrtype), name=name)


class _Tokenizer(dns.tokenizer.Tokenizer):
    """Remembers the line of the last token read. dnspython's own location is the line
    after it when the token ended its line (the newline was read to end the token)."""

    token_line = 1

    def get(self, want_leading: bool = False, want_comment: bool = False) -> dns.tokenizer.Token:
        fresh = self.ungotten_token is None
        token = super().get(want_leading, want_comment)
        if fresh and not (token.is_eol_or_eof() or token.is_whitespace() or token.is_comment()):
            self.token_line = self.line_number - (1 if self.ungotten_char == "\n" else 0)
        return token


def _parse(text: str, origin: dns.name.Name | None, source: str) -> dns.zone.Zone | None:
    """The zone in ``text``, names absolute; SnapshotError (file and line) when it is bad.
    None when ``origin`` is None and the text sets none before it needs one."""
    zone = dns.zone.Zone(origin, dns.rdataclass.IN, relativize=False)
    tok = _Tokenizer(text, source)
    try:
        with zone.writer(True) as txn:
            dns.zonefile.Reader(tok, dns.rdataclass.IN, txn, allow_include=False).read()
    except dns.zonefile.UnknownOrigin:
        if origin is None:
            return None
        raise SnapshotError(f"{source}:{tok.token_line}: a relative $ORIGIN") from None
    except dns.exception.DNSException as exc:
        # dnspython prefixes syntax errors with its own location; ours is exact.
        detail = str(exc).removeprefix(f"{source}:{tok.line_number}: ") or type(exc).__name__
        raise SnapshotError(_where(text, source, tok.token_line, detail)) from None
    except (ValueError, UnicodeError) as exc:  # an IDNA name dnspython cannot encode, ...
        raise SnapshotError(_where(text, source, tok.token_line, str(exc))) from None
    return None if zone.origin is None else zone  # None: absolute names only, no $ORIGIN


def _where(text: str, source: str, line: int, detail: str) -> str:
    """``FILE:LINE: detail: the line`` (dnspython's messages do not quote the record)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # as dnspython counts
    quoted = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    if len(quoted) > MAX_QUOTED:
        quoted = quoted[: MAX_QUOTED - 3] + "..."
    return f"{source}:{line}: {detail.rstrip('.')}" + (f": {quoted}" if quoted else "")


def _origin(origin: str, source: str) -> dns.name.Name:
    try:
        return dns.name.from_text(origin.rstrip(".") + ".")
    except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
        raise SnapshotError(f"{source}: {origin!r} is not a zone name: {exc}") from None


def _entries(rdataset: dns.rdataset.Rdataset) -> list[dict[str, Any]]:
    """The zonedata entries of one RRset (none for the types SPF never asks for)."""
    entries: list[dict[str, Any]] = []
    for rdata in rdataset:
        if isinstance(rdata, ARdata):
            entries.append({"A": rdata.address})
        elif isinstance(rdata, AAAARdata):
            entries.append({"AAAA": rdata.address})
        elif isinstance(rdata, MXRdata):
            entries.append({"MX": [rdata.preference, _name_text(rdata.exchange)]})
        elif isinstance(rdata, TXTRdata):  # not the SPF type: receivers ask for TXT only
            entries.append({"TXT": list(rdata.strings)})  # octets as written
        elif isinstance(rdata, CNAMERdata):
            entries.append({"CNAME": _name_text(rdata.target)})
        elif isinstance(rdata, PTRRdata):
            entries.append({"PTR": _name_text(rdata.target)})
    return entries


def _name_text(name: dns.name.Name) -> str:
    """A name as queries name it: labels taken literally, lower case, no final dot."""
    return ".".join(label.decode("utf-8", "replace") for label in name.labels if label).lower()
