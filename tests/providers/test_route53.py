"""Route53Provider against moto's Route 53 server on 127.0.0.1 (real boto3 requests)."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]
from botocore.exceptions import ClientError, EndpointConnectionError  # type: ignore[import-untyped]

from spfmanager.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from spfmanager.providers.route53 import (
    MAX_LOGICAL_VALUE,
    MAX_VALUE_CHARS,
    Route53Provider,
    check_change_batch,
    decode_name,
    parse_value,
    render_value,
)
from spfmanager.publish.changes import Create, Delete, RecordSet, Update
from tests.fakes.canned_http import CannedHTTPServer, Reply, Request

pytestmark = pytest.mark.integration

ZONE = "example.com"
KEY_ID, SECRET = "AKIAEXAMPLEKEY123456", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SPF = "v=spf1 include:_spf.google.com include:mailgun.org -all"
LONG = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(40)) + " -all"  # > 255


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_kw: Any) -> Iterator[bytes]:
        yield self.data


def aws_error(code: str, status: int = 400, message: str = "injected") -> bytes:
    return (
        '<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/'
        f'2013-04-01/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}'
        "</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    ).encode()


class Faults:
    """Records operations and sleeps; answers the next requests of an operation with canned
    HTTP responses (botocore's ``before-send`` hook): the real parser and mapping see them."""

    def __init__(self, client: Any) -> None:
        self.queue: list[tuple[str, int, bytes]] = []
        self.calls: list[str] = []
        self.slept: list[float] = []
        client.meta.events.register("before-call.route53", self._count)
        client.meta.events.register("before-send.route53", self._send)

    def _count(self, model: Any, **_kw: Any) -> None:
        self.calls.append(model.name)

    def add(self, operation: str, status: int, body: bytes, times: int = 1) -> None:
        self.queue.extend([(operation, status, body)] * times)

    def _send(self, request: Any, **_kw: Any) -> AWSResponse | None:
        operation = self.calls[-1]
        for i, (op, status, body) in enumerate(self.queue):
            if op == operation:
                del self.queue[i]
                return AWSResponse(request.url, status, {}, _Body(body))
        return None


@pytest.fixture(scope="module")
def endpoint(moto_endpoint: str) -> str:
    """moto's Route 53 server (tests/conftest.py)."""
    return moto_endpoint


@pytest.fixture
def admin(endpoint: str) -> Any:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    return boto3.client(
        "route53",
        endpoint_url=endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )


@pytest.fixture
def zone_id(admin: Any) -> str:
    zone = admin.create_hosted_zone(Name=ZONE, CallerReference="spfmanager-test")
    return str(zone["HostedZone"]["Id"].split("/")[-1])


def make(endpoint: str, **kw: Any) -> tuple[Route53Provider, Faults]:
    options: dict[str, Any] = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET}
    options.update(kw)
    provider = Route53Provider(ZONE, endpoint_url=endpoint, poll_interval=1.0, **options)
    faults = Faults(provider.client)
    provider.sleep = faults.slept.append
    return provider, faults


