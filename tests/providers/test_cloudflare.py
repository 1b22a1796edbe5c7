"""CloudflareProvider: the official SDK against a Cloudflare-contract server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from spfmanager.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from spfmanager.providers.cloudflare import CloudflareProvider, parse_content, render_content
from spfmanager.publish.changes import Create, Delete, RecordSet, Update
from tests.fakes.cloudflare_api import ApiError, FakeCloudflare, Fault, FaultKind

pytestmark = pytest.mark.integration

ZONE = "example.com"
TOKEN = "cf-secret-token-123456"
SPF = "v=spf1 include:_spf.google.com include:mailgun.org -all"
LONG = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(40)) + " -all"  # > 255


@pytest.fixture
def fake() -> Iterator[FakeCloudflare]:
    with FakeCloudflare(TOKEN, readonly_tokens=("read-only-token",)) as server:
        server.add_zone(ZONE)
        server.add_zone("other.org")
        yield server


class NoRetries(CloudflareProvider):
    retries = 0


class OneRetry(CloudflareProvider):
    retries = 1


def provider(
    fake: FakeCloudflare,
    token: str = TOKEN,
    cls: type[CloudflareProvider] = CloudflareProvider,
    **kw: Any,
) -> CloudflareProvider:
    p = cls(ZONE, token, base_url=fake.base_url, **kw)
    p.sleep = lambda _seconds: None
    return p


def zone_id(fake: FakeCloudflare) -> str:
    return next(i for i, n in fake.zones.items() if n == ZONE)


def test_content_round_trip() -> None:
    assert render_content("ab") == '"ab"'
    assert parse_content(render_content(LONG)) == LONG
    assert render_content(LONG).count('" "') == (len(LONG) - 1) // 255
    assert parse_content("v=spf1 -all") == "v=spf1 -all"  # legacy unquoted content
    assert parse_content('"a\\"b" "c"') == 'a"bc'


def test_zone_found_by_name(fake: FakeCloudflare) -> None:
    assert provider(fake).zone_id() == zone_id(fake)


def test_unknown_zone(fake: FakeCloudflare) -> None:
    p = CloudflareProvider("nope.test", TOKEN, base_url=fake.base_url)
    with pytest.raises(ProviderError, match=r"no zone named nope\.test"):
        p.list_records()


def test_create_update_delete(fake: FakeCloudflare) -> None:
    p = provider(fake)
    zid = zone_id(fake)
    fake.add_record(zid, ZONE, '"google-site-verification=abc"')  # unrelated TXT at the apex
    p.apply([Create(RecordSet("spf.example.com", (LONG,), 300))])
    assert p.list_records(["spf.example.com"]) == {
        "spf.example.com": RecordSet("spf.example.com", (LONG,), 300)
    }
    assert fake.contents(zid, "spf.example.com") == [render_content(LONG)]

    old = RecordSet(ZONE, ("google-site-verification=abc",), 1)
    new = RecordSet(ZONE, ("google-site-verification=abc", SPF), 1)
    p.apply([Update(old, new)])
    assert set(p.list_records()[ZONE].values) == set(new.values)

    p.apply([Delete(RecordSet("spf.example.com", (LONG,), 300))])
    assert "spf.example.com" not in p.list_records()
    assert fake.contents(zid, "spf.example.com") == []


def test_update_patches_in_place(fake: FakeCloudflare) -> None:
    """Replacing the SPF value edits the record: the name is never empty or doubled."""
    zid = zone_id(fake)
    rid = fake.add_record(zid, ZONE, '"v=spf1 -all"', ttl=300)
    p = provider(fake)
    old = RecordSet(ZONE, ("v=spf1 -all",), 300)
    p.apply([Update(old, RecordSet(ZONE, (SPF,), 300))])
    assert list(fake.records[zid]) == [rid]
    assert fake.contents(zid, ZONE) == [render_content(SPF)]


def test_reapply_is_idempotent(fake: FakeCloudflare) -> None:
    p = provider(fake)
    change = Create(RecordSet(ZONE, (SPF, "other"), 300))
    p.apply([change])
    before = len(fake.writes())
    p.apply([change])
    assert len(fake.writes()) == before  # nothing to do: no write request at all
    assert len(fake.contents(zone_id(fake), ZONE)) == 2


def test_pagination(fake: FakeCloudflare) -> None:
    zid = zone_id(fake)
    for i in range(23):
        fake.add_record(zid, f"n{i}.example.com", f'"value {i}"')
    p = provider(fake, per_page=5)
    found = p.list_records()
    assert len(found) == 23
    assert found["n17.example.com"].values == ("value 17",)
    pages = [path for method, path in fake.requests if path.endswith("/dns_records")]
    assert len(pages) == 6  # 5 full pages, then the empty page that stops the SDK


def test_batch_is_one_request(fake: FakeCloudflare) -> None:
    p = provider(fake)
    p.apply(
        [
            Create(RecordSet("a.example.com", ("one",), 300)),
            Create(RecordSet("b.example.com", ("two", "three"), 300)),
        ]
    )
    assert fake.writes() == [("POST", f"/client/v4/zones/{zone_id(fake)}/dns_records/batch")]


def test_rate_limit_then_success(fake: FakeCloudflare) -> None:
    p = provider(fake)
    slept: list[float] = []
    p.sleep = slept.append
    fake.fail(Fault(status=429, retry_after=1, method="POST"))
    p.apply([Create(RecordSet(ZONE, (SPF,), 300))])
    assert slept == [p.backoff_seconds]
    assert fake.contents(zone_id(fake), ZONE) == [render_content(SPF)]


def test_rate_limit_exhausted(fake: FakeCloudflare) -> None:
    p = provider(fake)
    fake.fail(*[Fault(status=429, retry_after=1)] * (p.retries + 1))
    with pytest.raises(ProviderRateLimitError, match="HTTP 429"):
        p.list_records()


def test_server_error_in_batch_leaves_old_record(fake: FakeCloudflare) -> None:
    zid = zone_id(fake)
    fake.add_record(zid, ZONE, '"v=spf1 -all"', ttl=300)
    p = provider(fake, cls=NoRetries)
    fake.fail(Fault(status=500, path_contains="/batch"))
    old = RecordSet(ZONE, ("v=spf1 -all",), 300)
    with pytest.raises(ProviderServerError):
        p.apply([Update(old, RecordSet(ZONE, (SPF, "x"), 300))])
    assert fake.contents(zid, ZONE) == ['"v=spf1 -all"']


def test_failed_batch_operation_rolls_back(fake: FakeCloudflare) -> None:
    """A record vanishing between list and batch makes Cloudflare refuse the whole batch."""
    zid = zone_id(fake)
    keep = fake.add_record(zid, ZONE, '"v=spf1 -all"', ttl=300)
    gone = fake.add_record(zid, "x.example.com", '"old"', ttl=300)
    p = provider(fake, cls=NoRetries)
    records = p.client.dns.records
    original = records.batch

    def racing_batch(**kwargs: object) -> object:
        del fake.records[zid][gone]  # another client deletes it first
        return original(**kwargs)  # type: ignore[arg-type]

    records.batch = racing_batch  # type: ignore[method-assign,assignment]
    with pytest.raises(ProviderError, match="81044"):
        p.apply(
            [
                Update(RecordSet(ZONE, ("v=spf1 -all",), 300), RecordSet(ZONE, (SPF,), 300)),
                Delete(RecordSet("x.example.com", ("old",), 300)),
            ]
        )
    assert fake.records[zid][keep]["content"] == '"v=spf1 -all"'


def test_sequential_fallback_never_empties_a_name(fake: FakeCloudflare) -> None:
    zid = zone_id(fake)
    fake.add_record(zid, ZONE, '"v=spf1 -all"', ttl=300)
    fake.add_record(zid, ZONE, '"stale"', ttl=300)
    p = provider(fake, cls=NoRetries, use_batch=False)
    fake.fail(Fault(status=500, method="DELETE"))  # the patch succeeds, the delete fails
    old = RecordSet(ZONE, ("v=spf1 -all", "stale"), 300)
    new = RecordSet(ZONE, (SPF,), 300)
    with pytest.raises(ProviderServerError):
        p.apply([Update(old, new)])
    assert render_content(SPF) in fake.contents(zid, ZONE)
    p.apply([Update(old, new)])  # the retry finishes the job
    assert fake.contents(zid, ZONE) == [render_content(SPF)]
    methods = [m for m, _ in fake.writes()]
    assert methods == ["PATCH", "DELETE", "DELETE"]


def test_timeout_is_a_server_error(fake: FakeCloudflare) -> None:
    p = provider(fake, cls=OneRetry, timeout=0.3)
    fake.fail(Fault(kind=FaultKind.HANG, seconds=1.0))
    assert p.list_records() == {}  # the hang timed out, the retry succeeded
    p = provider(fake, cls=NoRetries, timeout=0.3)
    fake.fail(Fault(kind=FaultKind.HANG, seconds=1.0))
    with pytest.raises(ProviderServerError, match="timed out"):
        p.list_records()


def test_bad_token(fake: FakeCloudflare) -> None:
    secret = "wrong-token-" + "s3cr3t" * 4
    p = provider(fake, token=secret)
    with pytest.raises(ProviderAuthError) as info:
        p.list_records()
    assert "10000" in str(info.value)
    assert secret not in str(info.value)
    assert len(fake.requests) == 1  # auth errors are not retried


def test_read_only_token_cannot_write(fake: FakeCloudflare) -> None:
    p = provider(fake, token="read-only-token")
    assert p.list_records() == {}
    with pytest.raises(ProviderAuthError, match="9109") as info:
        p.apply([Create(RecordSet(ZONE, (SPF,), 300))])
    assert "read-only-token" not in str(info.value)


def test_connection_refused() -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    p = NoRetries(ZONE, TOKEN, base_url=f"http://127.0.0.1:{port}/client/v4", zone_id="z")
    with pytest.raises(ProviderServerError, match="cannot connect"):
        p.list_records()


def test_value_too_long_is_refused_before_sending(fake: FakeCloudflare) -> None:
    p = provider(fake)
    with pytest.raises(ProviderError, match="limit of 2025"):
        p.apply([Create(RecordSet(ZONE, ("x" * 2026,), 300))])
    assert fake.requests == []
    p.apply([Create(RecordSet(ZONE, ("x" * 2025,), 300))])  # the longest that fits
    assert p.list_records()[ZONE].values == ("x" * 2025,)
    quotes = '"' * 1020  # each escaped: fits max_value_length, not the content limit
    with pytest.raises(ProviderError, match=r"record example\.com: TXT content of \d+ characters"):
        p.apply([Create(RecordSet(ZONE, (quotes,), 300))])


# -- malformed 200 answers (issue 7.11) ---------------------------------------------------


def body(data: bytes | str, content_type: str = "application/json", **match: Any) -> Fault:
    raw = data.encode() if isinstance(data, str) else data
    return Fault(FaultKind.BODY, status=200, body=raw, content_type=content_type, **match)


def page(*records: Any) -> str:
    return json.dumps({"success": True, "errors": [], "messages": [], "result": list(records)})


RECORD = {"id": "r1", "name": ZONE, "type": "TXT", "content": '"v=spf1 -all"', "ttl": 300}
LISTING = {"method": "GET", "path_contains": "/dns_records"}


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (body("<html>Sign in</html>", "text/html", **LISTING), "AttributeError"),
        (body("{truncated", **LISTING), "JSONDecodeError"),
        (body("[1, 2]", **LISTING), "AttributeError"),
        (body('{"success": true}', **LISTING), "page 1 has no 'result' list"),
        (body('{"success": true, "result": {"id": "r1"}}', **LISTING), "no 'result' list"),
        (body('{"success": false, "errors": [], "result": []}', **LISTING), "'success': true"),
        (body(page({k: v for k, v in RECORD.items() if k != "content"}), **LISTING), "'content'"),
        (body(page({**RECORD, "content": '"v=spf1 -all'}), **LISTING), "is not valid"),
        (body(page({**RECORD, "ttl": None}), **LISTING), "no valid 'ttl'"),
        (body(page("a string"), **LISTING), "not a DNS record"),
    ],
    ids=[
        "html",
        "truncated",
        "list",
        "no-result",
        "result-object",
        "not-success",
        "no-content",
        "bad-txt",
        "no-ttl",
        "record-string",
    ],
)
def test_malformed_listings_are_clean_errors(
    fake: FakeCloudflare, fault: Fault, problem: str
) -> None:
    p = provider(fake, cls=NoRetries, zone_id=zone_id(fake))
    fake.fail(fault)
    with pytest.raises(ProviderError) as info:
        p.list_records()
    assert type(info.value) is ProviderError and info.value.__cause__ is None
    assert str(info.value).startswith("cloudflare: zone example.com: list records: malformed")
    assert problem in str(info.value)


def test_a_server_repeating_its_first_page_is_not_listed_forever(fake: FakeCloudflare) -> None:
    p = provider(fake, zone_id=zone_id(fake), per_page=1)
    fake.fail(*[body(page(RECORD), **LISTING)] * 3)  # ignores ?page=
    with pytest.raises(ProviderError, match="page 2 repeats records already listed"):
        p.list_records()


def test_a_zone_without_an_id_is_a_clean_error(fake: FakeCloudflare) -> None:
    p = provider(fake)
    fake.fail(body(page({"name": ZONE}), method="GET", path_contains="/zones"))
    with pytest.raises(ProviderError, match="find zone: malformed response: a zone without id"):
        p.list_records()


@pytest.mark.parametrize("use_batch", [True, False], ids=["batch", "one-by-one"])
@pytest.mark.parametrize(
    "answer",
    [
        body("<html>Gateway</html>", "text/html", method="POST"),
        body('{"success": true}', method="POST"),
    ],
    ids=["html", "no-result"],
)
def test_a_write_answered_without_the_envelope_is_an_error(
    fake: FakeCloudflare, answer: Fault, use_batch: bool
) -> None:
    p = provider(fake, cls=NoRetries, use_batch=use_batch)
    fake.fail(answer)
    with pytest.raises(ProviderError, match=r"zone example\.com: change example\.com: malformed"):
        p.apply([Create(RecordSet(ZONE, (SPF,), 300))])


# -- delegation: NS and glue beside TXT ------------------------------------------------

DELEGATED = "spf.example.com"
GLUE = "ns1.spf.example.com"


@pytest.mark.parametrize("use_batch", [True, False], ids=["batch", "one-by-one"])
def test_delegation_beside_txt(fake: FakeCloudflare, use_batch: bool) -> None:
    p = provider(fake, use_batch=use_batch)
    zid = zone_id(fake)
    fake.add_record(zid, DELEGATED, '"v=spf1 -all"', ttl=300)
    txt = p.list_records()
    ns = RecordSet(DELEGATED, ("ns.other.net", GLUE), 3600, "NS")
    glue_a = RecordSet(GLUE, ("192.0.2.53",), 3600, "A")
    glue_aaaa = RecordSet(GLUE, ("2001:db8::53",), 3600, "AAAA")
    p.apply([Create(ns), Create(glue_a), Create(glue_aaaa)])
    names = [DELEGATED, GLUE]
    assert p.list_records(names, "NS") == {DELEGATED: ns}
    assert p.list_records(names, "A") == {GLUE: glue_a}
    assert p.list_records(names, "AAAA") == {GLUE: glue_aaaa}
    assert p.list_records() == txt
    assert fake.contents(zid, DELEGATED, "NS") == ["ns.other.net", GLUE]
    unproxied = [r["proxied"] for r in fake.records[zid].values() if r["type"] in ("A", "AAAA")]
    assert unproxied == [False, False]

    a_id = next(i for i, r in fake.records[zid].items() if r["type"] == "A")
    moved = RecordSet(GLUE, ("192.0.2.54",), 3600, "A")
    p.apply([Update(glue_a, moved)])
    assert fake.records[zid][a_id]["content"] == "192.0.2.54"  # patched in place
    assert p.list_records([GLUE], "A") == {GLUE: moved}
    assert p.list_records([GLUE], "AAAA") == {GLUE: glue_aaaa}  # other type untouched

    p.apply([Delete(ns), Delete(moved), Delete(glue_aaaa)])
    writes = len(fake.writes())
    p.apply([Delete(ns), Delete(moved)])  # already gone: no-op, nothing sent
    assert len(fake.writes()) == writes
    assert all(p.list_records(names, t) == {} for t in ("NS", "A", "AAAA"))
    assert p.list_records() == txt
    assert fake.contents(zid, DELEGATED) == ['"v=spf1 -all"']


def test_apex_ns_is_refused(fake: FakeCloudflare) -> None:
    p = provider(fake)
    for change in (
        Create(RecordSet(ZONE, ("ns1.other.net",), 300, "NS")),
        Delete(RecordSet(ZONE, ("ns1.other.net",), 300, "NS")),
    ):
        with pytest.raises(ProviderError, match=r"zone example\.com: refusing .* apex NS"):
            p.apply([change])
    assert fake.writes() == []


def test_delegation_listing_by_type_and_name_across_pages(fake: FakeCloudflare) -> None:
    """Only the asked type at the asked names (not a name merely ending the same), every page,
    values canonical; a proxied A record is no glue."""
    zid = zone_id(fake)
    for i in range(5):
        fake.add_record(zid, DELEGATED, f"NS{i}.Other.NET.", ttl=3600, rtype="NS")
    fake.add_record(zid, "x" + DELEGATED, "ns9.other.net", ttl=3600, rtype="NS")
    fake.add_record(zid, GLUE, "2001:0db8:0:0:0:0:0:53", ttl=3600, rtype="AAAA")
    fake.add_record(zid, GLUE, "192.0.2.80", ttl=300, rtype="A", proxied=True)
    fake.add_record(zid, GLUE, '"not glue"')
    p = provider(fake, per_page=2)
    listed = p.list_records([DELEGATED, GLUE], "NS")
    assert listed == {
        DELEGATED: RecordSet(DELEGATED, tuple(f"ns{i}.other.net" for i in range(5)), 3600, "NS")
    }
    assert p.list_records([GLUE], "AAAA")[GLUE].values == ("2001:db8::53",)
    assert p.list_records([GLUE], "A") == {}

    glue = RecordSet(GLUE, ("192.0.2.80",), 300, "A")
    p.apply([Create(glue)])  # the proxied record becomes the unproxied glue
    assert [
        (r["content"], r["proxied"]) for r in fake.records[zid].values() if r["type"] == "A"
    ] == [("192.0.2.80", False)]
    assert p.list_records([GLUE], "A") == {GLUE: glue}


def test_fake_checks_delegation_records_like_the_api(fake: FakeCloudflare) -> None:
    zid = zone_id(fake)
    with pytest.raises(ApiError, match="valid IPv4"):
        fake.add_record(zid, GLUE, "2001:db8::53", rtype="A")
    with pytest.raises(ApiError, match="cannot be proxied"):
        fake.add_record(zid, DELEGATED, "ns1.other.net", rtype="NS", proxied=True)
    with pytest.raises(ApiError, match="TTL"):
        fake.add_record(zid, DELEGATED, "ns1.other.net", ttl=30, rtype="NS")
    p = provider(fake)
    bad = {"name": GLUE, "type": "AAAA", "ttl": 300, "content": "192.0.2.1"}
    with pytest.raises(ProviderError, match=r"HTTP 400.*valid IPv6"):  # the SDK sees the 400
        p._call("post", lambda: p.client.dns.records.create(zone_id=zid, **bad))
