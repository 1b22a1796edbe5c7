"""The whole job — config, plan, apply, plan again, rollover, cleanup — on every provider:
Route53 (moto server), Cloudflare (the real SDK against a v4-contract server), PowerDNS
(pdns_server with its API). All on 127.0.0.1."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

import spfmanager
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.publish.apply import RETIRE_GRACE_SECONDS
from spfmanager.publish.state import utcnow
from spfmanager.publish.workflow import Workspace
from tests.fakes.cloudflare_api import FakeCloudflare
from tests.integration import pdns as pdns_helper

pytestmark = pytest.mark.integration

ZONE = "example.com"
UPSTREAM: dict[str, Any] = {
    "spf.protection.outlook.com": [{"TXT": "v=spf1 ip4:40.92.0.0/15 ip6:2a01:111:f400::/48 -all"}],
    "servers.mcsv.net": [{"TXT": "v=spf1 ip4:205.201.128.0/20 -all"}],
    "sendgrid.net": [
        {"TXT": "v=spf1 " + " ".join(f"ip4:167.{i}.0.0/16" for i in range(0, 120, 2)) + " ~all"}
    ],
}
ProviderSetup = Callable[[pytest.MonkeyPatch], dict[str, Any]]


def route53(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    monkeypatch.setenv("TEST_AWS_SECRET", "secret-key")
    boto3.client(
        "route53",
        endpoint_url=endpoint,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret-key",
        region_name="us-east-1",
    ).create_hosted_zone(Name=ZONE, CallerReference="publish-test")
    return {
        "kind": "route53",
        "endpoint_url": endpoint,
        "aws_access_key_id": "AKIDTEST",
        "aws_secret_access_key": "env:TEST_AWS_SECRET",
        "poll_interval": 0.01,
    }


@pytest.fixture(params=["route53", "cloudflare", "powerdns"])
def provider_options(
    request: pytest.FixtureRequest,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    if request.param == "route53":
        yield route53(moto_endpoint, monkeypatch)
    elif request.param == "cloudflare":
        with FakeCloudflare("cf-token") as fake:
            fake.add_zone(ZONE)
            monkeypatch.setenv("TEST_CF_TOKEN", "cf-token")
            yield {
                "kind": "cloudflare",
                "api_token": "env:TEST_CF_TOKEN",
                "base_url": fake.base_url,
            }
    else:
        if not pdns_helper.available():
            pytest.skip("PowerDNS is not installed")
        with pdns_helper.PowerDNSServer(tmp_path_factory.mktemp("pdns")) as server:
            server.create_zone(ZONE)
            monkeypatch.setenv("TEST_PDNS_KEY", server.api_key)
            yield {"kind": "powerdns", "api_url": server.api_url, "api_key": "env:TEST_PDNS_KEY"}


def write_config(path: Path, provider: dict[str, Any], services: list[str]) -> None:
    config = {
        "defaults": {"policy": "-all", "ttl": 300, "provider": "dns"},
        "providers": {"dns": provider},
        "state": {"url": "sqlite:///state.db"},
        "domains": {ZONE: {"services": services}},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


def receiver_result(ws: Workspace, ip: str) -> spfmanager.Result:
    """What a receiver would get from the records the provider now holds."""
    records = ws.provider("dns", ZONE).list_records()
    served = {name: [[v] for v in rrset.values] for name, rrset in records.items()}
    resolver = OverlayResolver(spfmanager.SnapshotResolver(UPSTREAM), served)
    return spfmanager.evaluate(ip, f"alice@{ZONE}", "mail", resolver=resolver).result


def test_publish_rollover_and_cleanup(tmp_path: Path, provider_options: dict[str, Any]) -> None:
    config = tmp_path / "spfmanager.yaml"
    upstream = spfmanager.SnapshotResolver(UPSTREAM)

    def load() -> Workspace:
        return Workspace.load(config, upstream)

    write_config(config, provider_options, ["microsoft365", "sendgrid"])
    ws = load()
    plan = ws.plan()
    assert plan.has_changes and not plan.errors and not plan.unsafe
    ws.apply(plan, sleep=lambda _: None)
    assert receiver_result(load(), "40.92.0.1") is spfmanager.Result.PASS
    assert receiver_result(load(), "167.88.0.1") is spfmanager.Result.PASS
    assert receiver_result(load(), "205.201.128.1") is spfmanager.Result.FAIL
    assert not load().plan().has_changes  # idempotent

    write_config(config, provider_options, ["microsoft365", "sendgrid", "mailchimp"])
    ws = load()
    plan = ws.plan()
    retired = set(plan.domains[0].retire)
    assert retired
    ws.apply(plan, sleep=lambda _: None)
    assert receiver_result(load(), "205.201.128.1") is spfmanager.Result.PASS
    assert retired <= set(load().provider("dns", ZONE).list_records())

    later = utcnow() + timedelta(seconds=301 + RETIRE_GRACE_SECONDS)
    ws = load()
    cleanup = ws.plan(now=later)
    assert {c.name for c in cleanup.changes} == retired
    ws.apply(cleanup, now=later, sleep=lambda _: None)
    assert not retired & set(load().provider("dns", ZONE).list_records())
    assert receiver_result(load(), "205.201.128.1") is spfmanager.Result.PASS
    assert not load().plan(now=later).has_changes
