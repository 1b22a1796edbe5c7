"""mailauth (npm): WildDuck, ZoneMTA and other Node.js mail servers.

Read from mailauth 5.0.3 ``lib/spf`` (github:postalsys/mailauth) and pinned against it by
``tests/spf/test_profiles.py`` (through ``node`` with an in-memory resolver).
"""

from __future__ import annotations

from spfmanager.spf.profiles.base import Departure, ExcessNames, Profile

_SRC = "mailauth 5.0.3 lib/spf"

MAILAUTH = Profile(
    name="mailauth",
    title="mailauth (WildDuck, ZoneMTA)",
    receivers=("WildDuck", "ZoneMTA"),
    void_mx_hosts=True,
    mx_host_voids_per_mechanism=True,
    void_needs_both_families=True,
    excess_mx=ExcessNames.PERMERROR_UNLESS_MATCHED,
    ptr_query_error_is_temperror=True,
    ip6_zero_prefix_is_exact=True,
    p_macro_is_sender_domain=True,
    departures=(
        Departure(
            "4.6.4",
            "an a/MX-host lookup is void only when neither A nor AAAA records exist",
            f"{_SRC}/index.js dualStackResolver(); test_profiles.py::void-both-families",
        ),
        Departure(
            "4.6.4",
            "MX hosts are looked up on a resolver of their own per mx term: up to 10 hosts "
            "and 2 void hosts each, apart from the evaluation's counts",
            f"{_SRC}/spf-verify.js 'mx' (createSubResolver, sorted by priority); "
            "test_profiles.py::void-mx-hosts, test_profiles.py::excess-mx-first-matches",
        ),
        Departure(
            "5.5",
            "a DNS error on the PTR query is temperror",
            f"{_SRC}/index.js limitedResolver() turns ETIMEOUT into temperror; "
            "test_profiles.py::ptr-query-error",
        ),
        Departure(
            "5.6",
            "ip6:<address>/0 matches that one address only",
            f"{_SRC}/spf-verify.js parseCidrValue() keeps a /0 as cidr4 for ip6, then "
            "matches the bare address; test_profiles.py::ip6-zero-prefix-is-exact",
        ),
        Departure(
            "7.3",
            "%{p} expands to the sender's domain, unvalidated",
            f"{_SRC}/macro.js: 'validated domain name is unsupported'; "
            "test_profiles.py::p-macro-is-sender-domain",
        ),
    ),
)
