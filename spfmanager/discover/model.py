"""DMARC aggregate reports as typed, immutable values (RFC 7489 appendix C, RFC 9990).

Readers produce these; nothing downstream sees XML. Result strings are kept lower-cased as
the reports spell them (``pass``, ``fail``, ``softfail``, ``neutral``, ``none``,
``temperror``, ``permerror``, ``policy``), since reporters use values outside the RFC's list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address

IPAddress = IPv4Address | IPv6Address


@dataclass(frozen=True)
class AuthResult:
    """One ``auth_results`` entry: an SPF or DKIM check the receiver made."""

    domain: str
    result: str
    selector: str | None = None  # DKIM
    scope: str | None = None  # SPF: "mfrom" or "helo"


@dataclass(frozen=True)
class Row:
    """One ``record``: ``count`` messages from ``source_ip`` evaluated alike."""

    source_ip: IPAddress
    count: int
    disposition: str  # none, quarantine, reject
    dkim_aligned: str  # policy_evaluated/dkim: pass or fail (DMARC alignment)
    spf_aligned: str  # policy_evaluated/spf: pass or fail (DMARC alignment)
    header_from: str
    envelope_from: str | None = None
    spf: tuple[AuthResult, ...] = ()
    dkim: tuple[AuthResult, ...] = ()


@dataclass(frozen=True)
class Report:
    """One aggregate report: who sent it, for which domain and period, and its rows."""

    source: str  # where it was read: file name, plus "!member" inside an archive or mail
    org_name: str
    report_id: str
    begin: datetime  # UTC
    end: datetime  # UTC
    domain: str  # policy_published/domain
    policy: str | None  # policy_published/p
    rows: tuple[Row, ...]
    version: str | None = None  # "1.0", "2.0" (RFC 9990 namespace) or None when absent
    # What the reader tolerated or dropped (rows with an invalid address, bytes that were
    # not valid UTF-8...), for people; empty for a clean report.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A file (or archive member, or message) that could not be read, and why."""

    file: str
    reason: str
