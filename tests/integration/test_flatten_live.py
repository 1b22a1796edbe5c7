"""Flattening through live DNS (a real BIND serving the provider snapshot) gives exactly the
records flattening through the offline snapshot gives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import spfmanager
from tests.integration.bind import BindServer, named_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(named_binary() is None, reason="BIND 9 named is not installed"),
]

INTENTS = [
    "v=spf1 include:mondialrelay.fr -all",
    "v=spf1 include:_spf.google.com include:spf.protection.outlook.com ~all",
    "v=spf1 include:mailgun.org include:sendgrid.net include:amazonses.com "
    "include:spf.tmes.trendmicro.com include:spf.improvmx.com ip4:192.0.2.0/24 -all",
    "v=spf1 include:mx.ovh.com include:_mailcust.gandi.net -all",  # ptr: kept verbatim
]


@pytest.mark.parametrize("intent", INTENTS)
def test_live_flatten_equals_snapshot_flatten(
    intent: str,
    bind_server_factory: Callable[..., BindServer],
    provider_snapshot_path: Path,
) -> None:
    zonedata: dict[str, Any] = yaml.safe_load(provider_snapshot_path.read_text("utf-8"))
    server = bind_server_factory({".": zonedata})
    live_resolver = server.resolver(cache=True)
    offline = spfmanager.flatten(
        intent, "example.com", resolver=spfmanager.SnapshotResolver(zonedata)
    )
    live = spfmanager.flatten(intent, "example.com", resolver=live_resolver)
    assert live.records == offline.records
    assert live.lookups == offline.lookups
    assert live.proof.points_evaluated == offline.proof.points_evaluated
    assert live.dns_queries == offline.dns_queries  # each name queried once per run
