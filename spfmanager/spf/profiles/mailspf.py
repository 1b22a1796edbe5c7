"""Mail::SPF (Perl, ``libmail-spf-perl``): SpamAssassin, amavis."""

from __future__ import annotations

from spfmanager.spf.profiles.base import Departure, Profile

MAILSPF = Profile(
    name="mailspf",
    title="Mail::SPF (SpamAssassin, amavis)",
    receivers=("SpamAssassin", "amavis"),
    void_mx_hosts=True,
    void_ptr_hosts=True,
    ip6_matches_mapped_ipv4=True,
    departures=(
        Departure("4.6.4", "counts each MX/PTR host with no address as a void lookup"),
        Departure("5.6", "matches ip6 mechanisms against IPv4 clients as ::ffff:a.b.c.d"),
    ),
)
