"""Alerts: render an :class:`Event` with jinja2 templates and deliver it to every channel.

:class:`Notifier` ``(config, base_dir)`` holds the ``notifications:`` section of a config;
:meth:`Notifier.send` renders the event for each channel whose ``events`` include its kind
and delivers it — a JSON POST for ``webhook`` and ``slack`` channels, a mail over SMTP for
``email`` channels — all channels at once, each with a timeout and bounded retries.

Templates: the bundled ones live in ``spfmanager/templates/notify/`` (:data:`TEMPLATES`);
a file of the same name in ``templates_dir`` (relative to ``base_dir``) replaces one. They
render in an immutable sandbox, with ``StrictUndefined`` and no autoescaping; JSON bodies
put every value through the ``tojson`` filter and must render valid JSON.

Failures never raise: :meth:`Notifier.send` returns (and logs) one message per channel that
was not delivered, naming the channel and the cause — a template's file and line, an HTTP
status, an SMTP reply, a refused connection. Secrets (a Slack or secret webhook URL, header
values given as secret references, the SMTP password) are read only while sending, and
every message is scrubbed of them, in their URL-, JSON- and base64-encoded forms too, even
when a server echoes them back.
"""

from __future__ import annotations

import http.client
import json
import logging
import smtplib
import socket
import ssl
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from enum import Enum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

from spfmanager import __version__
from spfmanager.config.notifications import (
    EmailChannel,
    EventKind,
    NotificationsConfig,
    SlackChannel,
    WebhookChannel,
    channel_label,
)
from spfmanager.config.secret import Secret
from spfmanager.errors import ConfigError, secret_forms

__all__ = [
    "EMAIL_BODY_TEMPLATE",
    "EMAIL_SUBJECT_TEMPLATE",
    "HEADLINES",
    "SLACK_TEMPLATE",
    "TEMPLATES",
    "WEBHOOK_TEMPLATE",
    "Event",
    "EventKind",
    "Notifier",
    "error_alert_due",
    "recovery_alert_due",
    "sample_event",
    "slack_escape",
    "to_json",
]

log = logging.getLogger(__name__)

WEBHOOK_TEMPLATE = "webhook.json.j2"
SLACK_TEMPLATE = "slack.json.j2"
EMAIL_SUBJECT_TEMPLATE = "email_subject.txt.j2"
EMAIL_BODY_TEMPLATE = "email_body.txt.j2"
TEMPLATES = (WEBHOOK_TEMPLATE, SLACK_TEMPLATE, EMAIL_SUBJECT_TEMPLATE, EMAIL_BODY_TEMPLATE)

HEADLINES: Mapping[EventKind, str] = MappingProxyType(
    {
        EventKind.APPLIED: "SPF change applied",
        EventKind.HELD: "SPF change held for approval",
        EventKind.ERROR: "SPF updates failing",
        EventKind.RECOVERED: "SPF updates recovered",
    }
)

TIMEOUT = 10.0  # seconds, per connection attempt
RETRIES = 2  # further attempts after a transient failure
BACKOFF = 1.0  # seconds before the first retry, doubled for each next one
MAX_WORKERS = 8  # channels delivered at once
SCRUBBED = "***"
_MAX_REPLY = 4096  # bytes of an error response read for its message
_MAX_SNIPPET = 200  # characters of it quoted


@dataclass(frozen=True, slots=True)
class Event:
    """Something the daemon reports about one domain.

    ``details`` holds what the templates may show; the daemon fills ``run`` (run id),
    ``diff`` (address-level changes, one line per service and range), ``changes`` (the DNS
    changes applied), ``reasons`` (why a change was held), ``error`` and ``failures`` (the
    failure streak) — see docs/notifications.md. ``at`` must be timezone-aware.
    """

    kind: EventKind
    domain: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("Event.at must be timezone-aware")

    @property
    def data(self) -> dict[str, Any]:
        """The event as JSON-ready data (``details`` values as :func:`to_json` renders them)."""
        return {
            "kind": str(self.kind),
            "domain": self.domain,
            "summary": self.summary,
            "details": json.loads(to_json(self.details)),
            "at": self.at.isoformat(),
        }


def error_alert_due(failures_in_a_row: int, error_after: int) -> bool:
    """Whether the run that made a domain's failure streak ``failures_in_a_row`` long sends
    the ``error`` alert: once per streak, on the run where it reaches ``error_after``."""
    return failures_in_a_row == error_after


def recovery_alert_due(failures_before: int, error_after: int) -> bool:
    """Whether a successful run ending a streak of ``failures_before`` failures sends the
    ``recovered`` alert: only when that streak was alerted."""
    return failures_before >= error_after


