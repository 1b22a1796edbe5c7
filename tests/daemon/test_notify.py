"""Notifications against real servers on 127.0.0.1: aiosmtpd (STARTTLS, implicit TLS, AUTH
PLAIN/LOGIN) receives the mail, an http.server thread the webhook and Slack bodies."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import ipaddress
import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError

from spfmanager.config.notifications import EmailChannel, NotificationsConfig, SlackChannel
from spfmanager.daemon.notify import (
    HEADLINES,
    TEMPLATES,
    Event,
    EventKind,
    Notifier,
    error_alert_due,
    recovery_alert_due,
    sample_event,
    slack_escape,
    to_json,
)
from spfmanager.errors import ConfigError

LOOPBACK = "127.0.0.1"
USER = "alerts"
PASSWORD = "pa55-w0rd/with+odd=chars"
HEADER_TOKEN = "hdr-T0KEN-9f8e7d6c5b4a"
SLACK_TOKEN = "xoxbSECRETtoken1234567890"
URL_TOKEN = "q-s3cret-4a5b6c7d"
SECRETS = (PASSWORD, HEADER_TOKEN, SLACK_TOKEN, URL_TOKEN)


# -- fixtures: TLS -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    directory: Path
    ca: Path  # the CA that signed the server's certificate (what ca_file trusts)
    server: ssl.SSLContext  # the servers' side: certificate for IP 127.0.0.1


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1, signed by it."""
    directory = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "spfmanager test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path = directory / "server.key"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(chain, key_path)
    return Certificates(directory, ca_path, server)


# -- fixtures: SMTP ----------------------------------------------------------------------------


@dataclass
class Received:
    envelope: Envelope
    login: bytes | None
    tls: bool

    @property
    def message(self) -> EmailMessage:
        content = self.envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class MailHandler:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        login = getattr(session.auth_data, "login", None) if session.authenticated else None
        self.received.append(Received(envelope, login, bool(session.ssl)))
        return "250 2.0.0 accepted"


def _check_password(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=data)


