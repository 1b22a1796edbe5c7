"""DMARC aggregate reports read from an IMAP mailbox (RFC 9051 / RFC 3501, with imaplib).

``imaps://user@host[:port]/MAILBOX`` connects over TLS (port 993); ``imap://`` connects in
clear on port 143 and requires STARTTLS before the password is sent, except to a loopback
address (``127.0.0.1``, ``::1``), where a server without TLS is accepted (a local test or
a tunnel). The user may be percent-encoded (``me%40example.com``); the mailbox defaults to
``INBOX``. The mailbox is opened read-only (``EXAMINE``) and messages are fetched with
``BODY.PEEK``: reading reports never marks them seen or changes the mailbox.

Each message goes through the same mail reader as ``.eml`` and mbox files
(:func:`~spfmanager.discover.sources.read_message`), named by its RFC 5092 URL
(``imaps://user@host/INBOX/;UID=42``). A message larger than
:attr:`Limits.max_message_bytes` (by its ``RFC822.SIZE``, and never more than that many
bytes fetched) is skipped. The password is taken as a string: the CLI resolves an
``env:NAME`` or ``file:PATH`` reference (:func:`resolve_password`) and it never appears
in an error message.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import re
import ssl
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from spfmanager.config.secret import Secret
from spfmanager.discover.limits import Limits, size
from spfmanager.discover.model import Report, Skipped
from spfmanager.discover.sources import read_message
from spfmanager.errors import ConfigError, MailboxError, secret_forms

logger = logging.getLogger(__name__)

IMAP_PORT = 143  # RFC 9051 section 1 (IANA)
IMAPS_PORT = 993  # RFC 8314 section 7.3
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass(frozen=True)
class MailboxURL:
    """An ``imap://`` or ``imaps://`` URL, parsed."""

    tls: bool  # imaps: TLS from the start; imap: STARTTLS (or clear, on loopback only)
    user: str
    host: str
    port: int
    mailbox: str

    def __str__(self) -> str:
        scheme = "imaps" if self.tls else "imap"
        user = urllib.parse.quote(self.user, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}@{host}:{self.port}/{urllib.parse.quote(self.mailbox)}"

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a name, even "localhost", may resolve elsewhere


