"""Macro mode end to end: intents in, a proven dataset and root records out.

No proof, no output: :func:`build_macro` returns a dataset only after every domain's root
record and subzones were proven (:func:`spfmanager.macro.prove.prove`) to give every
receiver profile the intent's result at every probe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spfmanager.compile import Intent
from spfmanager.dns.base import Resolver
from spfmanager.spf.profiles import RECEIVER_PROFILES, Profile

from .prove import MacroProof, prove
from .zone import DEFAULT_TTL, MacroRecord, plan_macro, render_dataset


@dataclass(frozen=True)
class MacroBuild:
    """The proven output of macro mode: one dataset, a root record per domain."""

    zone: str
    dataset: str
    records: tuple[MacroRecord, ...]
    proofs: tuple[MacroProof, ...]

    @property
    def roots(self) -> dict[str, str]:
        """Domain -> the root TXT record to publish there."""
        return {r.domain: r.root for r in self.records}

    @property
    def data(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "records": [
                {"domain": r.domain, "root": r.root, "form": r.form, "entries": r.entries}
                for r in self.records
            ],
            "proofs": [p.data for p in self.proofs],
        }


def build_macro(
    intents: Sequence[Intent],
    resolver: Resolver,
    zone: str,
    *,
    ttl: int = DEFAULT_TTL,
    nameservers: Sequence[str] = (),
    profiles: Sequence[Profile] = RECEIVER_PROFILES,
) -> MacroBuild:
    """Plan, render and prove macro mode for ``intents``; MacroError when one cannot be
    served, VerificationError when the proof fails (nothing is returned then)."""
    records = [plan_macro(intent, resolver, zone) for intent in intents]
    dataset = render_dataset(records, zone, ttl=ttl, nameservers=nameservers)
    proofs = [
        prove(intent.record, record, dataset, resolver, profiles=profiles)
        for intent, record in zip(intents, records, strict=True)
    ]
    return MacroBuild(zone, dataset, tuple(records), tuple(proofs))
