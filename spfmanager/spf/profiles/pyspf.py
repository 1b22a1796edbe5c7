"""pyspf (PyPI ``pyspf``): postfix-policyd-spf-python and other Python MTAs' policy daemons."""

from __future__ import annotations

from spfmanager.spf.profiles.base import Departure, Profile

PYSPF = Profile(
    name="pyspf",
    title="pyspf (postfix-policyd-spf-python)",
    receivers=("postfix-policyd-spf-python",),
    void_mx_hosts=True,
    void_ptr_hosts=True,
    rejects_self_include=True,
    counts_unreached_redirect=True,
    departures=(
        Departure("4.6.4", "counts each MX/PTR host with no address as a void lookup"),
        Departure("5.2", "rejects a record holding include: of its own domain, reached or not"),
        Departure("6.1", "counts redirect= toward the lookup limit even when not reached"),
    ),
)
