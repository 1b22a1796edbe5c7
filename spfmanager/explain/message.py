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
"""

from __future__ import annotations

import email
import email.policy
import logging
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import getaddresses
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path
from typing import Any

from spfmanager.errors import SPFManagerError
from spfmanager.explain.headers import (
    HeaderKind,
    Hop,
    RecordedCheck,
    parse_authentication_results,
    parse_received,
    parse_received_spf,
)

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


class MessageError(SPFManagerError):
    """A message that cannot be read or has no headers to explain SPF from."""


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
        }


def read_message(path: str | Path) -> Evidence:
    """Read and analyse an .eml file; raise MessageError naming the file when unusable."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MessageError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_message(raw, source=str(path))


def parse_message(raw: bytes, *, source: str = "<message>") -> Evidence:
    """Analyse a message's headers (for a bounce: the returned original's)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    from_report = False
    original = _returned_original(message)
    if original is not None:
        message, from_report = original, True
    if not message.keys():
        raise MessageError(f"{source}: no email headers found")
    checks = tuple(_checks(message))
    hops = tuple(parse_received(str(value)) for value in message.get_all("Received", []))
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
            "pass the connecting address with --ip"
        )
    helo = next((c.helo for c in evidence.checks if c.helo), None)
    if helo is None and evidence.edge is not None:
        helo = evidence.edge.helo
    mailfrom = _envelope_sender(evidence, recorded)
    if not mailfrom and not helo:
        raise MessageError(
            f"{evidence.source}: no envelope sender (Return-Path, smtp.mailfrom, "
            "envelope-from) and no HELO name to check"
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


def _returned_original(message: EmailMessage) -> EmailMessage | None:
    if message.get_content_type() != "multipart/report":
        return None
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], EmailMessage):
                return payload[0]
        if content_type == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                return email.message_from_bytes(text, policy=email.policy.default)
    return None


def _checks(message: Message) -> list[RecordedCheck]:
    checks: list[RecordedCheck] = []
    for name, value in message.items():
        lowered = name.lower()
        check: RecordedCheck | None = None
        if lowered == "received-spf":
            check = parse_received_spf(str(value))
        elif lowered == "authentication-results":
            check = parse_authentication_results(str(value))
        elif lowered == "arc-authentication-results":
            check = parse_authentication_results(str(value), HeaderKind.ARC_AUTHENTICATION_RESULTS)
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


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else str(value).strip()


def _address(message: Message, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    addresses = [address for _, address in getaddresses([str(value)])]
    return addresses[0] if addresses else ""
