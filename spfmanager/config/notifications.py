"""The ``notifications:`` section of ``spfmanager.yaml``: where the daemon sends its alerts.

Each channel is one of three kinds, told apart by ``kind`` (docs/notifications.md):

``webhook``  a JSON POST to ``url``, with optional ``headers``;
``slack``    a Slack-compatible incoming webhook; its URL *is* the credential, so it is a
             :class:`~spfmanager.config.secret.Secret` reference, never inline;
``email``    a mail over SMTP: STARTTLS (default) or implicit TLS, AUTH when ``username``.

Every channel takes ``events`` (default: all four :class:`EventKind` values) and an optional
``name`` used in messages and logs. Secrets stay references here; the daemon reveals them
only when it sends.
"""

from __future__ import annotations

import urllib.parse
from email.utils import parseaddr
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from spfmanager.config.secret import Secret


class EventKind(StrEnum):
    """What happened to a domain's record, as the daemon reports it."""

    APPLIED = "applied"  # a changed record set was published
    HELD = "held"  # a change was held by a guard, waiting for `spfmanager approve`
    ERROR = "error"  # the domain failed ``error_after`` runs in a row
    RECOVERED = "recovered"  # a run succeeded after an error alert


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Header names that carry credentials: their values must be secret references.
_CREDENTIAL_HEADERS = ("authorization", "cookie")
_CREDENTIAL_WORDS = ("token", "secret", "key", "auth", "password", "signature", "session")
_HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"  # RFC 9110 5.1 token


def _http_url(value: str) -> str:
    """A plain http(s) URL with a host and no user:password part."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError(
            "http_url", "{value} is not an http:// or https:// URL", {"value": repr(value)}
        )
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError(
            "inline_credential",
            "the URL carries a user name or password: write the whole URL as "
            "'env:VARIABLE' or 'file:PATH', never inline",
        )
    return value


def _slack_url(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, Secret) and "://" in value:
        raise PydanticCustomError(
            "inline_credential",
            "a Slack webhook URL is its own credential: write it as 'env:VARIABLE' or "
            "'file:PATH', never inline",
        )
    return value


def _mailbox(value: str) -> str:
    """An address, optionally with a display name: ``Ops <ops@example.com>``."""
    _, address = parseaddr(value)
    if "\r" in value or "\n" in value or "@" not in address or " " in address:
        raise PydanticCustomError(
            "mail_address", "{value} is not a mail address", {"value": repr(value)}
        )
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Mailbox = Annotated[str, AfterValidator(_mailbox)]
HeaderValue = Annotated[
    Secret | Annotated[str, StringConstraints(pattern=r"^[^\r\n]*$")],
    Field(union_mode="left_to_right"),
]
Events = Annotated[
    tuple[EventKind, ...],
    Field(min_length=1, description="The events this channel receives (default: all)"),
]
Port = Annotated[int, Strict(), Field(ge=1, le=65535)]
ChannelName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$"),
    Field(description="Names the channel in messages and logs"),
]


class _Channel(_Model):
    name: ChannelName | None = None
    events: Events = tuple(EventKind)

    @field_validator("events")
    @classmethod
    def _unique(cls, events: tuple[EventKind, ...]) -> tuple[EventKind, ...]:
        return tuple(dict.fromkeys(events))

    def receives(self, kind: EventKind) -> bool:
        return kind in self.events


class WebhookChannel(_Channel):
    """A JSON POST of every event (body: the ``webhook.json.j2`` template)."""

    kind: Literal["webhook"]
    url: Annotated[Secret | HttpUrl, Field(union_mode="left_to_right")] = Field(
        description="http(s) URL, or a secret reference when the URL holds a token"
    )
    headers: dict[Annotated[str, StringConstraints(pattern=_HEADER_NAME)], HeaderValue] = Field(
        default={}, description="Extra request headers; credentials as secret references"
    )

    @model_validator(mode="after")
    def _credentials_by_reference(self) -> Self:
        for name, value in self.headers.items():
            lowered = name.lower()
            credential = lowered in _CREDENTIAL_HEADERS or any(
                w in lowered for w in _CREDENTIAL_WORDS
            )
            if credential and not isinstance(value, Secret):
                raise ValueError(
                    f"header {name!r} carries a credential: write it as 'env:VARIABLE' or "
                    "'file:PATH', never inline"
                )
        return self


class SlackChannel(_Channel):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat...)."""

    kind: Literal["slack"]
    url: Annotated[Secret, Field(description="The webhook URL, as a secret reference")]
    channel: Annotated[str, StringConstraints(pattern=r"^[#@]?[A-Za-z0-9_.-]{1,80}$")] | None = (
        Field(default=None, description="Post to this channel instead of the webhook's own")
    )

    @field_validator("url", mode="before")
    @classmethod
    def _url_is_a_secret(cls, value: Any) -> Any:
        return _slack_url(value)


class EmailChannel(_Channel):
    """A mail over SMTP. The server's certificate is always verified."""

    kind: Literal["email"]
    host: Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\s/]+$")]
    port: Port = 587
    starttls: StrictBool = Field(
        default=True, description="Upgrade with STARTTLS (default; false when ssl is set)"
    )
    ssl: StrictBool = Field(default=False, description="Implicit TLS from the start (port 465)")
    ca_file: str | None = Field(
        default=None,
        description="PEM file of the CA(s) to trust instead of the system's (relative to the "
        "config file)",
    )
    username: Annotated[str, StringConstraints(min_length=1)] | None = None
    password: Secret | None = None
    sender: Mailbox
    recipients: Annotated[tuple[Mailbox, ...], Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _ssl_implies_no_starttls(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("ssl") is True and "starttls" not in data:
            return {**data, "starttls": False}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ssl and self.starttls:
            raise ValueError("ssl (implicit TLS) and starttls exclude each other; set one")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both or neither")
        if self.password is not None and not (self.ssl or self.starttls):
            raise ValueError("the password would cross the network in clear: set starttls or ssl")
        return self


Channel = Annotated[WebhookChannel | SlackChannel | EmailChannel, Field(discriminator="kind")]


class NotificationsConfig(_Model):
    """Alert channels, when an error is worth an alert, and the user's template overrides."""

    channels: tuple[Channel, ...] = ()
    error_after: Annotated[
        int,
        Strict(),
        Field(ge=1, description="Alert once a domain has failed this many runs in a row"),
    ] = 3
    templates_dir: str | None = Field(
        default=None,
        description="Directory of templates overriding the bundled ones by file name "
        "(relative to the config file)",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [c.name for c in self.channels if c.name is not None]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"channel names must be unique: {', '.join(map(repr, duplicates))}")
        return self


def channel_label(channel: WebhookChannel | SlackChannel | EmailChannel, index: int) -> str:
    """How messages name a channel: its ``name``, else its kind and 1-based position."""
    return f"{channel.kind} {channel.name!r}" if channel.name else f"{channel.kind} #{index + 1}"