def moto_auth(endpoint: str, after_requests: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=after_requests.encode(),
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    urllib.request.urlopen(request).close()


def txt_values(admin: Any, zone_id: str, name: str) -> list[str] | None:
    sets = admin.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    for rrset in sets:
        if rrset["Type"] == "TXT" and rrset["Name"] == name + ".":
            return [rr["Value"] for rr in rrset["ResourceRecords"]]
    return None


# -- presentation form ------------------------------------------------------------------


def test_value_round_trip() -> None:
    rendered = render_value(LONG)
    assert rendered.count('" "') == (len(LONG) - 1) // 255
    assert parse_value(rendered) == LONG
    assert parse_value('"say \\"hi\\"" "back\\\\slash"') == 'say "hi"back\\slash'
    assert parse_value('"a\\040b"') == "a b"  # Route 53 escapes are octal
    assert parse_value("bare words") == "barewords"
    assert decode_name("\\052.Example.COM.") == "*.example.com"
    assert render_value("tab\there") == '"tab\\011here"'
    assert parse_value(render_value("tab\there\x7f")) == "tab\there\x7f"


def test_check_change_batch_limits() -> None:
    def upsert(*values: str) -> dict[str, Any]:
        records = [{"Value": v} for v in values]
        return {
            "Action": "UPSERT",
            "ResourceRecordSet": {"Name": "x.example.com.", "ResourceRecords": records},
        }

    check_change_batch(ZONE, [upsert(render_value("a" * MAX_LOGICAL_VALUE))])
    with pytest.raises(ProviderError, match=r"zone example\.com: record x\.example\.com: .*256"):
        check_change_batch(ZONE, [upsert('"' + "a" * 256 + '"')])
    with pytest.raises(ProviderError, match=f"limit of {MAX_VALUE_CHARS}"):
        check_change_batch(ZONE, [upsert(render_value("a" * (MAX_LOGICAL_VALUE + 1)))])
    with pytest.raises(ProviderError, match="malformed"):
        check_change_batch(ZONE, [upsert('"unterminated')])
    with pytest.raises(ProviderError, match="32000"):  # 5 x 3,300 characters, counted twice
        check_change_batch(ZONE, [upsert(*[render_value("b" * 3300)] * 5)])
    with pytest.raises(ProviderError, match="1000"):
        check_change_batch(ZONE, [upsert(*['"v"'] * 501)])


# -- against moto ----------------------------------------------------------------------


def test_finds_hosted_zone_by_name(endpoint: str, zone_id: str) -> None:
    provider, _ = make(endpoint)
    assert provider.hosted_zone_id() == zone_id


def test_missing_and_ambiguous_zone(endpoint: str, admin: Any) -> None:
    provider, _ = make(endpoint)
    with pytest.raises(ProviderError, match=r"no hosted zone named example\.com"):
        provider.list_records()
    admin.create_hosted_zone(Name=ZONE, CallerReference="one")
    admin.create_hosted_zone(Name=ZONE, CallerReference="two")
    provider, _ = make(endpoint)
    with pytest.raises(ProviderError, match="set hosted_zone_id"):
        provider.list_records()


def test_create_update_delete(endpoint: str, admin: Any, zone_id: str) -> None:
    provider, faults = make(endpoint)
    provider.apply([Create(RecordSet("spf.example.com", (LONG, "second"), 300))])
    assert faults.calls.count("GetChange") == 1  # waited for INSYNC
    raw = txt_values(admin, zone_id, "spf.example.com")
    assert raw is not None
    assert raw[0].count('" "') == (len(LONG) - 1) // 255  # several strings on the wire
    assert provider.list_records() == {
        "spf.example.com": RecordSet("spf.example.com", (LONG, "second"), 300)
    }

    old = RecordSet("spf.example.com", (LONG, "second"), 300)
    provider.apply([Update(old, RecordSet("spf.example.com", (SPF,), 600))])
    assert provider.list_records()["spf.example.com"] == RecordSet("spf.example.com", (SPF,), 600)

    provider.apply([Delete(RecordSet("spf.example.com", (), 300))])  # stale old: fetched
    assert provider.list_records() == {}


def test_reapply_is_idempotent(endpoint: str, admin: Any, zone_id: str) -> None:
    provider, faults = make(endpoint)
    change = Create(RecordSet(ZONE, (SPF, 'has "quotes" and \\'), 300))
    provider.apply([change])
    provider.apply([change])
    assert provider.list_records()[ZONE].values == change.new.values
    delete = Delete(change.new)
    provider.apply([delete])
    faults.calls.clear()
    provider.apply([delete])  # already gone: no change batch at all
    assert "ChangeResourceRecordSets" not in faults.calls
    assert txt_values(admin, zone_id, ZONE) is None


def test_other_records_untouched(endpoint: str, admin: Any, zone_id: str) -> None:
    admin.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"{ZONE}.",
                        "Type": "MX",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": "10 mx.example.com."}],
                    },
                },
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"{ZONE}.",
                        "Type": "TXT",
                        "TTL": 300,
                        "ResourceRecords": [
                            {"Value": '"google-site-verification=abc"'},
                            {"Value": '"v=spf1 -all"'},
                        ],
                    },
                },
            ]
        },
    )
    provider, _ = make(endpoint)
    before = provider.list_records()[ZONE]
    provider.apply([Create(RecordSet("_spf.example.com", (SPF,), 300))])
    assert provider.list_records()[ZONE] == before
    provider.apply([Update(before, RecordSet(ZONE, ("google-site-verification=abc", SPF), 300))])
    assert txt_values(admin, zone_id, ZONE) == ['"google-site-verification=abc"', f'"{SPF}"']
    types = {
        (r["Name"], r["Type"])
        for r in admin.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    }
    assert {(f"{ZONE}.", "MX"), (f"{ZONE}.", "NS"), (f"{ZONE}.", "SOA")} <= types


