"""No credential reaches an error or a log line, whatever the server reflects (issue 7.12).

Each adapter talks to a loopback server that echoes the credentials it received (and, for
those the client never sends, the ones the test gives it) in its error answers — raw,
URL-encoded and base64 — as a misconfigured server or proxy would. The one mechanism of
the base class must scrub them from the raised error (str, repr, chained exceptions, the
traceback) and from every retry warning.
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
from collections.abc import Callable
from urllib.parse import quote

import dns.rcode
import dns.tsig
import pytest

from spfmanager.errors import ProviderAuthError, ProviderError, ProviderServerError
from spfmanager.providers.base import Provider
from spfmanager.providers.cloudflare import CloudflareProvider
from spfmanager.providers.powerdns import PowerDNSProvider
from spfmanager.providers.rfc2136 import RFC2136Provider
from spfmanager.providers.route53 import Route53Provider
from spfmanager.publish.changes import Create, RecordSet
from tests.fakes.canned_dns import CannedDNSServer
from tests.fakes.canned_http import CannedHTTPServer, Reply, Request
from tests.fakes.cloudflare_api import FakeCloudflare, Fault

pytestmark = pytest.mark.integration

ZONE = "example.com"
CHANGE = Create(RecordSet(ZONE, ("v=spf1 -all",), 300))
PDNS_KEY = "pdns/api+key=Secret42"
CF_TOKEN = "cf-token/with+odd=chars-123456"
AWS_KEY_ID, AWS_SECRET = "AKIAREFLECTED0000001", "reflected/aws+secret=key0123456789abcdefgh"
TSIG_SECRET = base64.b64encode(b"tsig-secret-bytes-0123456789abcd").decode()


def echo(*secrets: str) -> str:
    """The secrets as a reflecting server would quote them."""
    return " ".join(
        f"{s} {quote(s, safe='')} {base64.b64encode(s.encode()).decode()}" for s in secrets
    )


def shown(exc: BaseException) -> str:
    """What anyone can see of ``exc``: the CLI's line, str and repr of every chained
    exception, and the traceback."""
    parts = ["".join(traceback.format_exception(exc))]
    current: BaseException | None = exc
    while current is not None:
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def assert_scrubbed(
    exc: BaseException,
    caplog: pytest.LogCaptureFixture,
    secrets: tuple[str, ...],
    *,
    quoted: bool = True,
) -> None:
    if quoted:
        assert "***" in str(exc)  # the server's text is shown, its secrets are not
    ours = [r for r in caplog.records if r.name.startswith("spfmanager")]
    seen = "\n".join([shown(exc), *(r.getMessage() for r in ours), *(str(r.args) for r in ours)])
    for secret in secrets:
        for form in (secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()):
            assert form not in seen


def run(
    provider: Provider, caplog: pytest.LogCaptureFixture, expected: type[ProviderError]
) -> ProviderError:
    provider.sleep = lambda _seconds: None
    with caplog.at_level(logging.DEBUG, "spfmanager"), pytest.raises(ProviderError) as info:
        provider.apply([CHANGE])
    assert type(info.value) is expected
    if expected is ProviderServerError:  # retried: every warning went through the scrubber
        warnings = [r for r in caplog.records if "retry in" in r.getMessage()]
        assert len(warnings) == provider.retries and "***" in warnings[0].getMessage()
    return info.value


STATUSES = [(500, ProviderServerError), (400, ProviderError)]


@pytest.mark.parametrize(("status", "expected"), STATUSES, ids=["500", "400"])
def test_powerdns_key_reflected_in_error_bodies(
    caplog: pytest.LogCaptureFixture, status: int, expected: type[ProviderError]
) -> None:
    def reflect(request: Request) -> Reply:
        key = request.headers["X-API-Key"]
        return Reply(status, json.dumps({"error": f"key {echo(key)} refused"}).encode())

    with CannedHTTPServer(reflect) as server:
        error = run(PowerDNSProvider(ZONE, server.base_url, PDNS_KEY), caplog, expected)
    assert f"HTTP {status}" in str(error)
    assert_scrubbed(error, caplog, (PDNS_KEY,))


@pytest.mark.parametrize(("status", "expected"), STATUSES, ids=["500", "400"])
def test_cloudflare_token_reflected_in_error_bodies(
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    expected: type[ProviderError],
) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", CF_TOKEN)  # the token from the environment
    with FakeCloudflare(CF_TOKEN) as fake:
        fake.add_zone(ZONE)
        message = "refused {authorization} " + echo(CF_TOKEN).replace("{", "{{")
        fake.fail(*[Fault(status=status, message=message)] * 5)
        provider = CloudflareProvider(ZONE, base_url=fake.base_url)
        error = run(provider, caplog, expected)
    assert_scrubbed(error, caplog, (CF_TOKEN,))


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [(500, "InternalFailure", ProviderServerError), (400, "InvalidChangeBatch", ProviderError)],
    ids=["500", "400"],
)
def test_route53_credentials_reflected_in_error_bodies(
    caplog: pytest.LogCaptureFixture, status: int, code: str, expected: type[ProviderError]
) -> None:
    def reflect(request: Request) -> Reply:
        text = f"{request.headers['Authorization']} {echo(AWS_KEY_ID, AWS_SECRET)}"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{text}"
            "</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
        return Reply(status, body.encode(), "text/xml")

    with CannedHTTPServer(reflect) as server:
        provider = Route53Provider(
            ZONE,
            "Z1",
            endpoint_url=server.base_url,
            aws_access_key_id=AWS_KEY_ID,
            aws_secret_access_key=AWS_SECRET,
        )
        error = run(provider, caplog, expected)
    assert code in str(error)
    assert_scrubbed(error, caplog, (AWS_KEY_ID, AWS_SECRET))


def test_route53_secret_in_a_200_botocore_cannot_parse(caplog: pytest.LogCaptureFixture) -> None:
    """botocore quotes an unparsable body in its exception: that text is scrubbed too."""
    page = Reply(200, f"<html>{echo(AWS_SECRET)}".encode(), "text/html")
    with CannedHTTPServer(page) as server:
        provider = Route53Provider(
            ZONE,
            "Z1",
            endpoint_url=server.base_url,
            aws_access_key_id=AWS_KEY_ID,
            aws_secret_access_key=AWS_SECRET,
        )
        error = run(provider, caplog, ProviderError)
    assert "change example.com: malformed response: Unable to parse" in str(error)
    assert_scrubbed(error, caplog, (AWS_SECRET,), quoted=False)


@pytest.mark.parametrize(
    ("rcode", "expected"),
    [(dns.rcode.SERVFAIL, ProviderServerError), (dns.rcode.REFUSED, ProviderAuthError)],
    ids=["SERVFAIL", "REFUSED"],
)
def test_rfc2136_tsig_secret_reflected_in_extended_errors(
    caplog: pytest.LogCaptureFixture, rcode: dns.rcode.Rcode, expected: type[ProviderError]
) -> None:
    key = dns.tsig.Key("spf-key.", TSIG_SECRET, "hmac-sha256")
    with CannedDNSServer(key, rcode, f"key spf-key. is {echo(TSIG_SECRET)}") as server:
        provider = RFC2136Provider(
            ZONE, "127.0.0.1", server.port, tsig_name="spf-key.", tsig_secret=TSIG_SECRET
        )
        error = run(provider, caplog, expected)
    assert f"server answered {dns.rcode.to_text(rcode)} [EDE 18 (Prohibited): key" in str(error)
    assert_scrubbed(error, caplog, (TSIG_SECRET,))


ADAPTERS: dict[str, Callable[[], Provider]] = {
    "powerdns": lambda: PowerDNSProvider(ZONE, "http://127.0.0.1:9", PDNS_KEY),
    "cloudflare": lambda: CloudflareProvider(ZONE, CF_TOKEN, base_url="http://127.0.0.1:9"),
    "route53": lambda: Route53Provider(
        ZONE, "Z1", aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET
    ),
    "rfc2136": lambda: RFC2136Provider(
        ZONE, "127.0.0.1", tsig_name="spf-key.", tsig_secret=TSIG_SECRET
    ),
}


@pytest.mark.parametrize("kind", sorted(ADAPTERS))
def test_every_adapter_registers_its_credentials(kind: str) -> None:
    provider = ADAPTERS[kind]()
    secrets = {
        "powerdns": [PDNS_KEY],
        "cloudflare": [CF_TOKEN],
        "route53": [AWS_KEY_ID, AWS_SECRET],
        "rfc2136": [TSIG_SECRET],
    }[kind]
    for secret in secrets:
        assert provider.scrub(f"<{secret}>") == "<***>"
        assert secret not in repr(provider)
