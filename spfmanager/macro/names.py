"""The names receivers query in macro mode, and the limits they must fit.

The root record names ``%{ir}.%{v}.%{d}.<zone>`` (the first address-only part of the
intent; a later one ``%{ir}.p<k>-%{v}.%{d}.<zone>``). Expanded for a client that is

* ``4.3.2.1.in-addr.<domain>.<zone>`` for 1.2.3.4 (``%{v}`` is ``in-addr``, RFC 7208 7.3);
* 32 nibbles (63 characters) then ``ip6.<domain>.<zone>`` for an IPv6 client.

RFC 7208 7.3 truncates an expanded domain-spec over 253 characters by dropping labels from
the left: the receiver would then query a name without the client's leading octets or
nibbles, which no entry answers as meant. So a domain is refused (:class:`MacroError`) when
the longest expansion of its names, an IPv6 client's, would be truncated, and every label
must stay within 63 octets (RFC 1035 2.3.4).
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address

from spfmanager.dns.base import normalize_name
from spfmanager.errors import MacroError
from spfmanager.spf.limits import MAX_DOMAIN_LENGTH, MAX_LABEL_LENGTH

IPV4_REVERSED_MAX = len("255.255.255.255")  # %{ir} of the longest IPv4 client: 15
IPV6_REVERSED = 63  # %{ir} of any IPv6 client: 32 nibbles and 31 dots
FAMILY_LABEL = {4: "in-addr", 6: "ip6"}  # %{v}, RFC 7208 7.3
_PART_LABEL = re.compile(r"(p[1-9][0-9]*-)?(in-addr|ip6)")  # part_label()'s


def part_label(part: int, version: int) -> str:
    """The label after the client's address: ``in-addr``/``ip6``, ``p<k>-`` before it for
    the k-th (k >= 1) address-only part of the root record."""
    return FAMILY_LABEL[version] if part == 0 else f"p{part}-{FAMILY_LABEL[version]}"


def domain_spec(zone: str, part: int = 0) -> str:
    """The macro domain-spec the root record names for address-only part ``part``."""
    family = "%{v}" if part == 0 else f"p{part}-%{{v}}"
    return f"%{{ir}}.{family}.%{{d}}.{normalize_name(zone)}"


def subzone(domain: str, version: int, part: int = 0) -> str:
    """The rbldnsd subzone (relative to the macro zone) answering ``domain``'s clients."""
    return f"{part_label(part, version)}.{normalize_name(domain)}"


def owner_of(name: str) -> str | None:
    """The sending domain whose subzone (or a name beneath it) ``name`` is, relative to the
    macro zone: ``in-addr.example.com``, ``*.2.0.192.p1-in-addr.example.com`` ->
    ``example.com``; None for any other name."""
    labels = normalize_name(name).split(".")
    for index, label in enumerate(labels[:-1]):
        if _PART_LABEL.fullmatch(label):
            return ".".join(labels[index + 1 :])
    return None


def reversed_address(address: IPv4Address | IPv6Address) -> str:
    """``%{ir}``: the dotted octets (IPv4) or nibbles (IPv6), reversed."""
    if address.version == 4:
        return ".".join(reversed(str(address).split(".")))
    return ".".join(reversed(address.exploded.replace(":", "")))


def query_name(address: IPv4Address | IPv6Address, domain: str, zone: str, part: int = 0) -> str:
    """The name a receiver queries for ``address`` (before any truncation)."""
    label = part_label(part, address.version)
    return f"{reversed_address(address)}.{label}.{normalize_name(domain)}.{normalize_name(zone)}"


def longest_name(domain: str, zone: str, parts: int = 1) -> int:
    """Characters of the longest name receivers may query for ``domain`` (an IPv6 client,
    the last part's label)."""
    label = part_label(parts - 1, 6)
    return IPV6_REVERSED + 1 + len(label) + 1 + len(normalize_name(domain)) + 1 + len(zone)


def max_domain_and_zone(version: int, parts: int = 1) -> int:
    """The most characters ``<domain>`` plus ``<zone>`` may have together (without the dot
    between them) so that a client of this family's name is not truncated: 184 for IPv6
    and 228 for IPv4 with one part."""
    label = part_label(parts - 1, version)
    reversed_length = IPV6_REVERSED if version == 6 else IPV4_REVERSED_MAX
    return MAX_DOMAIN_LENGTH - reversed_length - 1 - len(label) - 1 - 1


def check_names(domain: str, zone: str, parts: int = 1) -> None:
    """Raise MacroError unless every name receivers query for ``domain`` fits RFC 7208 7.3
    untruncated and RFC 1035's label limit."""
    domain, zone = normalize_name(domain), normalize_name(zone)
    for name, what in ((domain, "domain"), (zone, "macro zone")):
        if not name or any(not label for label in name.split(".")):
            raise MacroError(f"{what} {name!r} is not a valid DNS name")
        long = [label for label in name.split(".") if len(label) > MAX_LABEL_LENGTH]
        if long:
            raise MacroError(f"{what} {name}: label {long[0][:20]}... over {MAX_LABEL_LENGTH}")
    both = len(domain) + len(zone)
    for version in (6, 4):
        most = max_domain_and_zone(version, parts)
        if both > most:
            name = query_name(_LONGEST[version], domain, zone, parts - 1)
            raise MacroError(
                f"{domain}: macro mode cannot serve it under {zone}: an IPv{version} client's "
                f"name ({name[:24]}...) has {len(name)} characters, over RFC 7208's "
                f"{MAX_DOMAIN_LENGTH}, and receivers would drop its leading labels (7.3); the "
                f"domain and the zone may have {most} characters together, they have {both}: "
                "choose a shorter macro zone"
            )


_LONGEST: dict[int, IPv4Address | IPv6Address] = {
    4: IPv4Address("255.255.255.255"),
    6: IPv6Address("ffff::"),
}
