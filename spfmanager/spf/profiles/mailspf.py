"""Mail::SPF (Perl, ``libmail-spf-perl``): SpamAssassin, amavis, postfix-policyd-spf-perl.

Read from Mail::SPF 2.009 (``/usr/share/perl5/Mail/SPF``) and pinned against it by
``tests/spf/test_profiles.py``.
"""

from __future__ import annotations

from spfmanager.spf.profiles.base import Departure, ExcessNames, Profile

_SRC = "Mail::SPF 2.009"

MAILSPF = Profile(
    name="mailspf",
    title="Mail::SPF (SpamAssassin, amavis)",
    receivers=("SpamAssassin", "amavis", "postfix-policyd-spf-perl"),
    void_mx_hosts=True,
    void_ptr_hosts=True,
    ptr_checks_matching_names_only=True,
    ptr_validates_all_names=False,
    counts_unreached_redirect=True,
    excess_mx=ExcessNames.IGNORE,
    mx_in_answer_order=True,
    ptr_query_error_is_temperror=True,
    ip6_matches_mapped_ipv4=True,
    departures=(
        Departure(
            "4.6.4",
            "counts each MX host, and each PTR name within the target, with no address as a "
            "void lookup",
            f"{_SRC}: Mech.pm match_in_domain() (l. 340) for each MX host (Mech/MX.pm), "
            "Util.pm valid_domain_for_ip_address() (l. 268, 275); "
            "test_profiles.py::void-mx-hosts, test_profiles.py::void-mx-hosts-and-a, "
            "test_profiles.py::void-mx-hosts-aaaa-only, test_profiles.py::void-ptr-names",
        ),
        Departure(
            "6.1",
            "counts redirect= toward the lookup limit even when a mechanism matched",
            f"{_SRC}: Record.pm eval() processes global modifiers after any result, "
            "Mod/Redirect.pm process() counts before checking it (l. 136); "
            "test_profiles.py::unreached-redirect, test_profiles.py::unreached-redirect-with-all",
        ),
        Departure(
            "4.6.4",
            "checks the first 10 MX hosts in DNS answer order and ignores the rest",
            f"{_SRC}: Mech/MX.pm splice(..., max_name_lookups_per_mx_mech) (l. 181), no "
            "sort; test_profiles.py::excess-mx-first-matches, "
            "test_profiles.py::excess-mx-eleventh-matches, "
            "test_profiles.py::excess-mx-none-matches",
        ),
        Departure(
            "5.5",
            "a DNS error on the PTR query is temperror",
            f"{_SRC}: Util.pm dns_lookup() of the PTR name outside any try (l. 239); "
            "test_profiles.py::ptr-query-error",
        ),
        Departure(
            "5.6",
            "matches ip6 mechanisms against IPv4 clients as ::ffff:a.b.c.d",
            f"{_SRC}: Mech/IP6.pm match() tests request->ip_address_v6 (l. 143), the "
            "IPv4-mapped address for IPv4 clients (Request.pm l. 301); "
            "test_profiles.py::ip6-matches-mapped-ipv4, "
            "test_profiles.py::ip6-zero-prefix-ipv4-client",
        ),
    ),
)
