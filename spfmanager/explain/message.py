"""Read a message (.eml) and work out the SMTP connection its SPF check was about.

Which IP connected: ``--ip`` if given; else the ``client-ip`` the receiver recorded (in
Received-SPF, or Microsoft 365's "sender IP is" comment); else the Received chain. The
chain heuristic walks Received headers top-down (newest first) and skips each hop that
is internal to the receiving organisation: no ``from`` address, a ``from`` address in a
private, loopback, link-local or shared range, or a ``from`` host in one of the
receiver's domains (from the receiver's Authentication-Results id, Received-SPF
``receiver=`` and the topmost ``by`` host). The first hop left is the receiver's edge,
and its ``from`` address is the last external hop: the sender's outbound server.

For a delivery status notification (``multipart/report``) the returned original message
(``message/rfc822`` or ``text/rfc822-headers``) is analysed instead of the bounce itself.

Reading is bounded (see :mod:`spfmanager.explain.mime`): only header fields are parsed,
at most ``MAX_TRACE_FIELDS`` of each trace kind, and what was skipped is reported in
``Evidence.skipped``; a hostile message gives a shorter analysis, never a crash.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path
from typing import Any

from spfmanager.errors import MessageError
from spfmanager.explain.headers import (
    HeaderKind,
    Hop,
    RecordedCheck,
    parse_authentication_results,
    parse_received,
    parse_received_spf,
)
from spfmanager.explain.mime import MAX_MESSAGE_BYTES, Reader

log = logging.getLogger(__name__)
IPAddress = IPv4Address | IPv6Address

INTERNAL_NETWORKS: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("0.0.0.0/8"),  # RFC 1122 3.2.1.3 "this network"
    IPv4Network("10.0.0.0/8"),  # RFC 1918
    IPv4Network("100.64.0.0/10"),  # RFC 6598 shared address space (CGNAT)
    IPv4Network("127.0.0.0/8"),  # RFC 1122 loopback
    IPv4Network("169.254.0.0/16"),  # RFC 3927 link-local
    IPv4Network("172.16.0.0/12"),  # RFC 1918
    IPv4Network("192.168.0.0/16"),  # RFC 1918
    IPv6Network("::1/128"),  # RFC 4291 loopback
    IPv6Network("fc00::/7"),  # RFC 4193 unique local
    IPv6Network("fe80::/10"),  # RFC 4291 link-local
)
# Second-level labels under which registrations happen one level down (example.co.uk).
# A stand-in for the Public Suffix List, good enough to group a receiver's hosts.
_SECOND_LEVEL_SUFFIXES = frozenset({"ac", "co", "com", "edu", "gov", "ne", "net", "or", "org"})
# What the receiver recorded, most trusted first: RFC 8601's header is the standard one.
_PREFERENCE = (
    HeaderKind.AUTHENTICATION_RESULTS,
    HeaderKind.RECEIVED_SPF,
    HeaderKind.ARC_AUTHENTICATION_RESULTS,
)
# Received, Received-SPF, Authentication-Results and ARC-Authentication-Results fields read,
# each, topmost first: RFC 5321 6.3 takes over 100 Received fields for a mail loop.
MAX_TRACE_FIELDS = 100
# And in all, at most this much of them: email's header parser takes ~1.5 ms a kilobyte of
# dense text, and a real message's trace fields add up to a few tens of kilobytes.
MAX_TRACE_BYTES = 256 * 1024
_TRACE_KINDS = {
    "received": "Received",
    "received-spf": HeaderKind.RECEIVED_SPF.value,
    "authentication-results": HeaderKind.AUTHENTICATION_RESULTS.value,
    "arc-authentication-results": HeaderKind.ARC_AUTHENTICATION_RESULTS.value,
}


class IPSource(StrEnum):
    """Where the connecting IP came from."""

    OPTION = "given with --ip"
    RECORDED = "recorded by the receiver"
    RECEIVED_CHAIN = "from the Received chain"


@dataclass(frozen=True, slots=True)
class Connection:
    """The SMTP connection to re-check: client IP, envelope sender and HELO name."""

    ip: IPAddress
    ip_source: IPSource
    mailfrom: str  # "" for the null sender: SPF then checks postmaster@helo
    helo: str

    @property
    def data(self) -> dict[str, Any]:
        return {
            "ip": str(self.ip),
            "ip_source": self.ip_source.value,
            "mailfrom": self.mailfrom,
            "helo": self.helo,
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the message says about how it was received, topmost header first."""

    source: str
    checks: tuple[RecordedCheck, ...]
    hops: tuple[Hop, ...]
    edge: Hop | None  # the receiver's edge hop found by the Received chain heuristic
    receiver_domains: tuple[str, ...]
    return_path: str | None
    from_address: str | None
    subject: str | None
    from_report: bool  # analysed the original message inside a bounce
    skipped: tuple[str, ...] = ()  # what the bounded reader left out, as sentences

    @property
    def recorded(self) -> RecordedCheck | None:
        """The receiver's own verdict: the topmost header, by kind preference."""
        for kind in _PREFERENCE:
            for check in self.checks:
                if check.kind is kind:
                    return check
        return None

    @property
    def data(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "from_report": self.from_report,
            "subject": self.subject,
            "from": self.from_address,
            "return_path": self.return_path,
            "receiver_domains": list(self.receiver_domains),
            "recorded": [check.data for check in self.checks],
            "edge_hop": None if self.edge is None else self.edge.data,
            "received": [hop.data for hop in self.hops],
            "skipped": list(self.skipped),
        }


