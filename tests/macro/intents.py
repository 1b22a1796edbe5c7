"""Intents the macro-mode tests share: hand-made ones and the 14-service example."""

from __future__ import annotations

from pathlib import Path

from spfmanager.compile import Intent, Source, compile_file
from spfmanager.config.models import Policy
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.spf.parser import parse_record

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "over-limit"
ZONE = "macro.spfm.test"

# Three results: the softfail range sits inside a pass range inside a -all record.
SOFTFAIL_RECORD = (
    "v=spf1 ~ip4:192.0.2.128/25 ip4:192.0.2.0/24 ~ip6:2001:db8:1::/48 ip6:2001:db8::/32 "
    "ip4:198.51.100.7 -all"
)
# Pass ranges and the policy only.
PASS_RECORD = "v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.64/26 ip6:2001:db8:beef::/48 -all"


def intent(domain: str, text: str, policy: Policy = Policy.FAIL) -> Intent:
    record = parse_record(text)
    return Intent(
        domain=domain,
        zone=domain,
        provider=None,
        ttl=300,
        lookup_budget=10,
        policy=policy,
        record=record,
        keep=frozenset(),
        sources=tuple((Source("ip4"),) for _ in record.terms),
    )


def example() -> tuple[list[Intent], SnapshotResolver]:
    """The over-limit example (bigcorp.example: 14 services) and its DNS snapshot."""
    _config, intents = compile_file(EXAMPLE / "spfmanager.yaml")
    return intents, SnapshotResolver.from_file(EXAMPLE / "dns-snapshot.yaml")
