"""Bounded reading of a message: its header sections and, for a bounce, the returned message.

Messages to explain come from outside and can be hostile, or just broken: a bounce of a
bounce of a bounce, thousands of nested MIME parts, a mail loop's thousands of Received
headers, a gigabyte attachment. ``explain`` needs header fields only, so nothing is parsed
as a whole; a :class:`Reader` reads at most

* ``MAX_MESSAGE_BYTES`` of the message;
* ``MAX_HEADER_FIELDS`` fields of one header section; a field longer than
  ``MAX_FIELD_BYTES`` is dropped before it is parsed;
* ``MAX_MIME_DEPTH`` levels and ``MAX_MIME_PARTS`` parts of multiparts, walked with an
  explicit stack, to find a bounce's returned message (the returned message's own body, and
  every other body, is never parsed).

What a reader leaves out is said in plain language in ``Reader.skipped``, for the report.
The header fields themselves are parsed by :mod:`email` (``policy.default``), as they were
when the whole message went through it.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from itertools import islice, pairwise

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a bounce's headers sit far before any attachment
MAX_HEADER_FIELDS = 1000  # real messages carry tens; Microsoft 365's long ones ~150
MAX_FIELD_BYTES = 8 * 1024  # RFC 5322 2.1.1: 998 per line; trace fields take a few lines
MAX_MIME_DEPTH = 20  # a DSN's parts sit one level down (RFC 6522 3)
MAX_MIME_PARTS = 1000

# The fields explain reads: a dropped one of these is reported, any other silently ignored.
READ_FIELDS = frozenset(
    {
        "received",
        "received-spf",
        "authentication-results",
        "arc-authentication-results",
        "return-path",
        "from",
        "subject",
        "content-type",
        "content-transfer-encoding",
    }
)

# Where a header section ends (as email.feedparser decides): at an empty line, or at the
# first line that is neither a field ("name:"), a continuation, nor a Unix "From " line.
_HEADER_END = re.compile(rb"^(?:\r?\n|(?![ \t]|From |[\x21-\x39\x3b-\x7e]*:))", re.MULTILINE)
_FIELD_START = re.compile(rb"^(?=[^ \t\r\n])", re.MULTILINE)
_RECEIVED_START = re.compile(rb"^received:", re.MULTILINE | re.IGNORECASE)
_PARSER = email.parser.BytesParser(policy=email.policy.default)


@dataclass(frozen=True, slots=True)
class Section:
    """One MIME entity: its header fields (a body-less message) and its raw body."""

    headers: EmailMessage
    body: memoryview  # a view into the message read: parts are never copied


class Reader:
    """Reads one message within the limits above; ``skipped`` says what was left out."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def skip(self, note: str) -> None:
        if note not in self.skipped:
            self.skipped.append(note)

    def message(self, raw: bytes, size: int | None = None) -> Section:
        """The top-level section of ``raw`` (``size``: the whole file's, when known)."""
        size = max(size or 0, len(raw))
        view = memoryview(raw)
        if size > MAX_MESSAGE_BYTES:
            self.skip(
                f"The message is {size:,} bytes: only its first {MAX_MESSAGE_BYTES:,} were read."
            )
            view = view[:MAX_MESSAGE_BYTES]
        return self.section(view, "The message")

    def section(self, data: memoryview, where: str) -> Section:
        """The header fields and body of one entity; ``where`` names it in notes."""
        end = _HEADER_END.search(data)
        header_end = len(data) if end is None else end.start()
        body = data[len(data) :] if end is None else data[end.end() :]
        starts = [
            m.start()
            for m in islice(_FIELD_START.finditer(data, 0, header_end), MAX_HEADER_FIELDS + 1)
        ]
        if len(starts) > MAX_HEADER_FIELDS:
            cut = starts.pop()
            more = len(_FIELD_START.findall(data, cut, header_end))
            received = len(_RECEIVED_START.findall(data, cut, header_end))
            among = f", {received:,} of them Received" if received else ""
            self.skip(
                f"{where} has {MAX_HEADER_FIELDS + more:,} header fields: only the first "
                f"{MAX_HEADER_FIELDS:,} were read ({more:,} skipped{among})."
            )
            header_end = cut
        kept: list[memoryview] = []
        for start, stop in pairwise([*starts, header_end]):
            if stop - start <= MAX_FIELD_BYTES:
                kept.append(data[start:stop])
                continue
            name = bytes(data[start : start + 80]).partition(b":")[0].decode("ascii", "replace")
            if name.strip().lower() in READ_FIELDS:
                self.skip(
                    f"{where} has a {name.strip()} header of {stop - start:,} bytes: skipped "
                    f"(over {MAX_FIELD_BYTES:,})."
                )
        return Section(_PARSER.parsebytes(b"".join(kept), headersonly=True), body)

    def returned_original(self, top: Section) -> EmailMessage | None:
        """The header fields of the message a bounce (``multipart/report``) returns.

        The first ``message/rfc822`` or ``text/rfc822-headers`` part in depth-first order,
        as :meth:`email.message.Message.walk` would meet it; None when there is none.
        """
        if top.headers.get_content_type() != "multipart/report":
            return None
        stack = [self._parts(top)]
        seen = 0
        while stack:
            part = next(stack[-1], None)
            if part is None:
                stack.pop()
                continue
            seen += 1
            if seen > MAX_MIME_PARTS:
                self.skip(
                    f"Only the first {MAX_MIME_PARTS:,} MIME parts of the bounce were searched "
                    "for the returned message."
                )
                return None
            content_type = part.headers.get_content_type()
            if content_type == "message/rfc822":
                return self.section(part.body, "The returned message").headers
            if content_type == "text/rfc822-headers":
                decoded = memoryview(_decoded(part))
                return self.section(decoded, "The returned header section").headers
            if part.headers.get_content_maintype() != "multipart":
                continue
            if len(stack) >= MAX_MIME_DEPTH:
                self.skip(
                    f"MIME parts nested more than {MAX_MIME_DEPTH} levels deep were not "
                    "searched for the returned message."
                )
                continue
            stack.append(self._parts(part))
        return None

    def _parts(self, multipart: Section) -> Iterator[Section]:
        """The body parts of a multipart (RFC 2046 5.1.1), read one at a time."""
        boundary = multipart.headers.get_boundary()
        if not boundary:
            return
        digest = multipart.headers.get_content_subtype() == "digest"
        body = multipart.body
        separator = re.escape(b"--" + boundary.encode("utf-8", "surrogateescape"))
        delimiter = re.compile(rb"^" + separator + rb"(--)?[ \t]*\r?$", re.MULTILINE)
        start: int | None = None
        for match in delimiter.finditer(body):
            if start is not None:
                yield self._part(
                    body[start : _before_line_break(body, start, match.start())], digest
                )
            if match.group(1):  # the close delimiter: the epilogue is not a part
                return
            start = match.end() + 1  # past the delimiter line's line feed
        if start is not None:  # no close delimiter: the last part runs to the end
            yield self._part(body[start:], digest)

    def _part(self, data: memoryview, digest: bool) -> Section:
        part = self.section(data, "A MIME part")
        if digest:
            part.headers.set_default_type("message/rfc822")  # RFC 2046 5.1.5
        return part


def _before_line_break(data: memoryview, start: int, stop: int) -> int:
    """``stop`` less the line break ending at it: it belongs to the delimiter that follows."""
    if stop > start and data[stop - 1] == 0x0A:
        stop -= 1
        if stop > start and data[stop - 1] == 0x0D:
            stop -= 1
    return stop


def _decoded(part: Section) -> bytes:
    """The body of a part, Content-Transfer-Encoding undone as email.message does it."""
    headers = part.headers
    headers.set_payload(bytes(part.body).decode("ascii", "surrogateescape"))
    decoded = headers.get_payload(decode=True)
    return decoded if isinstance(decoded, bytes) else bytes(part.body)
