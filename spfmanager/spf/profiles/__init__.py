"""Receiver profiles: how each widely deployed SPF implementation reads a record.

RFC 7208 leaves points open and real libraries depart from it at known places. A
:class:`Profile` states, as data, every reading the evaluator must reproduce to give the
result that implementation gives; :func:`spfmanager.spf.evaluate.evaluate` takes one as
``profile=`` (default :data:`RFC7208`, the exact reading of the RFC text). One module per
implementation holds its profile and the evidence for each departure (the RFC section, the
library's behaviour, the differential test that pins it).

May import :mod:`spfmanager.spf.limits`, :mod:`~spfmanager.spf.results`,
:mod:`~spfmanager.spf.terms`, :mod:`~spfmanager.spf.macros` and :mod:`spfmanager.errors`
only (never the evaluator, which imports them); ``libspf2_grammar`` is libspf2's record
compiler, ``mailauth_names`` mailauth's checks of domain names.
"""

from __future__ import annotations

from spfmanager.spf.profiles.base import Departure, ExcessNames, Grammar, NameChecks, Profile
from spfmanager.spf.profiles.libspf2 import LIBSPF2
from spfmanager.spf.profiles.mailauth import MAILAUTH
from spfmanager.spf.profiles.mailspf import MAILSPF
from spfmanager.spf.profiles.pyspf import PYSPF
from spfmanager.spf.profiles.rfc7208 import RFC7208

PROFILES: dict[str, Profile] = {p.name: p for p in (RFC7208, PYSPF, MAILSPF, LIBSPF2, MAILAUTH)}
RECEIVER_PROFILES = tuple(p for p in PROFILES.values() if p is not RFC7208)


def profile_named(name: str) -> Profile:
    """The profile called ``name``; ValueError listing the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown receiver profile {name!r} (known: {known})") from None


__all__ = [
    "LIBSPF2",
    "MAILAUTH",
    "MAILSPF",
    "PROFILES",
    "PYSPF",
    "RECEIVER_PROFILES",
    "RFC7208",
    "Departure",
    "ExcessNames",
    "Grammar",
    "NameChecks",
    "Profile",
    "profile_named",
]