def parse_url(url: str) -> MailboxURL:
    """``url`` parsed; :class:`~spfmanager.errors.MailboxError` when it is not an IMAP
    URL with a user and a host (a password in the URL is refused: pass it by reference)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("imap", "imaps"):
        raise MailboxError(f"{url!r}: not an imap:// or imaps:// URL")
    if parts.password is not None:
        raise MailboxError("a password in the IMAP URL is refused: give it as env:NAME instead")
    if not parts.username or not parts.hostname:
        raise MailboxError(f"{url!r}: the URL needs a user and a host (imaps://user@host/INBOX)")
    try:
        port = parts.port
    except ValueError:
        raise MailboxError(f"{url!r}: the port is not a number from 1 to 65535") from None
    tls = parts.scheme == "imaps"
    mailbox = urllib.parse.unquote(parts.path.lstrip("/")) or "INBOX"
    return MailboxURL(
        tls=tls,
        user=urllib.parse.unquote(parts.username),
        host=parts.hostname,
        port=port or (IMAPS_PORT if tls else IMAP_PORT),
        mailbox=mailbox,
    )


def resolve_password(reference: str) -> str:
    """The password behind an ``env:NAME`` or ``file:PATH`` reference (as in the config,
    :class:`~spfmanager.config.secret.Secret`); :class:`MailboxError` when it is missing."""
    try:
        return Secret(reference).reveal()
    except ValueError:
        raise MailboxError(f"{reference!r} is not 'env:NAME' or 'file:PATH'") from None
    except ConfigError as exc:
        raise MailboxError(str(exc)) from None


def read_imap(
    url: str,
    password: str,
    limits: Limits = Limits(),  # noqa: B008  # frozen: one shared default is safe
    *,
    since: date | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 60.0,
) -> Iterator[Report | Skipped]:
    """The reports in the mailbox at ``url`` (messages received on or after ``since``, or
    all), one message at a time.

    Connects and logs in before returning, so a bad URL, an unreachable server, refused
    TLS or a rejected login raise :class:`~spfmanager.errors.MailboxError` here; a
    connection lost while fetching raises it from the iterator. ``ssl_context`` defaults
    to the system's trust store with host name checks.
    """
    where = parse_url(url)
    context = ssl_context or ssl.create_default_context()
    connection = _connect(where, context, timeout)
    try:
        _login(connection, where, password)
        status, data = connection.select(_quote(where.mailbox), readonly=True)
        if status != "OK":
            raise MailboxError(f"{where}: cannot open mailbox {where.mailbox!r}: {_said(data)}")
    except BaseException:
        _close(connection)
        raise
    return _messages(connection, where, limits, since, password)


def _connect(where: MailboxURL, context: ssl.SSLContext, timeout: float) -> imaplib.IMAP4:
    try:
        if where.tls:
            return imaplib.IMAP4_SSL(where.host, where.port, ssl_context=context, timeout=timeout)
        connection = imaplib.IMAP4(where.host, where.port, timeout=timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"{where}: cannot connect: {exc}") from None
    try:
        if "STARTTLS" in connection.capabilities:
            connection.starttls(ssl_context=context)
        elif where.loopback:
            logger.warning("%s offers no STARTTLS: logging in in clear (loopback only)", where)
        else:
            raise MailboxError(
                f"{where}: the server offers no STARTTLS; the password is not sent in clear "
                "(use imaps://)"
            )
    except (OSError, imaplib.IMAP4.error) as exc:
        _close(connection)
        raise MailboxError(f"{where}: STARTTLS failed: {exc}") from None
    except MailboxError:
        _close(connection)
        raise
    return connection


def _login(connection: imaplib.IMAP4, where: MailboxURL, password: str) -> None:
    try:
        connection.login(where.user, password)
    except (OSError, imaplib.IMAP4.error) as exc:
        text = str(exc)
        for form in secret_forms(password) if password else ():
            text = text.replace(form, "***")
        raise MailboxError(f"{where}: login as {where.user!r} refused: {text}") from None


def _messages(
    connection: imaplib.IMAP4,
    where: MailboxURL,
    limits: Limits,
    since: date | None,
    password: str,
) -> Iterator[Report | Skipped]:
    try:
        criteria = ["ALL"] if since is None else ["SINCE", _imap_date(since)]
        status, data = connection.uid("SEARCH", *criteria)
        if status != "OK":
            raise MailboxError(f"{where}: SEARCH failed: {_said(data)}")
        uids = [uid.decode("ascii") for uid in (data[0] or b"").split()]
        logger.info("%s: %d messages to read", where, len(uids))
        for uid in uids:
            yield from _message(connection, where, uid, limits)
    except (OSError, imaplib.IMAP4.error) as exc:
        text = str(exc)
        for form in secret_forms(password) if password else ():
            text = text.replace(form, "***")
        raise MailboxError(f"{where}: {text}") from None
    finally:
        _close(connection)


def _message(
    connection: imaplib.IMAP4, where: MailboxURL, uid: str, limits: Limits
) -> Iterator[Report | Skipped]:
    name = f"{where}/;UID={uid}"
    status, data = connection.uid("FETCH", uid, "(RFC822.SIZE)")
    found = _SIZE.search(b" ".join(part for part in data if isinstance(part, bytes)))
    if status != "OK" or found is None:
        yield Skipped(name, f"the server gave no size for the message: {_said(data)}")
        return
    if int(found.group(1)) > limits.max_message_bytes:
        yield Skipped(
            name,
            f"a message of {int(found.group(1)):,} bytes, larger than "
            f"{size(limits.max_message_bytes)} (Limits.max_message_bytes)",
        )
        return
    # A partial fetch: never more than the limit (and one byte), whatever the size said.
    status, data = connection.uid("FETCH", uid, f"(BODY.PEEK[]<0.{limits.max_message_bytes + 1}>)")
    body = next((part[1] for part in data if isinstance(part, tuple)), None)
    if status != "OK" or not isinstance(body, bytes):
        yield Skipped(name, f"the message could not be fetched: {_said(data)}")
        return
    yield from read_message(name, body, limits)


def _imap_date(day: date) -> str:
    """RFC 9051 date (``1-Feb-2026``): English month names whatever the locale."""
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"


def _quote(mailbox: str) -> str:
    """A mailbox name as an IMAP quoted string (names may hold spaces)."""
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said(data: object) -> str:
    if isinstance(data, list) and data and isinstance(data[0], bytes):
        return data[0].decode("utf-8", "replace")
    return repr(data)


def _close(connection: imaplib.IMAP4) -> None:
    try:
        if connection.state == "SELECTED":
            connection.close()
        connection.logout()
    except (OSError, imaplib.IMAP4.error):
        pass  # already gone: nothing to tidy