# -- templates ------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, IPv4Address | IPv6Address | IPv4Network | IPv6Network):
        return str(value)  # before Iterable: a network iterates over its addresses
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return list(value)
    return str(value)


def to_json(value: Any) -> str:
    """``value`` as a JSON literal (the ``tojson`` filter): any string is escaped, and values
    JSON lacks (datetimes, enums, sets, addresses) become strings or lists."""
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def slack_escape(value: Any) -> str:
    """``value`` as Slack mrkdwn text: ``&``, ``<`` and ``>`` escaped, so event text cannot
    ping ``<!channel>`` or smuggle in a link (the ``slack_escape`` filter)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _environment(templates_dir: Path | None) -> ImmutableSandboxedEnvironment:
    loaders: list[BaseLoader] = [PackageLoader("spfmanager", "templates/notify")]
    if templates_dir is not None:
        loaders.insert(0, FileSystemLoader(templates_dir))
    # Sandboxed: templates_dir holds the operator's own templates, possibly from a shared
    # repository. Autoescape off: JSON and plain text, escaped by their own filters.
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tojson"] = to_json
    env.filters["slack_escape"] = slack_escape
    return env


class _Failure(Exception):
    """One delivery attempt failed; ``retry`` when another attempt may succeed."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        self.retry = retry
        super().__init__(message)


def _template_line(exc: BaseException, filename: str | None) -> int | None:
    """The template line a render error happened on (jinja2 maps its frames to them)."""
    if filename is None:
        return None
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return frames[-1].lineno if frames else None


# -- secrets --------------------------------------------------------------------------------


class _Scrubber:
    """The secrets one delivery revealed, to replace with ``***`` in whatever it reports."""

    def __init__(self) -> None:
        self._forms: set[str] = set()

    def add(self, secret: str) -> None:
        if secret:
            self._forms |= secret_forms(secret)
        # "Bearer <token>", "Basic <credentials>": a server may echo the token alone.
        scheme, _, token = secret.partition(" ")
        if scheme and len(token) >= 8:
            self._forms |= secret_forms(token)

    def add_url(self, url: str) -> None:
        """A URL that is a credential: it, and the parts of it a server may echo."""
        self.add(url)
        parts = urllib.parse.urlsplit(url)
        pieces = [parts.netloc + parts.path, parts.path, parts.query]
        if parts.query:
            pieces.append(f"{parts.path}?{parts.query}")
        pieces += [s for s in parts.path.split("/") if len(s) >= 12]
        pieces += [v for _, v in urllib.parse.parse_qsl(parts.query) if len(v) >= 4]
        for piece in pieces:
            if piece not in ("", "/"):
                self.add(piece)

    def reveal(self, secret: Secret, *, url: bool = False) -> str:
        """The value of ``secret``, registered; a missing one is a clean failure."""
        try:
            value = secret.reveal()
        except ConfigError as exc:
            raise _Failure(f"secret {secret.reference}: {exc}") from None
        if url:
            self.add_url(value)
        else:
            self.add(value)
        return value

    def scrub(self, text: str) -> str:
        for form in sorted(self._forms, key=len, reverse=True):
            text = text.replace(form, SCRUBBED)
        return text

    def quote(self, text: str) -> str:
        """A server's reply for a message: one line, scrubbed, then cut (cutting first could
        leave a secret's prefix that no longer matches)."""
        text = self.scrub(" ".join(self.scrub(text).split()))  # a secret may hold spaces
        return text if len(text) <= _MAX_SNIPPET else text[: _MAX_SNIPPET - 1] + "…"


# -- transports -----------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured; following it would carry the body and the
    headers (credentials) to wherever the redirect points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    # Only http and https: a secret URL must never become a file:// or ftp:// read.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _NoRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _network_reason(reason: object, timeout: float) -> _Failure:
    """A clean failure for a socket or TLS error (or urllib's reason string)."""
    if isinstance(reason, ssl.SSLCertVerificationError):
        return _Failure(f"TLS certificate not trusted: {reason.verify_message}")
    if isinstance(reason, ssl.SSLError):
        return _Failure(f"TLS failed: {reason.reason or reason}")
    if isinstance(reason, TimeoutError):
        return _Failure(f"no answer within {timeout:g} s", retry=True)
    if isinstance(reason, ConnectionRefusedError):
        return _Failure("connection refused", retry=True)
    if isinstance(reason, socket.gaierror):
        return _Failure(f"cannot resolve the host: {reason.strerror}", retry=True)
    if isinstance(reason, OSError):
        return _Failure(reason.strerror or str(reason) or type(reason).__name__, retry=True)
    return _Failure(str(reason), retry=True)