def read_message(path: str | Path) -> Evidence:
    """Read and analyse an .eml file; raise MessageError naming the file when unusable.

    At most ``MAX_MESSAGE_BYTES`` of the file are read.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_MESSAGE_BYTES + 1)
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise MessageError(f"{path}: cannot read: {exc.strerror}") from None
    return _analyse(raw, str(path), size)


def parse_message(raw: bytes, *, source: str = "<message>") -> Evidence:
    """Analyse a message's headers (for a bounce: the returned original's)."""
    return _analyse(raw, source, len(raw))


def _analyse(raw: bytes, source: str, size: int) -> Evidence:
    reader = Reader()
    top = reader.message(raw, size)
    message = top.headers
    original = reader.returned_original(top)
    from_report = original is not None
    if original is not None:
        message = original
    if not len(message):
        raise MessageError(f"{source}: no email headers found" + _unread(reader.skipped))
    fields = _trace_fields(message, reader)
    checks = tuple(_checks(fields))
    hops = tuple(parse_received(value) for name, value in fields if name == "received")
    domains = _receiver_domains(checks, hops)
    return Evidence(
        source=source,
        checks=checks,
        hops=hops,
        edge=edge_hop(hops, domains),
        receiver_domains=domains,
        return_path=_address(message, "Return-Path"),
        from_address=_address(message, "From"),
        subject=_header(message, "Subject"),
        from_report=from_report,
        skipped=tuple(reader.skipped),
    )


def connection(evidence: Evidence, ip: IPAddress | None = None) -> Connection:
    """The connection to re-evaluate; raise MessageError when the message does not tell."""
    recorded = evidence.recorded
    recorded_ip = next((c.client_ip for c in evidence.checks if c.client_ip is not None), None)
    if ip is not None:
        chosen, source = ip, IPSource.OPTION
    elif recorded_ip is not None:
        chosen, source = recorded_ip, IPSource.RECORDED
    elif evidence.edge is not None and evidence.edge.from_ip is not None:
        chosen, source = evidence.edge.from_ip, IPSource.RECEIVED_CHAIN
    else:
        raise MessageError(
            f"{evidence.source}: no Received-SPF client-ip and no external Received hop; "
            "pass the connecting address with --ip" + _unread(evidence.skipped)
        )
    helo = next((c.helo for c in evidence.checks if c.helo), None)
    if helo is None and evidence.edge is not None:
        helo = evidence.edge.helo
    mailfrom = _envelope_sender(evidence, recorded)
    if not mailfrom and not helo:
        raise MessageError(
            f"{evidence.source}: no envelope sender (Return-Path, smtp.mailfrom, "
            "envelope-from) and no HELO name to check" + _unread(evidence.skipped)
        )
    return Connection(ip=chosen, ip_source=source, mailfrom=mailfrom, helo=helo or "")


def edge_hop(hops: tuple[Hop, ...], receiver_domains: tuple[str, ...]) -> Hop | None:
    """The topmost hop whose client is outside the receiving organisation (module docstring)."""
    for hop in hops:
        if hop.from_ip is None or is_internal(hop.from_ip):
            continue
        if hop.from_host and org_domain(hop.from_host) in receiver_domains:
            continue
        return hop
    return None


def is_internal(address: IPAddress) -> bool:
    """A private, loopback, link-local or shared address: never an Internet sender."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(
        address in network for network in INTERNAL_NETWORKS if network.version == address.version
    )


