"""A macro zone's delegation (NS below the apex, in-zone A/AAAA glue) published, listed back,
updated and deleted through every API provider: Route53 (moto server), Cloudflare (the real
SDK against a v4-contract server), PowerDNS (pdns_server, also queried over DNS: a referral).
All on 127.0.0.1."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import boto3  # type: ignore[import-untyped]
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from spfmanager.providers.base import Provider
from spfmanager.providers.cloudflare import CloudflareProvider
from spfmanager.providers.powerdns import PowerDNSProvider
from spfmanager.providers.route53 import Route53Provider
from spfmanager.publish.changes import Create, Delete, RecordSet, Update
from tests.fakes.cloudflare_api import FakeCloudflare
from tests.integration import pdns as pdns_helper

pytestmark = pytest.mark.integration

ZONE = "example.com"
DELEGATED = "spf.example.com"
NS1, NS2 = "ns1.spf.example.com", "ns2.spf.example.com"
TXT = RecordSet(DELEGATED, ("v=spf1 -all",), 300)  # stays beside the delegation throughout
NS = RecordSet(DELEGATED, (NS1, NS2), 3600, "NS")
GLUE = (
    RecordSet(NS1, ("192.0.2.53",), 3600, "A"),
    RecordSet(NS1, ("2001:db8::53",), 3600, "AAAA"),
    RecordSet(NS2, ("198.51.100.53",), 3600, "A"),
)
NAMES = (DELEGATED, NS1, NS2)


@dataclass
class Target:
    provider: Provider
    dns_port: int | None = None  # where the zone is served over DNS, if it is


@pytest.fixture(params=["route53", "cloudflare", "powerdns"])
def target(
    request: pytest.FixtureRequest, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    if request.param == "route53":
        reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset).close()
        keys = {"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "secret-key"}
        boto3.client(
            "route53", endpoint_url=moto_endpoint, region_name="us-east-1", **keys
        ).create_hosted_zone(Name=ZONE, CallerReference="delegation-test")
        route53 = Route53Provider(ZONE, endpoint_url=moto_endpoint, poll_interval=0.01, **keys)
        yield Target(route53)
    elif request.param == "cloudflare":
        with FakeCloudflare("cf-token") as fake:
            fake.add_zone(ZONE)
            yield Target(CloudflareProvider(ZONE, "cf-token", base_url=fake.base_url))
    else:
        if not pdns_helper.available():
            pytest.skip("PowerDNS is not installed")
        with pdns_helper.PowerDNSServer(tmp_path_factory.mktemp("pdns")) as server:
            server.create_zone(ZONE)
            adapter = PowerDNSProvider(ZONE, server.api_url, server.api_key)
            yield Target(adapter, server.dns_port)


def listed(provider: Provider) -> set[RecordSet]:
    """Every delegation record set at the delegation's names."""
    return {rs for t in ("NS", "A", "AAAA") for rs in provider.list_records(NAMES, t).values()}


def ask(port: int, name: str) -> dns.message.Message:
    query = dns.message.make_query(name + ".", dns.rdatatype.TXT)
    return dns.query.tcp(query, "127.0.0.1", port=port, timeout=5)


def test_delegation_lifecycle(target: Target) -> None:
    provider = target.provider
    provider.apply([Create(TXT)])
    provider.apply([Create(NS), *(Create(glue) for glue in GLUE)])
    assert listed(provider) == {NS, *GLUE}
    assert provider.list_records() == {DELEGATED: TXT}  # TXT untouched
    if target.dns_port is not None:
        referral = ask(target.dns_port, f"x.{DELEGATED}")
        assert not referral.flags & dns.flags.AA and not referral.answer
        assert referral.rcode() == dns.rcode.NOERROR
        [cut] = referral.authority
        assert cut.rdtype == dns.rdatatype.NS and cut.name.to_text() == DELEGATED + "."
        assert sorted(rd.target.to_text() for rd in cut) == [NS1 + ".", NS2 + "."]
        glue = {
            (rrset.name.to_text(), rd.to_text()) for rrset in referral.additional for rd in rrset
        }
        assert glue == {
            (NS1 + ".", "192.0.2.53"),
            (NS1 + ".", "2001:db8::53"),
            (NS2 + ".", "198.51.100.53"),
        }

    moved = RecordSet(NS1, ("192.0.2.54", "203.0.113.53"), 600, "A")
    provider.apply([Update(GLUE[0], moved)])
    assert listed(provider) == {NS, moved, *GLUE[1:]}
    if target.dns_port is not None:
        additional = ask(target.dns_port, f"x.{DELEGATED}").additional
        addresses = {
            rd.to_text()
            for rrset in additional
            if rrset.name.to_text() == NS1 + "."
            for rd in rrset
            if rrset.rdtype == dns.rdatatype.A
        }
        assert addresses == {"192.0.2.54", "203.0.113.53"}

    provider.apply([Delete(NS), Delete(moved), *(Delete(glue) for glue in GLUE[1:])])
    provider.apply([Delete(NS)])  # already gone: a no-op
    assert listed(provider) == set()
    assert provider.list_records() == {DELEGATED: TXT}
    if target.dns_port is not None:
        gone = ask(target.dns_port, f"x.{DELEGATED}")
        assert gone.flags & dns.flags.AA and gone.rcode() == dns.rcode.NXDOMAIN  # ours again
        assert all(rrset.rdtype != dns.rdatatype.NS for rrset in gone.authority)
        assert not gone.additional
        served = ask(target.dns_port, DELEGATED)
        assert [rd.strings for rrset in served.answer for rd in rrset] == [(b"v=spf1 -all",)]