def _reply_snippet(exc: urllib.error.HTTPError, scrubber: _Scrubber) -> str:
    try:
        raw = exc.read(_MAX_REPLY)
    except (OSError, http.client.HTTPException):
        return ""
    return scrubber.quote(raw.decode("utf-8", "replace"))


def _smtp_reply(code: int, reply: bytes | str, scrubber: _Scrubber) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return scrubber.quote(f"{code} {text}")


def _address(mailbox: str) -> str:
    return parseaddr(mailbox)[1]


class Notifier:
    """Sends events to the channels of a ``notifications:`` config section.

    ``base_dir`` is the config file's directory: ``templates_dir`` and an e-mail channel's
    ``ca_file`` are relative to it. ``timeout`` (seconds per attempt), ``retries`` (further
    attempts after a transient failure: refused or cut connection, timeout, HTTP 429 or 5xx,
    SMTP 4xx) and ``backoff`` (seconds before the first retry, doubled after) bound the time
    one channel may take. A ``templates_dir`` that is not a directory is a ConfigError.
    """

    def __init__(
        self,
        config: NotificationsConfig,
        base_dir: Path,
        *,
        timeout: float = TIMEOUT,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
    ) -> None:
        self.config = config
        self.base_dir = Path(base_dir)
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.templates_dir: Path | None = None
        if config.templates_dir is not None:
            self.templates_dir = (self.base_dir / config.templates_dir).expanduser()
            if not self.templates_dir.is_dir():
                raise ConfigError(
                    [f"notifications.templates_dir: {self.templates_dir} is not a directory"]
                )
        self._env = _environment(self.templates_dir)
        self._opener = _opener()

    # -- public API ---------------------------------------------------------------------

    def send(self, event: Event) -> list[str]:
        """Deliver ``event`` to every channel that takes its kind, all at once.

        Returns one message per channel that failed (an empty list: all delivered); each is
        logged too. Never raises for a failed delivery, and no message holds a secret.
        """
        targets = [
            (index, channel)
            for index, channel in enumerate(self.config.channels)
            if channel.receives(event.kind)
        ]
        if not targets:
            return []
        workers = min(len(targets), MAX_WORKERS)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify") as pool:
            outcomes = list(pool.map(lambda target: self._deliver(event, *target), targets))
        return [message for message in outcomes if message is not None]

    def check(self) -> list[str]:
        """Render every template for a sample event of every kind: the problems found (a
        template that fails, JSON that does not parse, a ``templates_dir`` file that
        overrides nothing). For the daemon's start, before any event is due."""
        problems: list[str] = []
        for name in TEMPLATES:
            for kind in EventKind:  # the first failure of each template
                try:
                    self._render(name, self._context(sample_event(kind), slack_channel="#dns"))
                except _Failure as failure:
                    problems.append(f"{failure} (rendering a sample {kind} event)")
                    break
        if self.templates_dir is not None:
            problems += [
                f"{path}: overrides no template (the templates are {', '.join(TEMPLATES)})"
                for path in sorted(self.templates_dir.glob("*.j2"))
                if path.name not in TEMPLATES
            ]
        return problems

    # -- rendering ----------------------------------------------------------------------

    def _context(self, event: Event, *, slack_channel: str | None = None) -> dict[str, Any]:
        return {
            "event": event.data,
            "kind": str(event.kind),
            "domain": event.domain,
            "summary": event.summary,
            "details": dict(event.details),  # a copy: templates cannot change the event
            "at": event.at,
            "timestamp": event.at.isoformat(),
            "headline": HEADLINES[event.kind],
            "slack_channel": slack_channel,
            "version": __version__,
        }

    def _describe(self, name: str) -> str:
        """How messages name template ``name``: the override's path, or the bundled name."""
        if self.templates_dir is not None and (self.templates_dir / name).is_file():
            return f"template {self.templates_dir / name}"
        return f"bundled template {name}"

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render template ``name``; a broken one is a failure naming its file and line."""
        try:
            template = self._env.get_template(name)
        except TemplateSyntaxError as exc:
            raise _Failure(f"{self._describe(name)}, line {exc.lineno}: {exc.message}") from None
        except (TemplateError, OSError, UnicodeDecodeError) as exc:
            raise _Failure(f"{self._describe(name)}: cannot be read: {exc}") from None
        try:
            text = template.render(context)
        except Exception as exc:  # any error of a user's template: undefined, type, sandbox
            line = _template_line(exc, template.filename)
            at = f", line {line}" if line is not None else ""
            detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            raise _Failure(f"{self._describe(name)}{at}: {detail}") from None
        if name.endswith(".json.j2"):
            try:
                body = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _Failure(
                    f"{self._describe(name)} rendered invalid JSON: {exc.msg} at "
                    f"line {exc.lineno} column {exc.colno} of its output"
                ) from None
            if not isinstance(body, dict):
                raise _Failure(f"{self._describe(name)} must render a JSON object")
        return text

    # -- delivery -----------------------------------------------------------------------

    def _deliver(
        self, event: Event, index: int, channel: WebhookChannel | SlackChannel | EmailChannel
    ) -> str | None:
        label = channel_label(channel, index)
        scrubber = _Scrubber()
        try:
            if isinstance(channel, EmailChannel):
                self._send_email(event, channel, scrubber)
            elif isinstance(channel, SlackChannel):
                self._send_slack(event, channel, scrubber)
            else:
                self._send_webhook(event, channel, scrubber)
        except _Failure as failure:
            message = scrubber.scrub(f"{label}: {failure}")
        except Exception as exc:  # a bug must not stop the other channels, nor leak
            message = scrubber.scrub(f"{label}: unexpected {type(exc).__name__}: {exc}")
        else:
            log.info("notification %s for %s delivered to %s", event.kind, event.domain, label)
            return None
        log.warning("notification %s for %s not delivered: %s", event.kind, event.domain, message)
        return message

    def _attempts(self, call: Callable[[], None]) -> None:
        """``call()``, retried after transient failures, at most ``1 + retries`` times."""
        attempt = 0
        while True:
            attempt += 1
            try:
                call()
                return
            except _Failure as failure:
                if not failure.retry or attempt > self.retries:
                    tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                    raise _Failure(f"{failure}{tries}") from None
            time.sleep(self.backoff * 2 ** (attempt - 1))

    def _send_webhook(self, event: Event, channel: WebhookChannel, scrubber: _Scrubber) -> None:
        body = self._render(WEBHOOK_TEMPLATE, self._context(event))
        headers: dict[str, str] = {}
        for name, value in channel.headers.items():
            text = scrubber.reveal(value) if isinstance(value, Secret) else value
            if "\r" in text or "\n" in text:
                raise _Failure(f"header {name}: its secret value holds a line break")
            headers[name] = text
        if isinstance(channel.url, Secret):
            self._post(scrubber.reveal(channel.url, url=True), body, headers, scrubber, shown=False)
        else:
            self._post(channel.url, body, headers, scrubber, shown=True)

    def _send_slack(self, event: Event, channel: SlackChannel, scrubber: _Scrubber) -> None:
        body = self._render(SLACK_TEMPLATE, self._context(event, slack_channel=channel.channel))
        self._post(scrubber.reveal(channel.url, url=True), body, {}, scrubber, shown=False)

    def _post(
        self,
        url: str,
        body: str,
        headers: Mapping[str, str],
        scrubber: _Scrubber,
        *,
        shown: bool,
    ) -> None:
        """POST ``body`` as JSON; ``shown`` when messages may name the URL's origin."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Failure("the webhook URL is not an http:// or https:// URL")
        target = f" to {parts.scheme}://{parts.netloc}" if shown else ""
        request = urllib.request.Request(
            url,
            data=body.encode("utf-8"),
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"spfmanager/{__version__}",
                **headers,
            },
            method="POST",
        )

        def post() -> None:
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    response.read(_MAX_REPLY)
            except urllib.error.HTTPError as exc:
                snippet = _reply_snippet(exc, scrubber)
                reason = f"HTTP {exc.code} {exc.reason}" + (f": {snippet}" if snippet else "")
                if 300 <= exc.code < 400:
                    reason += " (redirects are not followed)"
                raise _Failure(
                    f"POST{target} failed: {reason}", retry=exc.code == 429 or exc.code >= 500
                ) from None
            except urllib.error.URLError as exc:
                failure = _network_reason(exc.reason, self.timeout)
                raise _Failure(f"POST{target} failed: {failure}", retry=failure.retry) from None
            except http.client.HTTPException as exc:
                raise _Failure(
                    f"POST{target} failed: bad HTTP response ({type(exc).__name__})", retry=True
                ) from None
            except OSError as exc:
                failure = _network_reason(exc, self.timeout)
                raise _Failure(f"POST{target} failed: {failure}", retry=failure.retry) from None
            except ValueError as exc:  # http.client.InvalidURL: a bad character in the URL
                raise _Failure(f"POST{target} failed: {exc}") from None

        self._attempts(post)

    def _send_email(self, event: Event, channel: EmailChannel, scrubber: _Scrubber) -> None:
        context = self._context(event)
        subject = " ".join(self._render(EMAIL_SUBJECT_TEMPLATE, context).split())
        body = self._render(EMAIL_BODY_TEMPLATE, context)
        password: str | None = None
        if channel.password is not None:
            password = scrubber.reveal(channel.password)
            # AUTH PLAIN and LOGIN send these base64 blobs: a server may echo them.
            scrubber.add(f"\0{channel.username}\0{password}")
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = channel.sender
        message["To"] = ", ".join(channel.recipients)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=_address(channel.sender).rpartition("@")[2])
        message["X-Spfmanager-Event"] = str(event.kind)
        message["X-Spfmanager-Domain"] = event.domain
        message.set_content(body)
        ca_file = None if channel.ca_file is None else self.base_dir / channel.ca_file
        try:
            tls = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise _Failure(f"ca_file {ca_file}: {getattr(exc, 'strerror', None) or exc}") from None
        self._attempts(lambda: self._smtp(channel, message, password, tls, scrubber))

    def _smtp(
        self,
        channel: EmailChannel,
        message: EmailMessage,
        password: str | None,
        tls: ssl.SSLContext,
        scrubber: _Scrubber,
    ) -> None:
        where = f"SMTP {channel.host}:{channel.port}"
        recipients = [_address(r) for r in channel.recipients]
        try:
            smtp = (
                smtplib.SMTP_SSL(channel.host, channel.port, timeout=self.timeout, context=tls)
                if channel.ssl
                else smtplib.SMTP(channel.host, channel.port, timeout=self.timeout)
            )
            with smtp:
                smtp.ehlo()
                if channel.starttls:
                    smtp.starttls(context=tls)
                    smtp.ehlo()
                if channel.username is not None and password is not None:
                    smtp.login(channel.username, password)
                refused = smtp.send_message(
                    message, from_addr=_address(channel.sender), to_addrs=recipients
                )
        except smtplib.SMTPAuthenticationError as exc:
            reply = _smtp_reply(exc.smtp_code, exc.smtp_error, scrubber)
            raise _Failure(f"{where}: authentication failed: {reply}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            replies = "; ".join(
                f"{rcpt}: {_smtp_reply(code, reply, scrubber)}"
                for rcpt, (code, reply) in exc.recipients.items()
            )
            temporary = all(400 <= code < 500 for code, _ in exc.recipients.values())
            raise _Failure(
                f"{where}: every recipient refused: {replies}", retry=temporary
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise _Failure(
                f"{where}: {_smtp_reply(exc.smtp_code, exc.smtp_error, scrubber)}",
                retry=400 <= exc.smtp_code < 500,
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise _Failure(
                f"{where}: the server closed the connection ({exc})", retry=True
            ) from None
        except smtplib.SMTPException as exc:
            raise _Failure(f"{where}: {exc}") from None
        except OSError as exc:
            failure = _network_reason(exc, self.timeout)
            raise _Failure(f"{where}: {failure}", retry=failure.retry) from None
        if refused:
            replies = "; ".join(
                f"{rcpt}: {_smtp_reply(code, reply, scrubber)}"
                for rcpt, (code, reply) in refused.items()
            )
            # Not retried: the others have their copy already.
            raise _Failure(f"{where}: delivered, but these recipients were refused: {replies}")


def sample_event(kind: EventKind) -> Event:
    """A representative event of ``kind``, with the ``details`` keys the daemon fills (for
    :meth:`Notifier.check`, tests and trying out templates)."""
    applied = kind is EventKind.APPLIED
    details: dict[str, Any] = {
        "run": 42,
        "diff": ["- mailchimp 198.2.128.0/18", "+ mailchimp 205.201.128.0/20"] if applied else [],
        "changes": ["create _spf1-3f9a2c.example.com", "update example.com"] if applied else [],
    }
    if kind is EventKind.HELD:
        details["diff"] = ["- mailchimp 198.2.128.0/18", "- mailchimp 205.201.128.0/20"]
        details["reasons"] = ["mailchimp would lose 100 % of its addresses (at most 50 %)"]
    if kind is EventKind.ERROR:
        details |= {"error": "upstream DNS timeout: servers.mcsv.net", "failures": 3}
    if kind is EventKind.RECOVERED:
        details["failures"] = 3
    summaries = {
        EventKind.APPLIED: "2 change(s) applied",
        EventKind.HELD: "held until 'spfmanager approve example.com': mailchimp lost its addresses",
        EventKind.ERROR: "upstream DNS timeout: servers.mcsv.net",
        EventKind.RECOVERED: "in sync",
    }
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Event(kind, "example.com", summaries[kind], details, at)
