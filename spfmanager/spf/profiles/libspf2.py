"""libspf2 (``spfquery``, ``libspf2-dev``): Exim, sendmail and postfix milters."""

from __future__ import annotations

from spfmanager.spf.profiles.base import Departure, Profile

LIBSPF2 = Profile(
    name="libspf2",
    title="libspf2 (Exim, sendmail/postfix milters)",
    receivers=("Exim", "sendmail milter-spf", "postfix-policyd-spf-c"),
    max_mechanism_bytes=511,
    rejects_zero_prefix=True,
    departures=(
        Departure("4.6", "compiles at most 511 bytes of mechanisms and drops the rest"),
        Departure("5.6", "rejects a /0 prefix"),
    ),
)