def org_domain(host: str) -> str:
    """The registered domain of a host name, approximately (no Public Suffix List)."""
    labels = host.rstrip(".").lower().split(".")
    keep = (
        3
        if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL_SUFFIXES
        else 2
    )
    return ".".join(labels[-keep:])


# -- helpers ---------------------------------------------------------------------------------


def _trace_fields(message: EmailMessage, reader: Reader) -> list[tuple[str, str]]:
    """The trace fields (lower-cased name, value), topmost first, within the limits above."""
    fields: list[tuple[str, str]] = []
    seen: Counter[str] = Counter()
    budget, over_budget = MAX_TRACE_BYTES, 0
    for name, raw in message.raw_items():
        lowered = name.lower()
        if lowered not in _TRACE_KINDS:
            continue
        seen[lowered] += 1
        if seen[lowered] > MAX_TRACE_FIELDS:
            continue
        if over_budget or len(raw) > budget:
            over_budget += 1
            continue
        budget -= len(raw)
        fields.append((lowered, str(message.policy.header_fetch_parse(name, raw))))
    for lowered, count in seen.items():
        if count > MAX_TRACE_FIELDS:
            reader.skip(
                f"Of {count:,} {_TRACE_KINDS[lowered]} headers only the topmost "
                f"{MAX_TRACE_FIELDS} were considered ({count - MAX_TRACE_FIELDS:,} skipped)."
            )
    if over_budget:
        reader.skip(
            f"Trace headers were read up to {MAX_TRACE_BYTES:,} bytes; {over_budget:,} more "
            "Received, Received-SPF and Authentication-Results headers were skipped."
        )
    return fields


def _checks(fields: list[tuple[str, str]]) -> list[RecordedCheck]:
    checks: list[RecordedCheck] = []
    for lowered, value in fields:
        check: RecordedCheck | None = None
        if lowered == "received-spf":
            check = parse_received_spf(value)
        elif lowered == "authentication-results":
            check = parse_authentication_results(value)
        elif lowered == "arc-authentication-results":
            check = parse_authentication_results(value, HeaderKind.ARC_AUTHENTICATION_RESULTS)
        if check is not None:
            checks.append(check)
    return checks


def _receiver_domains(checks: tuple[RecordedCheck, ...], hops: tuple[Hop, ...]) -> tuple[str, ...]:
    hosts = [c.receiver for c in checks if c.receiver and "." in c.receiver]
    if hops and hops[0].by_host and "." in hops[0].by_host:
        hosts.append(hops[0].by_host)
    return tuple(dict.fromkeys(org_domain(host) for host in hosts))


def _envelope_sender(evidence: Evidence, recorded: RecordedCheck | None) -> str:
    """Receiver-recorded sender first; a bare domain is completed from Return-Path."""
    ordered = sorted(evidence.checks, key=lambda c: _PREFERENCE.index(c.kind))
    if recorded is not None and recorded.identity == "helo":
        return ""
    sender = next((c.mailfrom for c in ordered if c.mailfrom), None)
    return_path = evidence.return_path
    if sender is None:
        return return_path or ""
    if (
        "@" not in sender
        and return_path
        and return_path.rpartition("@")[2].lower() == sender.lower()
    ):
        return return_path
    return sender


def _unread(skipped: tuple[str, ...] | list[str]) -> str:
    """For an error message: what the bounded reader left out, which may be why."""
    return (" (" + " ".join(skipped) + ")") if skipped else ""


def _header(message: EmailMessage, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else str(value).strip()


def _address(message: EmailMessage, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    addresses = [address for _, address in getaddresses([str(value)])]
    return addresses[0] if addresses else ""
