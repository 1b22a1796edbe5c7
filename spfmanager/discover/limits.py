"""How much of a DMARC report source the readers accept before giving up on it.

Reports come from strangers: any file, archive or message may be built to exhaust memory,
CPU or disk (gzip and zip bombs, endless XML, archives of archives). Every reader is
bounded by these limits; what goes over one is reported as a ``Skipped`` entry naming the
limit, never read further. The defaults are far above what real reporters send (Google's
and Microsoft's largest reports are a few MB of XML with some thousand rows) and far below
what would hurt a small machine: at most one document of ``max_member_bytes`` is held in
memory at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The bounds of :func:`~spfmanager.discover.sources.read_reports` and friends.

    ``max_member_bytes``
        One XML document, decompressed: a plain ``.xml`` file, a gzip stream, a zip member,
        a mail attachment. Decompression runs in chunks and stops at this many bytes.
    ``max_input_bytes``
        Everything decompressed out of one input (a file, or one message of a mailbox),
        all members and nesting levels together: what stops a zip of many bombs, or a zip
        of zips (42.zip).
    ``max_members``
        Members of one zip archive (directories and macOS ``__MACOSX/`` metadata not
        counted); an archive with more is skipped whole.
    ``max_documents``
        Documents (XML reports) out of one input, all archives together.
    ``max_depth``
        Containers inside each other: a message holding a zip holding a gzip is 3.
    ``max_rows``
        ``record`` elements of one report; a report with more is skipped whole (a partial
        report would understate its senders).
    ``max_element_depth``
        XML elements inside each other (a report needs 5).
    ``max_message_bytes``
        One mail message (an ``.eml`` file, an mbox or IMAP message), before decoding.
    ``max_mime_parts``
        ``Content-Type`` header fields of one message (a report's has 1-4): Python's mail
        parser is quadratic in nested multiparts (3,000 levels take 15 s).
    """

    max_member_bytes: int = 50 * MiB
    max_input_bytes: int = 200 * MiB
    max_members: int = 1000
    max_documents: int = 10_000
    max_depth: int = 4
    max_rows: int = 200_000
    max_element_depth: int = 32
    max_message_bytes: int = 64 * MiB
    max_mime_parts: int = 100

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, not {value!r}")


def size(value: int) -> str:
    """``value`` bytes for people: ``50 MiB``, ``1.5 KiB``, ``12 bytes``."""
    for unit, factor in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", 1024)):
        if value >= factor:
            shown = value / factor
            return f"{shown:.0f} {unit}" if shown == int(shown) else f"{shown:.1f} {unit}"
    return f"{value} bytes"
