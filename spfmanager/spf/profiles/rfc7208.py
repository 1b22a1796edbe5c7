"""The exact reading of the RFC 7208 text: spfmanager's default and the proof's reference."""

from __future__ import annotations

from spfmanager.spf.profiles.base import Profile

RFC7208 = Profile(name="rfc7208", title="RFC 7208 as written")
