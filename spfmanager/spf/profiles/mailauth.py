"""mailauth (npm): WildDuck, ZoneMTA and other Node.js mail servers.

Read from mailauth 5.0.3 ``lib/spf`` (github:postalsys/mailauth); its names and its reading
of terms from 4.13.3, the version ``tests/conformance`` runs against BIND
(``profiles/mailauth_names.py``, ``compiled._compile_mailauth``). Pinned by
``tests/spf/test_profiles.py``.
"""

from __future__ import annotations

from spfmanager.spf.profiles.base import Departure, ExcessNames, NameChecks, Profile

_SRC = "mailauth 5.0.3 lib/spf"
_SRC4 = "mailauth 4.13.3 lib/spf"

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
    name_checks=NameChecks.MAILAUTH,
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
        Departure(
            "4.3",
            "a name is queried only if it matches mailauth's pattern (labels of printable "
            "characters, a last label of letters, digits and hyphens, no trailing dot; a "
            "redirect= target's in lower case), else permerror; the sender's domain must "
            "pass Joi's domain() (no underscore), else none",
            f"{_SRC4}/index.js limitedResolver() and verify(), spf-verify.js 'redirect'; "
            "test_profiles.py::a-trailing-dot, test_profiles.py::redirect-upper-tld, "
            "test_profiles.py::sender-underscore",
        ),
        Departure(
            "4.3",
            "a name node's resolver refuses (EBADNAME: a character other than a letter, "
            "digit, - _ * /; a label over 63 octets; over 255 characters; names are not "
            "truncated) is a temperror, dropped as no match by include and as neutral by "
            "redirect=; a PTR name it refuses is not validated",
            f"{_SRC4}/spf-verify.js: include/redirect catch only SPF results; "
            "test_profiles.py::a-name-refused, test_profiles.py::include-name-refused, "
            "test_profiles.py::redirect-name-refused, test_profiles.py::ptr-name-refused",
        ),
        Departure(
            "4.6",
            "a term's value is checked only when the term is reached (a record RFC 7208's "
            "grammar rejects still runs up to its first unreadable term; the macro letters "
            "c, r and t expand outside exp= too)",
            f"{_SRC4}/spf-verify.js getResult(), macro.js; "
            "test_profiles.py::term-checked-when-reached, test_profiles.py::exp-letters-anywhere",
        ),
        Departure(
            "5.6",
            "an ip4/ip6 address with an IPv4 tail (::ffff:a.b.c.d) is that IPv4 address: in "
            "ip4 it matches, in ip6 it matches nothing, is an error with a prefix ('invalid "
            "CIDR for IP') and with /0 matches every IPv6 client; an address of the other "
            "family matches nothing",
            f"{_SRC4}/spf-verify.js 'ip4'/'ip6' (mappingMatch); "
            "test_profiles.py::ip4-mapped-text, test_profiles.py::ip4-wrong-family, "
            "test_profiles.py::ip6-ipv4-tail-with-prefix",
        ),
    ),
)