def test_batch_is_one_atomic_request(endpoint: str, zone_id: str) -> None:
    provider, faults = make(endpoint)
    provider.apply(
        [
            Create(RecordSet("a.example.com", ("one",), 300)),
            Create(RecordSet("b.example.com", ("two",), 300)),
            Delete(RecordSet("c.example.com", ("gone",), 300)),
        ]
    )
    assert faults.calls.count("ChangeResourceRecordSets") == 1
    assert set(provider.list_records()) == {"a.example.com", "b.example.com"}


def test_invalid_values_rejected_before_any_request(endpoint: str, zone_id: str) -> None:
    provider, faults = make(endpoint)
    with pytest.raises(ProviderError, match=f"limit of {MAX_LOGICAL_VALUE}"):
        provider.apply([Create(RecordSet(ZONE, ("x" * (MAX_LOGICAL_VALUE + 1),), 300))])
    assert faults.calls == []
    too_much = [Create(RecordSet(f"n{i}.example.com", ("y" * 3500,), 300)) for i in range(5)]
    with pytest.raises(ProviderError, match="32000"):  # 5 x 3,500+ characters, UPSERT x2
        provider.apply(too_much)
    assert faults.calls == []
    assert provider.list_records() == {}
    provider.apply([Create(RecordSet(ZONE, ("x" * MAX_LOGICAL_VALUE,), 300))])  # fits
    assert provider.list_records()[ZONE].values == ("x" * MAX_LOGICAL_VALUE,)


def test_throttling_is_retried(endpoint: str, zone_id: str) -> None:
    provider, faults = make(endpoint)
    faults.add("ChangeResourceRecordSets", 400, aws_error("Throttling"), times=2)
    faults.add("ChangeResourceRecordSets", 400, aws_error("PriorRequestNotComplete"))
    provider.apply([Create(RecordSet(ZONE, (SPF,), 300))])
    assert faults.slept == [0.5, 1.0, 2.0]
    assert provider.list_records()[ZONE].values == (SPF,)


def test_server_errors_exhaust_retries(endpoint: str, zone_id: str) -> None:
    provider, faults = make(endpoint)
    provider.hosted_zone_id()
    faults.add("ListResourceRecordSets", 503, aws_error("ServiceUnavailable", 503), times=5)
    with pytest.raises(ProviderServerError, match="ServiceUnavailable"):
        provider.list_records()
    assert faults.calls.count("ListResourceRecordSets") == provider.retries + 1


def test_waits_for_insync(endpoint: str, zone_id: str) -> None:
    pending = (
        b'<?xml version="1.0"?><GetChangeResponse xmlns="https://route53.amazonaws.com/doc/'
        b'2013-04-01/"><ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status>'
        b"<SubmittedAt>2024-01-01T00:00:00Z</SubmittedAt></ChangeInfo></GetChangeResponse>"
    )
    provider, faults = make(endpoint, wait_timeout=3.0)
    faults.add("GetChange", 200, pending, times=2)
    provider.apply([Create(RecordSet(ZONE, (SPF,), 300))])
    assert faults.slept == [1.0, 1.0]
    faults.add("GetChange", 200, pending, times=10)
    with pytest.raises(ProviderError, match="not INSYNC after 3s"):
        provider.apply([Create(RecordSet(ZONE, ("other",), 300))])
    assert faults.calls.count("GetChange") == 1 + 2 + 4


