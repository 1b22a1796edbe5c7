"""Where DMARC aggregate reports are read from: files, directories, archives and mail.

:func:`read_reports` takes any mix of paths and yields one
:class:`~spfmanager.discover.model.Report` per report read and one
:class:`~spfmanager.discover.model.Skipped` per file, archive member or message that could
not be read, with the reason: a hostile or broken input never ends the run. It is lazy:
one document at a time is in memory.

What a file is comes from its first bytes, not its name: gzip (``1f 8b``), zip
(``PK\\x03\\x04``), XML (``<`` after an optional byte-order mark and spaces), an mbox
(``From ``) or a single message (a header field). Containers nest (a message with a zip
of gzipped XML) up to :attr:`Limits.max_depth`; every decompression runs in chunks and
stops at the limits (:mod:`.limits`), so a gzip or zip bomb costs at most
``max_member_bytes`` of memory and ``max_input_bytes`` of work. Directories are walked
recursively in sorted order, without following symbolic links to directories and without
hidden (dot) files; macOS ``__MACOSX/`` members of zips are not reports and are passed over.

Names: ``Report.source`` and ``Skipped.file`` are the path, followed by ``!member`` for
each level inside it (``reports.zip!google.xml``, ``box.mbox!message 3!report.xml.gz``).
"""

from __future__ import annotations

import io
import logging
import mailbox
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from spfmanager.discover import mail
from spfmanager.discover.limits import Limits, size
from spfmanager.discover.model import Report, Skipped
from spfmanager.discover.reports import parse_report
from spfmanager.errors import ReportError

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024  # bytes read or decompressed at a time
HEAD = 512  # bytes looked at to tell a format
GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952 section 2.3.1
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # APPNOTE 4.3.7 local header, 4.3.16 empty
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_PADDING = b"\x00\r\n\t "  # after a gzip member: Mimecast ends its with CRLF
INPUT_OVER = "the input decompresses to more than"


class Kind(Enum):
    """What a file or member holds, from its first bytes."""

    XML = "xml"
    GZIP = "gzip"
    ZIP = "zip"
    MBOX = "mbox"
    MAIL = "mail"
    UNKNOWN = "unknown"


def sniff(head: bytes) -> Kind:
    """The kind of content that starts with ``head``."""
    if head.startswith(GZIP_MAGIC):
        return Kind.GZIP
    if head.startswith(ZIP_MAGICS):
        return Kind.ZIP
    text = head
    for bom in _BOMS:
        if text.startswith(bom):
            return Kind.XML  # only XML is sent with a byte-order mark
    if text.lstrip().startswith(b"<"):
        return Kind.XML
    if head.startswith(b"From "):
        return Kind.MBOX
    if mail.looks_like_message(head):
        return Kind.MAIL
    return Kind.UNKNOWN


