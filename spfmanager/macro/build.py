"""Macro mode end to end: intents in, proven served data and root records out.

No proof, no output: :func:`build_macro` returns the served data only after every domain's
root record and subzones were proven (:func:`spfmanager.macro.prove.prove`) to give every
receiver profile the intent's result at every probe. The backend chooses what is served:
``"rbldnsd"`` a combined dataset (:func:`~spfmanager.macro.zone.render_dataset`),
``"records"`` wildcard TXT records for any authoritative server
(:func:`~spfmanager.macro.records.render_records`); only what is proven is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from spfmanager.compile import Intent
from spfmanager.dns.base import Resolver
from spfmanager.errors import MacroError
from spfmanager.spf.profiles import RECEIVER_PROFILES, Profile

from .prove import MacroProof, Served, prove
from .records import render_records
from .zone import DEFAULT_TTL, MacroRecord, plan_macro, render_dataset

Backend = Literal["rbldnsd", "records"]


@dataclass(frozen=True)
class MacroBuild:
    """The proven output of macro mode: the served data, a root record per domain.

    ``dataset`` is the rbldnsd dataset (``""`` for the records backend: it was not
    proven); ``zone_records`` the owner name -> TXT text records of the records backend
    (None for rbldnsd).
    """

    zone: str
    dataset: str
    records: tuple[MacroRecord, ...]
    proofs: tuple[MacroProof, ...]
    zone_records: dict[str, str] | None = None

    @property
    def backend(self) -> Backend:
        return "rbldnsd" if self.zone_records is None else "records"

    @property
    def roots(self) -> dict[str, str]:
        """Domain -> the root TXT record to publish there."""
        return {r.domain: r.root for r in self.records}

    @property
    def data(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "backend": self.backend,
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
    backend: Backend = "rbldnsd",
) -> MacroBuild:
    """Plan, render (for ``backend``) and prove macro mode for ``intents``; MacroError when
    one cannot be served, VerificationError when the proof fails (nothing is returned then).

    ``ttl`` and ``nameservers`` shape the rbldnsd dataset only: the records backend's TTL,
    SOA and NS are the publishing zone's.
    """
    records = [plan_macro(intent, resolver, zone) for intent in intents]
    dataset = ""
    zone_records: dict[str, str] | None = None
    if backend == "rbldnsd":
        dataset = render_dataset(records, zone, ttl=ttl, nameservers=nameservers)
        served: Served = dataset
    elif backend == "records":
        zone_records = render_records(records, zone)
        served = zone_records
    else:
        raise MacroError(f"unknown macro backend {backend!r} (rbldnsd or records)")
    proofs = [
        prove(intent.record, record, served, resolver, profiles=profiles)
        for intent, record in zip(intents, records, strict=True)
    ]
    return MacroBuild(zone, dataset, tuple(records), tuple(proofs), zone_records)
