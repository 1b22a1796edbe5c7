"""mailauth (npm): WildDuck, ZoneMTA and other Node.js mail servers."""

from __future__ import annotations

from spfmanager.spf.profiles.base import Profile

MAILAUTH = Profile(
    name="mailauth",
    title="mailauth (WildDuck, ZoneMTA)",
    receivers=("WildDuck", "ZoneMTA"),
)
