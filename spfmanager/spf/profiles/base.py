"""The shape of a receiver profile: the points where an implementation departs from the RFC."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from spfmanager.spf.limits import MAX_DNS_LOOKUPS, MAX_VOID_LOOKUPS


class ExcessNames(StrEnum):
    """What an ``mx`` or ``ptr`` term does with more than 10 names (RFC 7208 4.6.4)."""

    PERMERROR = "permerror"  # permerror before any is checked (RFC 7208 for MX)
    IGNORE = "ignore"  # the first 10 are checked, the rest ignored (RFC 7208 for PTR)
    PERMERROR_UNLESS_MATCHED = "permerror-unless-matched"  # the first 10, then permerror


class Grammar(StrEnum):
    """The parser a receiver reads record text with."""

    RFC7208 = "rfc7208"
    LIBSPF2 = "libspf2"


class NameChecks(StrEnum):
    """The checks a receiver applies to a domain name before querying it."""

    RFC7208 = "rfc7208"
    MAILAUTH = "mailauth"


@dataclass(frozen=True)
class Departure:
    """One documented point where the implementation reads SPF otherwise than RFC 7208."""

    section: str  # the RFC 7208 section it departs from, e.g. "4.6.4"
    summary: str  # what the implementation does, for people
    evidence: str = ""  # the differential test or source reference that pins it


@dataclass(frozen=True)
class Profile:
    """How one implementation evaluates SPF; every field defaults to the RFC's reading.

    Each field is one behaviour confirmed in the implementation's source and by running it
    (``tests/spf/test_profiles.py`` pins each against the library where it is installed).
    """

    name: str  # stable id: rfc7208, pyspf, mailspf, libspf2, mailauth
    title: str  # e.g. "pyspf 2.0 (postfix-policyd-spf-python)"
    receivers: tuple[str, ...] = ()  # products known to use it
    # An IPv4-mapped client (::ffff:a.b.c.d) is evaluated as IPv6 (RFC 7208 5: as IPv4).
    mapped_client_is_ipv6: bool = False
    max_lookups: int = MAX_DNS_LOOKUPS
    max_void_lookups: int | None = MAX_VOID_LOOKUPS  # None: no void lookup limit
    # -- the lookup limit (4.6.4) --------------------------------------------------------
    # Each included record counts its own lookups from zero (its parent counts the include);
    # redirect= shares the count of the record it leaves.
    lookups_per_include: bool = False
    # Going over the limit is an error only when a further term of the same record (or of
    # a record it redirects to) is about to run: the term that went over still decides.
    lookup_limit_at_next_term: bool = False
    # redirect= counts toward the lookup limit when the record is read, even unreached.
    counts_unreached_redirect: bool = False
    # -- void lookups (4.6.4) ------------------------------------------------------------
    # RFC 7208 4.6.4 counts the MX / PTR query itself as void; these libraries also count
    # each MX host, or PTR name, whose address lookup is empty.
    void_mx_hosts: bool = False
    void_ptr_hosts: bool = False
    # MX hosts' void lookups are counted per mx term, against max_void_lookups, apart from
    # the evaluation's count.
    mx_host_voids_per_mechanism: bool = False
    # An address lookup (a, MX hosts) is void only when neither A nor AAAA records exist.
    void_needs_both_families: bool = False
    # -- mx (5.4) and ptr (5.5) ----------------------------------------------------------
    excess_mx: ExcessNames = ExcessNames.PERMERROR
    mx_in_answer_order: bool = False  # MX hosts tried in DNS answer order, not preference
    excess_ptr: ExcessNames = ExcessNames.IGNORE
    # Every PTR name is validated before any is compared with the target (RFC 7208 5.5 as
    # written); False: the first validated name within the target ends the term.
    ptr_validates_all_names: bool = True
    # Only PTR names within the target domain get their addresses looked up (and so can
    # count as void).
    ptr_checks_matching_names_only: bool = False
    # A DNS error on the PTR query is temperror (RFC 7208 5.5: the term does not match).
    ptr_query_error_is_temperror: bool = False
    # A DNS error looking up a PTR name's addresses is temperror (RFC: the name is skipped).
    ptr_name_error_is_temperror: bool = False
    # -- the record ------------------------------------------------------------------------
    # The record is rejected (permerror) when it holds include: of its own domain, reached
    # or not (the expanded target compared, case-sensitively, with the domain).
    rejects_self_include: bool = False
    # redirect= is evaluated where it is written, as a mechanism: terms after it are not
    # reached and an "all" does not cancel it (RFC 7208 6.1: only when nothing matched).
    redirect_in_place: bool = False
    # The implementation compiles at most this many bytes of mechanisms per record and
    # silently drops the rest (libspf2); None: no such limit.
    max_mechanism_bytes: int | None = None
    # A /0 prefix (ip4:0.0.0.0/0, ip6:::/0, a/0, mx//0) is a syntax error (permerror).
    rejects_zero_prefix: bool = False
    # ip6 mechanisms are matched against IPv4 clients as their IPv4-mapped address.
    ip6_matches_mapped_ipv4: bool = False
    # ip6:<address>/0 matches that one address only.
    ip6_zero_prefix_is_exact: bool = False
    # -- macros (7.3) ------------------------------------------------------------------------
    # %{p} expands to the sender's domain, unvalidated (no PTR lookups).
    p_macro_is_sender_domain: bool = False
    # -- syntax (12) and names (4.3) ------------------------------------------------------
    # Which grammar reads the record text: RFC 7208 section 12, or libspf2's more lenient
    # (and at points stricter) parser.
    grammar: Grammar = Grammar.RFC7208
    # Which checks an expanded domain name must pass before it is queried: RFC 7208 4.3 and
    # 4.8, or mailauth's own (a name its pattern or node's resolver refuses).
    name_checks: NameChecks = NameChecks.RFC7208
    departures: tuple[Departure, ...] = field(default=())
