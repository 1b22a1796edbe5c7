"""Hostile messages for ``explain``: deep MIME nesting, huge header sections, huge files.

Each builder returns the raw bytes of a message whose SPF evidence (a Received-SPF verdict
and a Received hop from 198.51.100.99 for ops@example.edu) sits where receivers write it,
at the top of every header section, bounces included: a bounded reader still finds it, so
the result is the same whatever part of the message it had to leave out.
"""

from __future__ import annotations

VERDICT = (
    b"Received-SPF: fail (mx.example.org: domain of ops@example.edu does not designate "
    b"198.51.100.99 as permitted sender) client-ip=198.51.100.99; "
    b"envelope-from=ops@example.edu; helo=mail.example.edu; receiver=mx.example.org;\r\n"
    b"Received: from mail.example.edu (mail.example.edu [198.51.100.99]) by mx.example.org "
    b"(Postfix) with ESMTPS id 4Z7Q; Mon, 10 Mar 2025 08:02:09 +0000\r\n"
    b"Return-Path: <ops@example.edu>\r\n"
)
ORIGINAL = VERDICT + b"From: ops@example.edu\r\nSubject: original\r\n\r\nHello.\r\n"


def _report_around(boundary: bytes) -> tuple[bytes, bytes]:
    """The bytes before and after the only part of a delivery status notification."""
    head = (
        VERDICT + b"From: mailer-daemon@mx.example.org\r\nSubject: Undelivered\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        b'boundary="' + boundary + b'"\r\n\r\n--' + boundary + b"\r\n"
    )
    return head, b"\r\n--" + boundary + b"--\r\n"


def _report(boundary: bytes, part: bytes) -> bytes:
    """A delivery status notification whose only part is ``part`` (a MIME entity)."""
    head, tail = _report_around(boundary)
    return head + part + tail


def _nest(inner: bytes, levels: list[tuple[bytes, bytes]]) -> bytes:
    """``inner`` wrapped in every (head, tail) of ``levels``, the first innermost."""
    heads = b"".join(head for head, _ in reversed(levels))
    return heads + inner + b"".join(tail for _, tail in levels)


def nested_rfc822(depth: int) -> bytes:
    """A bounce returning a message that is itself a message/rfc822 ``depth`` levels deep."""
    rfc822 = b"Content-Type: message/rfc822\r\n\r\n"
    body = _nest(ORIGINAL, [(VERDICT + rfc822, b"")] * depth)
    return _report(b"outer", rfc822 + body)


def nested_reports(depth: int) -> bytes:
    """Bounces of bounces, ``depth`` deep, the real original innermost."""
    levels = []
    for level in range(depth):
        head, tail = _report_around(b"b%d" % level)
        levels.append((head + b"Content-Type: message/rfc822\r\n\r\n", tail))
    return _nest(ORIGINAL, levels)


def nested_multiparts(depth: int) -> bytes:
    """A bounce whose returned message sits under ``depth`` nested multipart/mixed parts."""
    levels = [
        (
            b'Content-Type: multipart/mixed; boundary="m%d"\r\n\r\n--m%d\r\n' % (level, level),
            b"\r\n--m%d--\r\n" % level,
        )
        for level in range(depth)
    ]
    return _report(b"outer", _nest(b"Content-Type: message/rfc822\r\n\r\n" + ORIGINAL, levels))


def many_received(count: int) -> bytes:
    """The receiver's verdict, then ``count`` internal Received hops below it."""
    hops = b"".join(
        b"Received: from relay%d.example.edu (relay%d.example.edu [10.0.%d.%d]) by "
        b"relay%d.example.edu with ESMTP id %d; Mon, 10 Mar 2025 08:02:09 +0000\r\n"
        % (i, i, i // 250 % 256, i % 250 + 1, i + 1, i)
        for i in range(count)
    )
    return VERDICT + hops + b"From: ops@example.edu\r\nSubject: loop\r\n\r\nHello.\r\n"


def huge_body(size: int) -> bytes:
    """A normal message with a ``size``-byte body."""
    line = b"x" * 76 + b"\r\n"
    return ORIGINAL + line * (size // len(line) + 1)


def huge_header(name: bytes, size: int) -> bytes:
    """One folded header field of ``size`` bytes below the verdict."""
    fold = b"\r\n (" + b"a" * 70 + b")"
    value = fold * (size // len(fold) + 1)
    return VERDICT + name + b": x" + value + b"\r\nSubject: big\r\n\r\nHello.\r\n"


def many_parts(count: int) -> bytes:
    """A bounce of ``count`` empty text parts, the returned message last."""
    parts = b"Content-Type: text/plain\r\n\r\nx\r\n--p\r\n" * count
    return _report(b"p", parts + b"Content-Type: message/rfc822\r\n\r\n" + ORIGINAL)


def dense_trace(fields: int, size: int) -> bytes:
    """``fields`` trace fields of each kind, ``size`` bytes each of many short tokens."""
    fold = b"\r\n (domain of a@b designates 192.0.2.7 as permitted; a=b; c=d)"
    value = fold * (size // len(fold))
    kinds = (b"Received", b"Received-SPF", b"Authentication-Results", b"ARC-Authentication-Results")
    trace = b"".join(kind + b": fail" + value + b"\r\n" for _ in range(fields) for kind in kinds)
    return VERDICT + trace + b"Subject: dense\r\n\r\nHello.\r\n"
