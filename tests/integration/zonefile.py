"""Render zonedata (the OpenSPF suite form, see :mod:`spfmanager.dns.snapshot`) as a zone file.

The zone file (RFC 1035 section 5, as BIND reads it) serves the same answers as a
:class:`~spfmanager.dns.snapshot.SnapshotResolver` over the same zonedata, except that
``TIMEOUT`` cannot be served (it is dropped), identical records of one name and type
collapse into one (an RRset is a set), and a name with a CNAME keeps only the CNAME.
``SPF`` entries not served as TXT become type SPF (99) records, so their name exists.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import dns.name

from spfmanager.dns.base import RRType
from spfmanager.dns.resolver import dns_name
from spfmanager.dns.snapshot import zonedata_bytes
from spfmanager.dns.txt import MAX_TXT_STRING

log = logging.getLogger(__name__)

MARKER_LABEL = "_spfmanager-marker"
NAMESERVER = "ns.spfmanager.invalid."  # RFC 2606: .invalid never clashes with real data
DEFAULT_TTL = 3600
DEFAULT_NEGATIVE_TTL = 300


def render_zone(
    origin: str,
    zonedata: Mapping[str, Any],
    *,
    serial: int = 1,
    marker: str | None = None,
    ttl: int = DEFAULT_TTL,
    negative_ttl: int = DEFAULT_NEGATIVE_TTL,
) -> str:
    """The zone file of ``origin`` serving the names of ``zonedata`` under it.

    Names not under ``origin`` and names DNS cannot carry are skipped (logged).
    ``marker``, when given, is served as a TXT record at ``_spfmanager-marker.<origin>``
    so that a caller can tell this very zone (and version) is loaded.
    """
    apex = dns_name(origin)
    if apex is None:
        raise ValueError(f"not a valid zone origin: {origin!r}")
    ns = dns.name.from_text(NAMESERVER)
    lines = [
        f"$TTL {ttl}",
        f"@ {ttl} IN SOA {NAMESERVER} hostmaster.spfmanager.invalid. "
        f"{serial} 3600 600 86400 {negative_ttl}",
        f"@ {ttl} IN NS {NAMESERVER}",
    ]
    if ns.is_subdomain(apex):
        lines.append(f"{NAMESERVER} {ttl} IN A 127.0.0.1")  # the glue BIND insists on
    if marker is not None:
        lines.append(f"{marker_name(origin)} {ttl} IN TXT {quote(marker.encode())}")
    for name, entries in zonedata.items():
        owner = dns_name(str(name))
        if owner is None:
            log.warning("skipping %r: not a valid DNS name", name)
            continue
        if not owner.is_subdomain(apex):
            continue
        lines.extend(f"{owner.to_text()} {ttl} IN {rr}" for rr in _rrs(str(name), entries))
    return "\n".join(lines) + "\n"


def marker_name(origin: str) -> str:
    """The absolute name of the marker TXT record of a zone of ``origin``."""
    return _target(f"{MARKER_LABEL}.{origin.rstrip('.')}")


def _rrs(name: str, entries: Any) -> list[str]:
    """The ``TYPE rdata`` texts of one name's entries (SnapshotResolver's conventions)."""
    if isinstance(entries, str | Mapping):
        entries = [entries]
    records: list[tuple[RRType, str]] = []
    spf: list[str] = []
    txt_none = False
    for entry in entries or []:
        if entry == "TIMEOUT":
            log.info("%s: TIMEOUT cannot be served by a zone file; dropped", name)
            continue
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise ValueError(f"{name}: bad zonedata entry {entry!r}")
        ((kind, value),) = entry.items()
        kind = str(kind).upper()
        if kind == "TXT" and value == "NONE":
            txt_none = True
        elif kind == "SPF":
            spf.append(_txt(value))
        else:
            rrtype = RRType(kind)
            records.append((rrtype, _rdata(rrtype, value)))
    lines = [f"{rrtype.value} {rdata}" for rrtype, rdata in records]
    if spf and not txt_none and all(rrtype is not RRType.TXT for rrtype, _ in records):
        lines.extend(f"TXT {text}" for text in spf)
    else:
        # Not served as TXT: keep them as type SPF (99), so that the name still exists.
        lines.extend(f"SPF {text}" for text in spf)
    cnames = [line for line in lines if line.startswith("CNAME ")]
    if cnames and len(lines) > 1:
        log.warning("%s: a CNAME cannot have other data; serving the CNAME only", name)
        lines = cnames[:1]
    return lines


def _rdata(rrtype: RRType, value: Any) -> str:
    if rrtype in (RRType.A, RRType.AAAA):
        return str(value)
    if rrtype is RRType.MX:
        preference, exchange = value
        return f"{int(preference)} {_target(str(exchange))}"
    if rrtype is RRType.TXT:
        return _txt(value)
    return _target(str(value))  # PTR, CNAME


def _target(text: str) -> str:
    name = dns_name(text)
    if name is None:
        raise ValueError(f"not a valid DNS name: {text!r}")
    return name.to_text()


def _txt(value: Any) -> str:
    """One TXT rdata: each zonedata string (split at 255 octets) as a quoted string."""
    strings = value if isinstance(value, list) else [value]
    if not strings:
        return '""'  # a TXT record holds at least one string; empty is the nearest
    chunks: list[str] = []
    for string in strings:
        data = zonedata_bytes(string)
        parts = [data[i : i + MAX_TXT_STRING] for i in range(0, len(data), MAX_TXT_STRING)] or [b""]
        chunks.extend(quote(part) for part in parts)
    return " ".join(chunks)


def quote(data: bytes) -> str:
    """``data`` as a zone-file quoted string: ``"`` and ``\\`` escaped, others as ``\\DDD``."""
    out = []
    for byte in data:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'