def test_bad_credentials_with_moto_auth(endpoint: str, admin: Any, zone_id: str) -> None:
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    iam.create_user(UserName="dns")
    key = iam.create_access_key(UserName="dns")["AccessKey"]
    wrong_secret = "not-the-secret-" + key["SecretAccessKey"][:10]
    moto_auth(endpoint, "0")  # moto checks credentials against its IAM from now on
    try:
        unknown, faults = make(endpoint, hosted_zone_id=zone_id)
        with pytest.raises(ProviderAuthError, match="InvalidClientTokenId") as info:
            unknown.list_records()
        assert SECRET not in str(info.value) and KEY_ID not in str(info.value)
        assert faults.calls.count("ListResourceRecordSets") == 1  # never retried
        bad, _ = make(
            endpoint,
            hosted_zone_id=zone_id,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=wrong_secret,
        )
        with pytest.raises(ProviderAuthError, match="SignatureDoesNotMatch") as info:
            bad.list_records()
        assert wrong_secret not in str(info.value)
    finally:
        moto_auth(endpoint, "inf")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("AccessDenied", 403, ProviderAuthError),
        ("InvalidClientTokenId", 403, ProviderAuthError),
        ("SignatureDoesNotMatch", 403, ProviderAuthError),
        ("Throttling", 400, ProviderRateLimitError),
        ("PriorRequestNotComplete", 400, ProviderRateLimitError),
        ("ServiceUnavailable", 503, ProviderServerError),
        ("InternalFailure", 500, ProviderServerError),
        ("InvalidChangeBatch", 400, ProviderError),
    ],
)
def test_error_mapping(code: str, status: int, expected: type[ProviderError]) -> None:
    provider = Route53Provider(ZONE, "Z1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    error = ClientError(
        {
            "Error": {"Code": code, "Message": "bad request"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "ChangeResourceRecordSets",
    )
    mapped = provider.map_error(error, "change x.example.com")
    assert type(mapped) is expected
    assert code in str(mapped) and "x.example.com" in str(mapped)  # secrets: test_secrets.py
    endpoint_error = provider.map_error(EndpointConnectionError(endpoint_url="x"), "list")
    assert isinstance(endpoint_error, ProviderServerError)


def test_connection_refused_is_a_server_error() -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider, faults = make(f"http://127.0.0.1:{port}", hosted_zone_id="Z1")
    with pytest.raises(ProviderServerError, match="Could not connect"):
        provider.list_records()
    assert faults.slept == [0.5, 1.0, 2.0, 4.0]  # retried with backoff, then given up


# -- malformed 200 answers, from a loopback server (issue 7.11) ---------------------------

XMLNS = 'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"'
CHANGE_INFO = (
    "<ChangeInfo><Id>/change/C1</Id><Status>INSYNC</Status>"
    "<SubmittedAt>2024-01-01T00:00:00Z</SubmittedAt></ChangeInfo>"
)
VALID = {
    "list": f"<ListResourceRecordSetsResponse {XMLNS}><ResourceRecordSets/>"
    "<IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListResourceRecordSetsResponse>",
    "change": f"<ChangeResourceRecordSetsResponse {XMLNS}>{CHANGE_INFO}"
    "</ChangeResourceRecordSetsResponse>",
    "get-change": f"<GetChangeResponse {XMLNS}>{CHANGE_INFO}</GetChangeResponse>",
    "zones": f"<ListHostedZonesByNameResponse {XMLNS}><HostedZones/><IsTruncated>false"
    "</IsTruncated><MaxItems>100</MaxItems></ListHostedZonesByNameResponse>",
}


def operation(request: Request) -> str:
    if "/hostedzonesbyname" in request.path:
        return "zones"
    if "/change/" in request.path:
        return "get-change"
    return "change" if request.method == "POST" else "list"


def answering(**bodies: str) -> Callable[[Request], Reply]:
    """Valid Route 53 answers, except the operations given (``get_change=...``)."""
    answers = {**VALID, **{k.replace("_", "-"): v for k, v in bodies.items()}}
    return lambda request: Reply(200, answers[operation(request)].encode(), "text/xml")


def txt_listing(rrset: str) -> str:
    return (
        f"<ListResourceRecordSetsResponse {XMLNS}><ResourceRecordSets><ResourceRecordSet>"
        f"{rrset}</ResourceRecordSet></ResourceRecordSets><IsTruncated>false</IsTruncated>"
        "<MaxItems>100</MaxItems></ListResourceRecordSetsResponse>"
    )


TXT_HEAD = "<Name>a.example.com.</Name><Type>TXT</Type>"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("<html><body>Sign in</body>", "list records: malformed response: Unable to parse"),
        (f"<ListResourceRecordSetsResponse {XMLNS}/>", "no ResourceRecordSets"),
        (
            txt_listing(
                f"{TXT_HEAD}<TTL>300</TTL><ResourceRecords><ResourceRecord/></ResourceRecords>"
            ),
            "record a.example.com: a TXT record without Value",
        ),
        (
            txt_listing(
                f"{TXT_HEAD}<TTL>300</TTL><ResourceRecords><ResourceRecord><Value>"
                '"v=spf1 -all</Value></ResourceRecord></ResourceRecords>'
            ),
            "record a.example.com: unterminated quoted string",
        ),
        (txt_listing(f"{TXT_HEAD}<TTL>soon</TTL>"), "list records: malformed response: "),
    ],
    ids=["html", "no-rrsets", "no-value", "bad-txt", "ttl"],
)
def test_malformed_listings_are_clean_errors(body: str, problem: str) -> None:
    with CannedHTTPServer(answering(list=body)) as server:
        provider, _ = make(server.base_url, hosted_zone_id="Z1")
        with pytest.raises(ProviderError) as info:
            provider.list_records()
    assert type(info.value) is ProviderError and info.value.__cause__ is None
    assert str(info.value).startswith("route53: zone example.com: ")
    assert problem in str(info.value)
    assert len(server.requests) == 1  # not retried


