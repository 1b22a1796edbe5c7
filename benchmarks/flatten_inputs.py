"""Shared inputs of the flattening benchmarks: realistic and adversarial sender domains.

Realistic domains combine the sending services of ``tests/data/provider-snapshot.yaml``;
adversarial ones add a few upstream records (``ADVERSARIAL_ZONE``) that naive flatteners
get wrong: exclusions inside an include, qualified terms, a TXT record split mid-token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import yaml

from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.spf.parser import is_spf_record, parse_record
from spfmanager.spf.terms import IP4, IP6

SNAPSHOT = Path(__file__).resolve().parent.parent / "tests" / "data" / "provider-snapshot.yaml"

MICROSOFT = "spf.protection.outlook.com"
MAILCHIMP = "servers.mcsv.net"
GOOGLE = "_spf.google.com"
SENDGRID = "sendgrid.net"
AMAZON_SES = "amazonses.com"
ZENDESK = "mail.zendesk.com"
MAILGUN = "mailgun.org"
BREVO = "spf.sendinblue.com"
MAILJET = "spf.mailjet.com"
MARKETO = "mktomail.com"
PARDOT = "et._spf.pardot.com"
TREND_MICRO = "spf.tmes.trendmicro.com"
IONOS = "_spf-eu.ionos.com"

# Upstream records that are legal, published in the wild in this shape, and easy to misread.
ADVERSARIAL_ZONE: dict[str, list[dict[str, Any]]] = {
    # An ESP that carves a retired /25 out of its /24 and soft-fails everything else.
    "_spf.carve-out.example": [
        {"TXT": "v=spf1 -ip4:203.0.113.128/25 ip4:203.0.113.0/24 ip6:2001:db8:cafe::/48 ~all"}
    ],
    # A long record split into 255-byte character-strings by the DNS UI, mid-token.
    "_spf.split.example": [
        {"TXT": ["v=spf1 ip4:198.51.100.0/2", "4 ip4:192.0.2.128/25 -all"]},
    ],
}


class Kind(StrEnum):
    """Why an input is in the benchmark."""

    REALISTIC = "realistic"
    ADVERSARIAL = "adversarial"


@dataclass(frozen=True)
class Input:
    """One sender domain and the SPF record its owner means to publish."""

    name: str
    domain: str
    record: str
    kind: Kind
    note: str


def _includes(*services: str) -> str:
    return " ".join(f"include:{s}" for s in services)


INPUTS: tuple[Input, ...] = (
    Input(
        "small",
        "small.example",
        f"v=spf1 {_includes(MICROSOFT, MAILCHIMP)} ip4:192.0.2.10 ip4:198.51.100.0/28 -all",
        Kind.REALISTIC,
        "Microsoft 365 + Mailchimp + own IPs",
    ),
    Input(
        "medium",
        "medium.example",
        f"v=spf1 {_includes(MICROSOFT, GOOGLE, SENDGRID, AMAZON_SES, ZENDESK, MAILCHIMP)} ~all",
        Kind.REALISTIC,
        "6 services (Google's 3-level chain included)",
    ),
    Input(
        "over-limit",
        "large.example",
        "v=spf1 "
        + _includes(
            MICROSOFT,
            GOOGLE,
            SENDGRID,
            AMAZON_SES,
            MAILGUN,
            BREVO,
            MAILJET,
            ZENDESK,
            MARKETO,
            PARDOT,
            TREND_MICRO,
            IONOS,
        )
        + " ip4:192.0.2.0/26 -all",
        Kind.REALISTIC,
        "a dozen services, 19 lookups: needs chained records",
    ),
    Input(
        "mondialrelay.fr",
        "mondialrelay.fr",
        "v=spf1 include:spf.protection.outlook.com include:protecmail.mondialrelay.fr "
        "include:spf.tipimail.com include:info.mondialrelay.fr ip4:185.7.39.6 ip4:185.7.39.7 "
        "include:mailgun.org include:amazonses.com -all",
        Kind.REALISTIC,
        "the snapshot's real record",
    ),
    Input(
        "adv-exclusions",
        "carve.example",
        f"v=spf1 include:_spf.carve-out.example {_includes(MAILCHIMP)} -all",
        Kind.ADVERSARIAL,
        "include holding '-ip4:' exclusions and '~all'",
    ),
    Input(
        "adv-qualifiers",
        "qualified.example",
        f"v=spf1 ~ip4:198.51.100.0/24 +ip4:192.0.2.0/24 ?{_includes(MAILCHIMP)} "
        f"{_includes(MICROSOFT)} ~all",
        Kind.ADVERSARIAL,
        "'~ip4', '+ip4', '?include' and a top-level '~all'",
    ),
    Input(
        "adv-split-strings",
        "split.example",
        f"v=spf1 include:_spf.split.example {_includes(MAILCHIMP)} -all",
        Kind.ADVERSARIAL,
        "upstream TXT split into two strings mid-token",
    ),
)

# Service mixes for the scaling run: many domains, few distinct upstream sets.
MIXES: tuple[str, ...] = (
    f"v=spf1 {_includes(MICROSOFT, MAILCHIMP)} ip4:192.0.2.10 -all",
    f"v=spf1 {_includes(GOOGLE, SENDGRID, ZENDESK)} ~all",
    f"v=spf1 {_includes(MICROSOFT, AMAZON_SES, MAILGUN, BREVO)} -all",
    f"v=spf1 {_includes(GOOGLE, MICROSOFT, MARKETO)} -all",
)


def scaling_domains(count: int) -> list[tuple[str, str]]:
    """``count`` distinct (domain, record) pairs cycling through :data:`MIXES`."""
    return [(f"d{i:04d}.scale.example", MIXES[i % len(MIXES)]) for i in range(count)]


def zonedata(path: Path = SNAPSHOT) -> dict[str, Any]:
    """The provider snapshot plus the adversarial upstream records."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {**data, **ADVERSARIAL_ZONE}


def resolver(path: Path = SNAPSHOT) -> SnapshotResolver:
    """An offline resolver over :func:`zonedata`."""
    return SnapshotResolver(zonedata(path), source=str(path))


def _txt_values(data: dict[str, Any]) -> Iterator[str]:
    for entries in data.values():
        for entry in entries or []:
            if isinstance(entry, dict) and "TXT" in entry:
                value = entry["TXT"]
                yield "".join(value) if isinstance(value, list) else str(value)


def probe_points(
    data: dict[str, Any], records: tuple[str, ...] = ()
) -> list[IPv4Address | IPv6Address]:
    """Range edges (first-1, first, last, last+1) of every ip4/ip6 term in the data.

    ``records`` adds the benchmark's own records, whose ip4 terms are not in the zone.
    """
    points: set[IPv4Address | IPv6Address] = {ip_address("0.0.0.0"), ip_address("::1")}
    for text in (*_txt_values(data), *records):
        if not is_spf_record(text):
            continue
        for term in parse_record(text).terms:
            if isinstance(term, IP4 | IP6):
                network = term.network
                first, last = int(network.network_address), int(network.broadcast_address)
                top = (1 << network.max_prefixlen) - 1
                for value in (first - 1, first, last, last + 1):
                    if 0 <= value <= top:
                        points.add(
                            IPv4Address(value) if network.version == 4 else IPv6Address(value)
                        )
    return sorted(points, key=lambda p: (p.version, int(p)))
