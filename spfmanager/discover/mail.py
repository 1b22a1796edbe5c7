"""Mail messages that carry DMARC aggregate reports: which parts are the reports.

Reporters send a report as an attachment (RFC 7489 section 7.2.1.1: ``application/zip``,
``application/gzip`` or XML), often as the whole body of a single-part message
(Mimecast), base64 or not, with or without a file name. This module only finds those
parts and decodes their transfer encoding; what the payload is (gzip, zip, XML) is decided
by :mod:`.sources` from its bytes, never from the declared type.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import re
from dataclasses import dataclass
from email.message import Message

# What reporters declare for their reports, and what some mail clients turn them into.
REPORT_TYPES = frozenset(
    {
        "application/zip",
        "application/x-zip",
        "application/x-zip-compressed",
        "application/gzip",
        "application/x-gzip",
        "application/gzip-compressed",
        "application/x-gunzip",
        "application/xml",
        "text/xml",
        "application/octet-stream",
    }
)
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")  # RFC 5322 section 3.6.8 field-name ":"
_CONTENT_TYPE = re.compile(rb"^content-type[ \t]*:", re.IGNORECASE | re.MULTILINE)


def count_parts(data: bytes) -> int:
    """How many ``Content-Type`` header fields the message holds (one per MIME part at
    most), counted without parsing it: a bound to check before the parser runs."""
    return sum(1 for _ in _CONTENT_TYPE.finditer(data))


def looks_like_message(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) starts like a mail message: a header field,
    or an mbox ``From `` line."""
    return head.startswith(b"From ") or _HEADER_LINE.match(head) is not None


@dataclass(frozen=True)
class Attachment:
    """A part that may hold a report: its name (file name, or ``part-N``) and payload."""

    name: str
    payload: bytes


@dataclass(frozen=True)
class Contents:
    """A parsed message's subject (for naming it to people) and candidate attachments."""

    subject: str
    attachments: tuple[Attachment, ...]


def contents(data: bytes) -> Contents:
    """The parts of the message ``data`` that may be reports, transfer-decoded.

    Text bodies (``text/plain``, ``text/html`` without a file name) are left out; every
    part with a file name or a report type is kept. A malformed message is read as far as
    Python's lenient parser gets (its defects are not errors here).
    """
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    found: list[Attachment] = []
    for number, part in enumerate(message.walk(), 1):
        if part.is_multipart():
            continue
        filename = _filename(part)
        if filename is None and part.get_content_type() not in REPORT_TYPES:
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        found.append(Attachment(filename or f"part-{number}", payload))
    return Contents(_subject(message), tuple(found))


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except (TypeError, ValueError, LookupError):  # broken RFC 2231 parameters
        return None
    if not name:
        name = part.get_param("name")  # type: ignore[assignment]  # Content-Type's name=
        if not isinstance(name, str):
            return None
    return name.strip().replace("/", "_").replace("\\", "_") or None


def _subject(message: Message) -> str:
    raw = message.get("Subject")
    if raw is None:
        return ""
    try:
        text = str(email.header.make_header(email.header.decode_header(str(raw))))
    except (LookupError, ValueError, UnicodeError, email.errors.HeaderParseError):
        text = str(raw)
    return " ".join(text.split())