@pytest.mark.parametrize(
    ("bodies", "problem"),
    [
        ({"change": f"<ChangeResourceRecordSetsResponse {XMLNS}/>"}, "no ChangeInfo Id"),
        ({"get_change": f"<GetChangeResponse {XMLNS}/>"}, "wait for /change/C1: .*Status"),
        ({"change": "<html>Gateway</html>"}, "change example.com: malformed response"),
    ],
    ids=["change-no-id", "get-change-no-status", "change-html"],
)
def test_malformed_change_answers_are_clean_errors(bodies: dict[str, str], problem: str) -> None:
    with CannedHTTPServer(answering(**bodies)) as server:
        provider, _ = make(server.base_url, hosted_zone_id="Z1")
        with pytest.raises(ProviderError, match=rf"^route53: zone example\.com: .*{problem}"):
            provider.apply([Create(RecordSet(ZONE, (SPF,), 300))])


def test_a_zone_listing_without_zones_is_not_read_as_no_zone() -> None:
    body = f"<ListHostedZonesByNameResponse {XMLNS}/>"
    with CannedHTTPServer(answering(zones=body)) as server:
        provider, _ = make(server.base_url)
        with pytest.raises(ProviderError, match=r"find hosted zone: malformed .*HostedZones"):
            provider.list_records()


# -- delegation: NS and glue beside TXT ------------------------------------------------

DELEGATED = "spf.example.com"
GLUE = "ns1.spf.example.com"


def rrset_of(admin: Any, zone_id: str, name: str, rtype: str) -> dict[str, Any] | None:
    sets = admin.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return next((r for r in sets if r["Type"] == rtype and r["Name"] == name + "."), None)


def test_check_change_batch_delegation_values() -> None:
    def upsert(name: str, rtype: str, *values: str) -> dict[str, Any]:
        records = [{"Value": v} for v in values]
        rrset = {"Name": name + ".", "Type": rtype, "ResourceRecords": records}
        return {"Action": "UPSERT", "ResourceRecordSet": rrset}

    check_change_batch(ZONE, [upsert(DELEGATED, "NS", "ns1.spf.example.com.", "ns.other.net")])
    check_change_batch(
        ZONE, [upsert(GLUE, "A", "192.0.2.53"), upsert(GLUE, "AAAA", "2001:db8::53")]
    )
    check_change_batch(ZONE, [upsert(GLUE, "AAAA", "2001:0db8:85a3:0:0:8a2e:0370:7334")])
    refused = [
        (upsert("*.example.com", "NS", "ns1.other.net."), "no wildcard NS"),
        (upsert(DELEGATED, "NS", "ns1..other.net"), "not a domain name"),
        (upsert(DELEGATED, "NS", "a" * 64 + ".net."), "label over 63 bytes"),
        (upsert(DELEGATED, "NS", ".".join(["a" * 63] * 4) + "."), "over 255 bytes"),
        (upsert(GLUE, "A", "192.0.2.256"), "not a dotted-decimal IPv4"),
        (upsert(GLUE, "A", "2001:db8::53"), "not a dotted-decimal IPv4"),
        (upsert(GLUE, "AAAA", "192.0.2.53"), "not a colon-separated IPv6"),
        (upsert(GLUE, "AAAA", "fe80::1%eth0"), "not a colon-separated IPv6"),
    ]
    for change, problem in refused:
        with pytest.raises(ProviderError, match=f"zone example\\.com: record .*{problem}"):
            check_change_batch(ZONE, [change])