def _echo_password(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    """A hostile server: the rejection quotes the credentials, raw and base64-encoded."""
    assert isinstance(data, LoginPassword)
    blob = base64.b64encode(b"\0" + data.login + b"\0" + data.password).decode()
    said = f"{data.login.decode()}:{data.password.decode()} {blob}"
    return AuthResult(success=False, handled=False, message=f"535 5.7.8 rejected {said}")


class _Controller(Controller):
    """aiosmtpd's controller on an ephemeral port (its own start-up check needs the port)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@dataclass
class SMTPServerHandle:
    port: int
    handler: MailHandler


SMTPFactory = Callable[..., SMTPServerHandle]


@pytest.fixture
def smtp_server(certificates: Certificates) -> Iterator[SMTPFactory]:
    """Start an SMTP server: STARTTLS required and AUTH required (default), or implicit TLS
    (``implicit_tls=True``); ``mechanisms`` limits AUTH; ``authenticator`` replaces the
    password check."""
    controllers: list[Controller] = []

    def start(
        *,
        implicit_tls: bool = False,
        mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN"),
        authenticator: Callable[..., AuthResult] = _check_password,
    ) -> SMTPServerHandle:
        handler = MailHandler()
        excluded = [m for m in ("PLAIN", "LOGIN") if m not in mechanisms]
        options: dict[str, Any] = {
            "authenticator": authenticator,
            "auth_required": True,
            "auth_exclude_mechanism": excluded,
        }
        if implicit_tls:  # aiosmtpd does not count implicit TLS as TLS for its AUTH rule
            options.update(ssl_context=certificates.server, auth_require_tls=False)
        else:
            options.update(tls_context=certificates.server, require_starttls=True)
        controller = _Controller(handler, hostname=LOOPBACK, port=0, **options)
        controller.start()
        controllers.append(controller)
        return SMTPServerHandle(controller.port, handler)

    yield start
    for controller in controllers:
        controller.stop()


# -- fixtures: HTTP ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def received(self, prefix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]


class _Handler(BaseHTTPRequestHandler):
    """200 "ok", except: ``/echo…`` 500 quoting the path and every header (a hostile or
    debugging server), ``/flaky…`` 503 on the first request, ``/redirect…`` 302 to
    ``/elsewhere``, ``/missing…`` 404."""

    server: _HTTPServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.requests.append(Request(self.path, dict(self.headers.items()), body))
            first = len([r for r in self.server.requests if r.path == self.path]) == 1
        status, text, extra = 200, "ok", {}
        if self.path.startswith("/echo"):
            status, text = (
                500,
                (
                    f"no such hook {self.path}; Authorization {self.headers['Authorization']}, "
                    f"X-Api-Key {self.headers['X-Api-Key']}; all: {dict(self.headers.items())}"
                ),
            )
        elif self.path.startswith("/flaky") and first:
            status, text = 503, "try later"
        elif self.path.startswith("/redirect"):
            status, text, extra = 302, "moved", {"Location": f"{self.server.base}/elsewhere"}
        elif self.path.startswith("/missing"):
            status, text = 404, "no_service"
        payload = text.encode()
        self.send_response(status)
        for name, value in {**extra, "Content-Length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[_HTTPServer]:
    server = _HTTPServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback only: an environment proxy must not take the webhook requests elsewhere."""
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Secrets in the environment, the SMTP password in a file (returned)."""
    monkeypatch.setenv("HOOK_TOKEN", f"Bearer {HEADER_TOKEN}")
    password = tmp_path / "smtp-password"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    return password


# -- helpers -----------------------------------------------------------------------------------


EVENT = Event(
    EventKind.APPLIED,
    "example.com",
    'mailchimp "moved" <!channel> — naïve & co',
    {
        "run": 7,
        "diff": ["mailchimp: +ip4:205.201.128.0/20"],
        "networks": {ipaddress.ip_network("192.0.2.0/24")},
    },
    dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC),
)


def notifier(channels: list[dict[str, Any]], base_dir: Path, **options: Any) -> Notifier:
    config = NotificationsConfig.model_validate({"channels": channels, **options})
    return Notifier(config, base_dir, timeout=5.0, retries=1, backoff=0.0)


def email_channel(port: int, password_file: Path, **options: Any) -> dict[str, Any]:
    return {
        "kind": "email",
        "host": LOOPBACK,
        "port": port,
        "ca_file": "ca.pem",
        "username": USER,
        "password": f"file:{password_file}",
        "sender": "spfmanager <spf@example.com>",
        "recipients": ["ops@example.com", "Dns Team <dns@example.com>"],
        **options,
    }


def assert_no_secret(messages: list[str], caplog: pytest.LogCaptureFixture) -> None:
    """No secret, raw or base64, in the returned messages or in any client-side log record
    (aiosmtpd's own server log, 'mail.log', is the server's, not ours)."""
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    for text in [*messages, *logged]:
        for secret in SECRETS:
            assert secret not in text
            assert base64.b64encode(secret.encode()).decode().rstrip("=") not in text
        assert base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode() not in text


# -- configuration -----------------------------------------------------------------------------


def test_channels_are_told_apart_by_kind_and_default_to_every_event() -> None:
    config = NotificationsConfig.model_validate(
        {
            "channels": [
                {"kind": "slack", "url": "env:SLACK_URL", "channel": "#dns"},
                {
                    "kind": "email",
                    "host": "smtp.example.com",
                    "sender": "spf@example.com",
                    "recipients": ["ops@example.com"],
                },
                {
                    "kind": "email",
                    "host": "smtp.example.com",
                    "ssl": True,
                    "port": 465,
                    "sender": "spf@example.com",
                    "recipients": ["ops@example.com"],
                },
            ]
        }
    )
    slack, mail, implicit = config.channels
    assert isinstance(slack, SlackChannel)
    assert slack.events == tuple(EventKind)
    assert isinstance(mail, EmailChannel)
    assert (mail.port, mail.starttls, mail.ssl) == (587, True, False)
    assert isinstance(implicit, EmailChannel)
    assert (implicit.starttls, implicit.ssl) == (False, True)
    assert config.error_after == 3
    assert "env:SLACK_URL" in repr(config)


@pytest.mark.parametrize(
    ("channel", "problem"),
    [
        ({"kind": "slack", "url": "https://hooks.slack.com/services/T/B/x"}, "never inline"),
        ({"kind": "webhook", "url": "https://u:p@example.com/hook"}, "never inline"),
        (
            {"kind": "webhook", "url": "https://example.com", "headers": {"Authorization": "x"}},
            "carries a credential",
        ),
        ({"kind": "webhook", "url": "ftp://example.com/hook"}, "not an http"),
        ({"kind": "webhook", "url": "https://example.com", "events": []}, "at least 1"),
        ({"kind": "webhook", "url": "https://example.com", "events": ["sent"]}, "applied"),
        ({"kind": "pager", "url": "https://example.com"}, "webhook"),
        (
            {
                "kind": "email",
                "host": "h",
                "sender": "s@example.com",
                "recipients": ["r@x.org"],
                "ssl": True,
                "starttls": True,
            },
            "exclude each other",
        ),
        (
            {
                "kind": "email",
                "host": "h",
                "sender": "s@example.com",
                "recipients": ["r@x.org"],
                "username": "u",
            },
            "set both or neither",
        ),
        (
            {
                "kind": "email",
                "host": "h",
                "sender": "s@example.com",
                "recipients": ["r@x.org"],
                "starttls": False,
                "username": "u",
                "password": "env:P",
            },
            "in clear",
        ),
        (
            {
                "kind": "email",
                "host": "h",
                "sender": "s@example.com",
                "recipients": ["r@x.org"],
                "password": "hunter2",
                "username": "u",
            },
            "env:NAME",
        ),
        ({"kind": "email", "host": "h", "sender": "nobody", "recipients": ["r@x.org"]}, "mail"),
        ({"kind": "email", "host": "h", "sender": "s@example.com", "recipients": []}, "least 1"),
    ],
)
def test_bad_channels_are_refused_with_the_reason(channel: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NotificationsConfig.model_validate({"channels": [channel]})
    assert problem in str(caught.value)


def test_channel_names_are_unique() -> None:
    hook = {"kind": "webhook", "url": "https://example.com", "name": "ops"}
    with pytest.raises(ValidationError, match="unique"):
        NotificationsConfig.model_validate({"channels": [hook, hook]})


def test_error_and_recovery_alerts_fire_once_per_streak() -> None:
    assert [error_alert_due(n, 3) for n in range(1, 6)] == [False, False, True, False, False]
    assert not recovery_alert_due(2, 3)
    assert recovery_alert_due(3, 3)
    assert recovery_alert_due(9, 3)


# -- templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_kind_renders_with_every_bundled_template(
    kind: EventKind,
    http_server: _HTTPServer,
    smtp_server: SMTPFactory,
    certificates: Certificates,
    secrets: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_URL", f"{http_server.base}/slack")
    smtp = smtp_server()
    notify = notifier(
        [
            {"kind": "webhook", "url": f"{http_server.base}/hook"},
            {"kind": "slack", "url": "env:SLACK_URL", "channel": "#dns"},
            email_channel(smtp.port, secrets),
        ],
        certificates.directory,
    )
    assert notify.check() == []
    event = sample_event(kind)
    assert notify.send(event) == []
    (hook,) = http_server.received("/hook")
    assert hook.json["kind"] == str(kind)
    assert hook.json["details"] == dict(event.details)
    (slack,) = http_server.received("/slack")
    assert slack.json["channel"] == "#dns"
    text = slack.json["text"]
    (mail,) = smtp.handler.received
    subject, body = mail.message["Subject"], mail.message.get_content().replace("\r\n", "\n")
    assert subject == f"[spfmanager] example.com: {HEADLINES[kind]}"
    for rendered in (text, body):
        assert HEADLINES[kind] in rendered
        assert "example.com" in rendered
        for key, value in event.details.items():
            lines = [str(value)] if isinstance(value, int | str) else value
            assert (key in rendered) == bool(lines)  # empty lists are left out
            assert all(slack_escape(line) in rendered or line in rendered for line in lines)


def test_values_are_json_escaped_whatever_they_hold() -> None:
    value = {"q": 'a "quote" </script> \\ \n', "net": ipaddress.ip_network("10.0.0.0/8")}
    assert json.loads(to_json(value)) == {"q": value["q"], "net": "10.0.0.0/8"}
    assert (
        json.loads(to_json(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))) == "2025-01-01T00:00:00+00:00"
    )


def test_events_need_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Event(EventKind.HELD, "example.com", "x", {}, dt.datetime(2025, 1, 1))


def test_a_user_template_overrides_the_bundled_one(
    http_server: _HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = tmp_path / "notify-templates"
    overrides.mkdir()
    (overrides / "webhook.json.j2").write_text(
        '{"who": {{ domain | tojson }}, "run": {{ details.run }}, "what": {{ kind | tojson }}}\n'
    )
    monkeypatch.setenv("SLACK_URL", f"{http_server.base}/slack")
    notify = notifier(
        [
            {"kind": "webhook", "url": f"{http_server.base}/hook"},
            {"kind": "slack", "url": "env:SLACK_URL"},
        ],
        tmp_path,
        templates_dir="notify-templates",
    )
    assert notify.check() == []
    assert notify.send(EVENT) == []
    (hook,) = http_server.received("/hook")
    assert hook.json == {"who": "example.com", "run": 7, "what": "applied"}
    (slack,) = http_server.received("/slack")
    assert "text" in slack.json  # not overridden: still the bundled template


@pytest.mark.parametrize(
    ("template", "text", "expected"),
    [
        ("slack.json.j2", '{\n  "text": {{ summary | tojson }\n}\n', ", line 2: unexpected '}'"),
        ("slack.json.j2", '{\n\n  "text": {{ nosuch | tojson }}\n}\n', ", line 3: 'nosuch' is"),
        ("slack.json.j2", '{"text": {{ summary }}}\n', "rendered invalid JSON"),
        ("slack.json.j2", "{{ ''.__class__.__mro__ }}\n", ", line 1: access to attribute"),
        ("slack.json.j2", "[1, 2]\n", "must render a JSON object"),
        ("email_body.txt.j2", "Hello\n{% for x in %}\n", ", line 2:"),
        ("email_subject.txt.j2", "{{ details.nosuch.deeper }}", ", line 1:"),
    ],
)
def test_a_broken_override_is_a_clean_message_naming_file_and_line(
    template: str,
    text: str,
    expected: str,
    http_server: _HTTPServer,
    smtp_server: SMTPFactory,
    certificates: Certificates,
    secrets: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / template).write_text(text)
    monkeypatch.setenv("SLACK_URL", f"{http_server.base}/slack")
    smtp = smtp_server()
    notify = notifier(
        [
            {"kind": "webhook", "url": f"{http_server.base}/hook"},
            {"kind": "slack", "url": "env:SLACK_URL", "name": "chat"},
            email_channel(smtp.port, secrets, name="mail", ca_file=str(certificates.ca)),
        ],
        tmp_path,
        templates_dir="templates",
    )
    problems = notify.send(EVENT)
    (problem,) = problems
    assert problem.startswith("slack 'chat': " if template.startswith("slack") else "email 'mail'")
    assert f"template {overrides / template}" in problem
    assert expected in problem
    assert "Traceback" not in problem
    assert len(http_server.received("/hook")) == 1  # the other channels still got theirs
    assert bool(http_server.received("/slack")) != template.startswith("slack")
    assert len(smtp.handler.received) == (0 if template.startswith("email") else 1)
    assert any(expected in p for p in notify.check())


def test_a_template_that_overrides_nothing_is_reported(tmp_path: Path) -> None:
    (tmp_path / "slack.j2").write_text("{}")
    notify = notifier([], tmp_path, templates_dir=".")
    (problem,) = notify.check()
    assert "slack.j2: overrides no template" in problem
    assert all(name in problem for name in TEMPLATES)


def test_a_missing_templates_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="templates_dir"):
        notifier([], tmp_path, templates_dir="nowhere")


# -- delivery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_mail_arrives_over_starttls_with_auth(
    mechanism: str, smtp_server: SMTPFactory, certificates: Certificates, secrets: Path
) -> None:
    smtp = smtp_server(mechanisms=(mechanism,))
    notify = notifier([email_channel(smtp.port, secrets)], certificates.directory)
    assert notify.send(EVENT) == []
    (mail,) = smtp.handler.received
    assert mail.tls
    assert mail.login == USER.encode()
    assert mail.envelope.mail_from == "spf@example.com"
    assert mail.envelope.rcpt_tos == ["ops@example.com", "dns@example.com"]
    message = mail.message
    assert message["Subject"] == "[spfmanager] example.com: SPF change applied"
    assert message["X-Spfmanager-Event"] == "applied"
    body = message.get_content().replace("\r\n", "\n")
    assert body.startswith("SPF change applied for example.com\n")
    assert EVENT.summary in body
    assert "    mailchimp: +ip4:205.201.128.0/20\n" in body
    assert "2025-06-01T12:00:00+00:00" in body


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_mail_arrives_over_implicit_tls(
    smtp_server: SMTPFactory, certificates: Certificates, secrets: Path
) -> None:
    smtp = smtp_server(implicit_tls=True)
    channel = email_channel(smtp.port, secrets, ssl=True)
    assert notifier([channel], certificates.directory).send(sample_event(EventKind.HELD)) == []
    (mail,) = smtp.handler.received
    assert mail.message["Subject"] == "[spfmanager] example.com: SPF change held for approval"


def test_an_untrusted_certificate_stops_before_the_password_is_sent(
    smtp_server: SMTPFactory,
    certificates: Certificates,
    secrets: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    smtp = smtp_server()
    channel = email_channel(smtp.port, secrets)
    del channel["ca_file"]  # the system's CAs do not know the test CA
    (problem,) = notifier([channel], certificates.directory).send(EVENT)
    assert problem.startswith(f"email #1: SMTP {LOOPBACK}:{smtp.port}: TLS certificate not trusted")
    assert "attempts" not in problem  # not retried: it will not get better
    assert smtp.handler.received == []
    assert_no_secret([problem], caplog)


def test_a_webhook_body_is_json_with_the_event_fields(
    http_server: _HTTPServer, tmp_path: Path, secrets: Path
) -> None:
    notify = notifier(
        [
            {
                "kind": "webhook",
                "url": f"{http_server.base}/hook",
                "headers": {"Authorization": "env:HOOK_TOKEN", "X-Team": "dns"},
            }
        ],
        tmp_path,
    )
    assert notify.send(EVENT) == []
    (hook,) = http_server.received("/hook")
    assert hook.headers["Content-Type"] == "application/json"
    assert hook.headers["Authorization"] == f"Bearer {HEADER_TOKEN}"
    assert hook.headers["X-Team"] == "dns"
    assert hook.json == {
        "source": "spfmanager",
        "version": hook.json["version"],
        "kind": "applied",
        "domain": "example.com",
        "headline": "SPF change applied",
        "summary": EVENT.summary,
        "at": "2025-06-01T12:00:00+00:00",
        "details": {
            "run": 7,
            "diff": ["mailchimp: +ip4:205.201.128.0/20"],
            "networks": ["192.0.2.0/24"],
        },
    }
    assert hook.json == {
        **EVENT.data,
        **{k: hook.json[k] for k in ("source", "version", "headline")},
    }


def test_a_slack_body_has_text_with_event_text_escaped(
    http_server: _HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_URL", f"{http_server.base}/services/T1/B2/{SLACK_TOKEN}")
    notify = notifier([{"kind": "slack", "url": "env:SLACK_URL"}], tmp_path)
    assert notify.send(EVENT) == []
    (slack,) = http_server.received("/services/")
    assert set(slack.json) == {"text"}
    text = slack.json["text"]
    assert text.startswith(":white_check_mark: *example.com*: SPF change applied\n")
    assert 'mailchimp "moved" &lt;!channel&gt; — naïve &amp; co' in text
    assert "<!channel>" not in text


def test_the_events_filter_picks_the_channels(http_server: _HTTPServer, tmp_path: Path) -> None:
    notify = notifier(
        [
            {"kind": "webhook", "url": f"{http_server.base}/all"},
            {"kind": "webhook", "url": f"{http_server.base}/trouble", "events": ["held", "error"]},
        ],
        tmp_path,
    )
    for kind in EventKind:
        assert notify.send(sample_event(kind)) == []
    assert [r.json["kind"] for r in http_server.received("/all")] == [str(k) for k in EventKind]
    assert [r.json["kind"] for r in http_server.received("/trouble")] == ["held", "error"]


def test_an_unreachable_channel_does_not_stop_the_others(
    http_server: _HTTPServer,
    smtp_server: SMTPFactory,
    certificates: Certificates,
    secrets: Path,
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_URL", f"{http_server.base}/slack")
    smtp = smtp_server()
    notify = notifier(
        [
            {"kind": "webhook", "url": f"http://{LOOPBACK}:{closed_port}/hook", "name": "down"},
            email_channel(closed_port, secrets, name="mail-down"),
            {"kind": "slack", "url": "env:SLACK_URL"},
            email_channel(smtp.port, secrets),
        ],
        certificates.directory,
    )
    problems = notify.send(EVENT)
    assert problems == [
        f"webhook 'down': POST to http://{LOOPBACK}:{closed_port} failed: connection refused "
        "(after 2 attempts)",
        f"email 'mail-down': SMTP {LOOPBACK}:{closed_port}: connection refused (after 2 attempts)",
    ]
    assert len(http_server.received("/slack")) == 1
    assert len(smtp.handler.received) == 1


def test_transient_http_failures_are_retried_and_others_are_not(
    http_server: _HTTPServer, tmp_path: Path
) -> None:
    notify = notifier(
        [
            {"kind": "webhook", "url": f"{http_server.base}/flaky"},
            {"kind": "webhook", "url": f"{http_server.base}/missing"},
            {"kind": "webhook", "url": f"{http_server.base}/redirect"},
        ],
        tmp_path,
    )
    problems = notify.send(EVENT)
    assert len(http_server.received("/flaky")) == 2  # 503, then delivered
    assert problems == [
        f"webhook #2: POST to {http_server.base} failed: HTTP 404 Not Found: no_service",
        f"webhook #3: POST to {http_server.base} failed: HTTP 302 Found: moved "
        "(redirects are not followed)",
    ]
    assert len(http_server.received("/missing")) == 1
    assert http_server.received("/elsewhere") == []


def test_no_secret_in_messages_or_logs_even_when_servers_echo_them(
    http_server: _HTTPServer,
    smtp_server: SMTPFactory,
    certificates: Certificates,
    secrets: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SLACK_URL", f"{http_server.base}/echo/services/T1/B2/{SLACK_TOKEN}")
    monkeypatch.setenv("HOOK_URL", f"{http_server.base}/echo/hook?token={URL_TOKEN}")
    smtp = smtp_server(authenticator=_echo_password)
    plain = smtp_server(mechanisms=("PLAIN",), authenticator=_echo_password)
    notify = notifier(
        [
            {"kind": "slack", "url": "env:SLACK_URL"},
            {"kind": "webhook", "url": "env:HOOK_URL", "headers": {"X-Api-Key": "env:HOOK_TOKEN"}},
            {
                "kind": "webhook",
                "url": f"{http_server.base}/echo/plain",
                "headers": {"Authorization": "env:HOOK_TOKEN"},
            },
            email_channel(smtp.port, secrets, name="login"),
            email_channel(plain.port, secrets, name="plain"),
        ],
        certificates.directory,
    )
    problems = notify.send(EVENT)
    assert len(problems) == 5
    assert len(http_server.received("/echo")) == 6  # the secrets did reach the servers (and back)
    for problem in problems[:3]:
        assert "HTTP 500" in problem
        assert "***" in problem  # the echoed secrets, scrubbed
        assert "(after 2 attempts)" in problem
    assert problems[3].startswith(f"email 'login': SMTP {LOOPBACK}:{smtp.port}: authentication")
    assert "***" in problems[3]
    assert "***" in problems[4]
    warnings = [r for r in caplog.records if r.name == "spfmanager.daemon.notify"]
    assert len(warnings) == 5
    assert_no_secret(problems, caplog)


def test_a_missing_secret_is_a_clean_message(
    http_server: _HTTPServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notify = notifier(
        [
            {"kind": "slack", "url": "env:SPFMANAGER_TEST_UNSET_SLACK_URL"},
            {"kind": "webhook", "url": f"{http_server.base}/hook"},
        ],
        tmp_path,
    )
    assert notify.send(EVENT) == [
        "slack #1: secret env:SPFMANAGER_TEST_UNSET_SLACK_URL: environment variable "
        "SPFMANAGER_TEST_UNSET_SLACK_URL is not set"
    ]
    assert len(http_server.received("/hook")) == 1
    assert "not delivered" in caplog.text
