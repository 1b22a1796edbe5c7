"""The shape of a receiver profile: the points where an implementation departs from the RFC."""

from __future__ import annotations

from dataclasses import dataclass, field

from spfmanager.spf.limits import MAX_DNS_LOOKUPS, MAX_VOID_LOOKUPS


@dataclass(frozen=True)
class Departure:
    """One documented point where the implementation reads SPF otherwise than RFC 7208."""

    section: str  # the RFC 7208 section it departs from, e.g. "4.6.4"
    summary: str  # what the implementation does, for people
    evidence: str = ""  # the differential test or source reference that pins it


@dataclass(frozen=True)
class Profile:
    """How one implementation evaluates SPF; every field defaults to the RFC's reading."""

    name: str  # stable id: rfc7208, pyspf, mailspf, libspf2, mailauth
    title: str  # e.g. "pyspf 2.0 (postfix-policyd-spf-python)"
    receivers: tuple[str, ...] = ()  # products known to use it
    max_lookups: int = MAX_DNS_LOOKUPS
    max_void_lookups: int = MAX_VOID_LOOKUPS
    # RFC 7208 4.6.4 counts the MX / PTR query itself as void; these libraries also count
    # each MX host, or PTR name, whose address lookup is empty.
    void_mx_hosts: bool = False
    void_ptr_hosts: bool = False
    # The record is rejected (permerror) when it holds include: of its own domain, reached
    # or not.
    rejects_self_include: bool = False
    # redirect= counts toward the lookup limit when the record is parsed, even unreached.
    counts_unreached_redirect: bool = False
    # The implementation compiles at most this many bytes of mechanisms per record and
    # silently drops the rest (libspf2); None: no such limit.
    max_mechanism_bytes: int | None = None
    # A /0 prefix (ip4:0.0.0.0/0, ip6:::/0) is a syntax error (permerror).
    rejects_zero_prefix: bool = False
    # ip6 mechanisms are matched against IPv4 clients as their IPv4-mapped address.
    ip6_matches_mapped_ipv4: bool = False
    departures: tuple[Departure, ...] = field(default=())