def read_reports(
    paths: Iterable[Path],
    limits: Limits = Limits(),  # noqa: B008  # frozen: one shared default is safe
) -> Iterator[Report | Skipped]:
    """Every report in ``paths`` (files or directories, walked recursively in sorted
    order), and a :class:`Skipped` for each input that could not be read."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in _walk(path):
                yield from _file(file, limits)
        elif path.exists():
            yield from _file(path, limits)
        else:
            yield Skipped(str(path), "no such file or directory")


def read_message(
    name: str,
    data: bytes,
    limits: Limits = Limits(),  # noqa: B008
) -> Iterator[Report | Skipped]:
    """The reports attached to one mail message (``data``, as received); ``name`` names it
    (a file and message number, an IMAP URL with its UID)."""
    try:
        if len(data) > limits.max_message_bytes:
            yield Skipped(name, _over_message(limits))
            return
        yield from _Input(limits).message(name, data, depth=1)
    except Exception as exc:  # the last resort: a hostile message must not end the run
        yield _unexpected(name, exc)


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def _file(path: Path, limits: Limits) -> Iterator[Report | Skipped]:
    name = str(path)
    try:
        with path.open("rb") as stream:
            kind = sniff(stream.read(HEAD))
            stream.seek(0)
            if kind is Kind.MBOX:
                yield from _mbox(path, limits)
            elif kind is Kind.XML and path.stat().st_size > limits.max_member_bytes:
                yield Skipped(name, _over_member(limits))
            else:
                yield from _Input(limits).blob(name, stream, kind, depth=0)
    except OSError as exc:
        yield Skipped(name, f"cannot be read: {exc.strerror or exc}")
    except Exception as exc:  # the last resort: a hostile file must not end the run
        yield _unexpected(name, exc)


def _mbox(path: Path, limits: Limits) -> Iterator[Report | Skipped]:
    box = mailbox.mbox(path, create=False)
    try:
        for number, key in enumerate(box.keys(), 1):
            name = f"{path}!message {number}"
            handle = box.get_file(key)
            try:
                data = _bounded(handle.read, limits.max_message_bytes)
            finally:
                handle.close()
            if data is None:
                yield Skipped(name, _over_message(limits))
                continue
            yield from read_message(name, data, limits)
    finally:
        box.close()


def _unexpected(name: str, exc: BaseException) -> Skipped:
    logger.debug("unexpected error reading %s", name, exc_info=exc)
    return Skipped(name, f"cannot be read ({type(exc).__name__}: {exc})")


def _over_member(limits: Limits) -> str:
    return f"larger than {size(limits.max_member_bytes)} (Limits.max_member_bytes)"


def _over_message(limits: Limits) -> str:
    return f"a message larger than {size(limits.max_message_bytes)} (Limits.max_message_bytes)"


def _bounded(read: Callable[[int], bytes], limit: int) -> bytes | None:
    """Everything ``read`` gives, in chunks; None once it passes ``limit`` bytes (what
    was read so far is dropped, and no more is read)."""
    buffer = io.BytesIO()
    total = 0
    while True:
        chunk = read(min(CHUNK, limit + 1 - total))
        if not chunk:
            return buffer.getvalue()
        total += len(chunk)
        if total > limit:
            return None
        buffer.write(chunk)


@dataclass
class _Input:
    """The budget of one input (a file, one message): bytes decompressed, documents read."""

    limits: Limits
    spent: int = 0
    documents: int = 0

    def _limit(self) -> int:
        """The bytes the next member may decompress to: the member limit, or what the
        input has left."""
        return min(self.limits.max_member_bytes, self.limits.max_input_bytes - self.spent)

    def _over(self, name: str, limit: int) -> ReportError:
        if limit < self.limits.max_member_bytes:
            return ReportError(
                name,
                f"{INPUT_OVER} {size(self.limits.max_input_bytes)} in all (Limits.max_input_bytes)",
            )
        return ReportError(
            name,
            f"decompresses to more than {size(self.limits.max_member_bytes)} "
            "(Limits.max_member_bytes)",
        )

    def _take(self, name: str, read: Callable[[int], bytes]) -> bytes:
        """One member's bytes, bounded by :meth:`_limit`."""
        limit = self._limit()
        data = _bounded(read, limit)
        if data is None:
            self.spent += limit  # the work was done: a bomb's members use up the budget
            raise self._over(name, limit)
        self.spent += len(data)
        return data

    def blob(
        self, name: str, stream: BinaryIO, kind: Kind, depth: int
    ) -> Iterator[Report | Skipped]:
        """What ``stream`` (seekable, at its start) holds, as ``kind``."""
        if kind in (Kind.GZIP, Kind.ZIP, Kind.MAIL, Kind.MBOX) and depth >= self.limits.max_depth:
            yield Skipped(
                name,
                f"containers nested deeper than {self.limits.max_depth} (Limits.max_depth)",
            )
            return
        try:
            if kind is Kind.XML:
                yield self._document(name, self._take(name, stream.read))
            elif kind is Kind.GZIP:
                data = self._gunzip(name, stream)
                yield from self.blob(name, io.BytesIO(data), sniff(data[:HEAD]), depth + 1)
            elif kind is Kind.ZIP:
                yield from self._zip(name, stream, depth + 1)
            elif kind in (Kind.MAIL, Kind.MBOX):
                message = _bounded(stream.read, self.limits.max_message_bytes)
                if message is None:
                    yield Skipped(name, _over_message(self.limits))
                    return
                yield from self.message(name, message, depth + 1)
            else:
                head = stream.read(24)
                yield Skipped(
                    name,
                    f"not a DMARC report: neither XML, gzip, zip nor mail (begins {head!r})",
                )
        except ReportError as exc:
            yield Skipped(exc.source, exc.reason)

    def _document(self, name: str, data: bytes) -> Report | Skipped:
        self.documents += 1
        if self.documents > self.limits.max_documents:
            raise ReportError(
                name,
                f"more than {self.limits.max_documents:,} documents in one input "
                "(Limits.max_documents)",
            )
        try:
            return parse_report(data, name, self.limits)
        except ReportError as exc:
            return Skipped(name, exc.reason)

    def _gunzip(self, name: str, stream: BinaryIO) -> bytes:
        """The gzip stream's content (all its members), decompressed a chunk at a time."""
        limit = self._limit()
        inflater = zlib.decompressobj(wbits=31)
        output = io.BytesIO()
        total = 0
        pending = b""
        ended = False
        try:
            while True:
                if inflater.eof:
                    if not pending:
                        if ended:
                            break
                        pending = stream.read(CHUNK)
                        ended = not pending
                        continue
                    rest = pending.lstrip(_PADDING)
                    if not rest:
                        pending = b""
                        continue
                    if not rest.startswith(GZIP_MAGIC):
                        logger.debug("%s: %d bytes after the gzip stream ignored", name, len(rest))
                        break
                    inflater, pending = zlib.decompressobj(wbits=31), rest
                if not pending and not ended:
                    pending = stream.read(CHUNK)
                    ended = not pending
                chunk = inflater.decompress(pending, CHUNK)
                pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
                if chunk:
                    total += len(chunk)
                    if total > limit:
                        self.spent += limit
                        raise self._over(name, limit)
                    output.write(chunk)
                elif ended and not pending and not inflater.eof:
                    raise ReportError(
                        name, "a truncated gzip stream (it ends before its end marker)"
                    )
        except zlib.error as exc:
            raise ReportError(name, f"not a valid gzip stream ({exc})") from None
        self.spent += total
        return output.getvalue()

    def _zip(self, name: str, stream: BinaryIO, depth: int) -> Iterator[Report | Skipped]:
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            yield Skipped(name, f"not a valid zip archive ({exc})")
            return
        with archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir() and not _macos_metadata(info.filename)
            ]
            if len(members) > self.limits.max_members:
                yield Skipped(
                    name,
                    f"an archive of {len(members):,} members, more than "
                    f"{self.limits.max_members:,} (Limits.max_members)",
                )
                return
            if not members:
                yield Skipped(name, "an empty zip archive")
                return
            for info in members:
                member = f"{name}!{info.filename}"
                if info.flag_bits & 0x1:
                    yield Skipped(member, "an encrypted zip member")
                    continue
                try:
                    with archive.open(info) as handle:
                        data = self._take(member, handle.read)
                except ReportError as exc:
                    yield Skipped(member, exc.reason)
                    if exc.reason.startswith(INPUT_OVER):
                        return  # nothing more of this input will be read
                    continue
                except (
                    zipfile.BadZipFile,
                    zlib.error,
                    NotImplementedError,
                    RuntimeError,
                    EOFError,
                    OSError,
                    ValueError,
                ) as exc:
                    yield Skipped(member, f"cannot be extracted ({exc})")
                    continue
                yield from self.blob(member, io.BytesIO(data), sniff(data[:HEAD]), depth)

    def message(self, name: str, data: bytes, depth: int) -> Iterator[Report | Skipped]:
        """The reports attached to the message ``data``."""
        parts = mail.count_parts(data)
        if parts > self.limits.max_mime_parts:
            yield Skipped(
                name,
                f"a message of {parts:,} MIME parts, more than {self.limits.max_mime_parts} "
                "(Limits.max_mime_parts)",
            )
            return
        contents = mail.contents(data)
        if not contents.attachments:
            about = f" (subject: {contents.subject[:100]!r})" if contents.subject else ""
            yield Skipped(name, f"a message without a DMARC report attached{about}")
            return
        for attachment in contents.attachments:
            payload = attachment.payload
            kind = sniff(payload[:HEAD])
            yield from self.blob(f"{name}!{attachment.name}", io.BytesIO(payload), kind, depth)


def _macos_metadata(filename: str) -> bool:
    """``__MACOSX/`` AppleDouble files that macOS's Finder adds to the zips it makes."""
    return filename.startswith("__MACOSX/") or filename.rpartition("/")[2].startswith("._")