def test_delegation_beside_txt(endpoint: str, admin: Any, zone_id: str) -> None:
    provider, _ = make(endpoint)
    txt = RecordSet(DELEGATED, ("v=spf1 -all",), 300)
    ns = RecordSet(DELEGATED, ("ns.other.net", GLUE), 3600, "NS")
    glue_a = RecordSet(GLUE, ("192.0.2.53",), 3600, "A")
    glue_aaaa = RecordSet(GLUE, ("2001:db8::53",), 3600, "AAAA")
    provider.apply([Create(txt)])
    provider.apply([Create(ns), Create(glue_a), Create(glue_aaaa)])
    names = [DELEGATED, GLUE]
    assert provider.list_records(names, "NS") == {DELEGATED: ns}
    assert provider.list_records(names, "A") == {GLUE: glue_a}
    assert provider.list_records(names, "AAAA") == {GLUE: glue_aaaa}
    assert provider.list_records() == {DELEGATED: txt}  # TXT listing: TXT only
    wire = rrset_of(admin, zone_id, DELEGATED, "NS")
    assert wire is not None
    assert sorted(r["Value"] for r in wire["ResourceRecords"]) == ["ns.other.net.", GLUE + "."]

    moved = RecordSet(GLUE, ("192.0.2.54", "198.51.100.53"), 600, "A")
    provider.apply([Update(glue_a, moved)])
    assert provider.list_records([GLUE], "A") == {GLUE: moved}
    assert provider.list_records([GLUE], "AAAA") == {GLUE: glue_aaaa}  # other type untouched

    provider.apply([Delete(ns), Delete(moved), Delete(glue_aaaa)])
    provider.apply([Delete(ns)])  # already gone: no-op
    for rtype in ("NS", "A", "AAAA"):
        assert provider.list_records(names, rtype) == {}
    assert provider.list_records() == {DELEGATED: txt}
    assert txt_values(admin, zone_id, DELEGATED) == ['"v=spf1 -all"']


def test_delegation_values_read_back_canonical(endpoint: str, admin: Any, zone_id: str) -> None:
    def upsert(name: str, rtype: str, value: str) -> None:
        rrset = {"Name": name, "Type": rtype, "TTL": 60, "ResourceRecords": [{"Value": value}]}
        admin.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": rrset}]},
        )

    upsert(DELEGATED + ".", "NS", "NS1.Other.NET.")
    upsert(GLUE, "AAAA", "2001:0db8:0000:0000:0000:0000:0000:0053")
    provider, _ = make(endpoint)
    assert provider.list_records([DELEGATED], "NS") == {
        DELEGATED: RecordSet(DELEGATED, ("ns1.other.net",), 60, "NS")
    }
    assert provider.list_records([GLUE], "AAAA")[GLUE].values == ("2001:db8::53",)


def test_apex_ns_is_refused(endpoint: str, zone_id: str) -> None:
    provider, faults = make(endpoint)
    before = provider.client.list_resource_record_sets(HostedZoneId=zone_id)
    for change in (
        Create(RecordSet(ZONE, ("ns1.other.net",), 300, "NS")),
        Delete(RecordSet(ZONE, ("ns1.other.net",), 300, "NS")),
    ):
        with pytest.raises(ProviderError, match=r"zone example\.com: refusing .* apex NS"):
            provider.apply([change])
    assert "ChangeResourceRecordSets" not in faults.calls
    after = provider.client.list_resource_record_sets(HostedZoneId=zone_id)
    assert after["ResourceRecordSets"] == before["ResourceRecordSets"]
