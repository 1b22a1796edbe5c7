"""The domain-name checks of mailauth 4.13 and of the node resolver it queries through.

mailauth checks each name it is about to query against one pattern (``lib/spf/index.js``
``limitedResolver()``): a name that fails it is a permerror ("Invalid domain ..."). node's
resolver (c-ares 1.34) then refuses, with ``EBADNAME``, a name it cannot put on the wire as
a host name; mailauth does not turn that error into an SPF result, so it ends the check as
a temperror, or is dropped by an ``include:`` or ``redirect=`` that meets it (their
``catch`` keeps only SPF results). The sender's domain is first checked by Joi's
``string().domain()`` (``@hapi/address``): failing it gives none.
"""

from __future__ import annotations

import re
from functools import lru_cache

# lib/spf/index.js limitedResolver(): labels of %x20-2D / %x2F-7E, a last label of
# letters, digits and hyphens starting with a letter (the /i flag: either case).
_QUERY_NAME = re.compile(r"(?:[\x20-\x2d\x2f-\x7e]+\.)+[a-z][a-z0-9-]*", re.IGNORECASE | re.ASCII)
# lib/spf/spf-verify.js, each redirect= value once expanded (no /i flag, no space).
_REDIRECT_TARGET = re.compile(r"(?:[\x21-\x2d\x2f-\x7e]+\.)+[a-z][a-z0-9-]*", re.ASCII)

# c-ares 1.34 ares_dns_name.c: the octets a host name may hold once escapes are read.
_HOST_OCTETS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*/.")
MAX_LABEL_OCTETS = 63  # RFC 1035 2.3.4
MAX_NAME_CHARS = 255  # c-ares: longer (trailing dot included) is EBADNAME, or EFORMERR

# @hapi/address domain.js, as mailauth configures it (no Unicode, no TLD list).
_JOI_CONTROL = re.compile(r"[\x00-\x20@:/\\#!$&'()*+,;=?]")
_JOI_SEGMENT = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?")
_JOI_TLD = re.compile(r"[a-zA-Z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?")


@lru_cache(maxsize=4096)
def fails_pattern(name: str) -> bool:
    """Whether mailauth refuses to query ``name`` ("Invalid domain", a permerror)."""
    return _QUERY_NAME.fullmatch(name) is None


@lru_cache(maxsize=4096)
def resolver_refuses(name: str) -> bool:
    """Whether node's resolver refuses ``name`` (EBADNAME): a character other than a letter,
    digit, ``-``, ``_``, ``*`` or ``/`` (after ``\\`` escapes), an empty label (a single
    trailing dot aside), a label over 63 octets, or over 255 characters in all."""
    if len(name) > MAX_NAME_CHARS:
        return True
    if name == ".":
        return False
    length = 0  # octets of the current label
    index, end = 0, len(name)
    while index < end:
        char = name[index]
        if char == ".":
            if length == 0:
                return True  # an empty label (a leading dot, or two in a row)
            length = 0
            index += 1
            continue
        if char == "\\":
            digits = name[index + 1 : index + 4]
            if digits[:1].isdigit():
                if len(digits) < 3 or not digits.isdigit() or int(digits) > 255:
                    return True
                octet, index = int(digits), index + 4
            elif index + 1 < end:
                octet, index = ord(name[index + 1]), index + 2
            else:
                return True  # a trailing backslash
        else:
            octet, index = ord(char), index + 1
        if octet not in _HOST_OCTETS:
            return True
        length += 1
        if length > MAX_LABEL_OCTETS:
            return True
    return False


def is_redirect_target(value: str) -> bool:
    """Whether mailauth accepts the expanded ``redirect=`` value (trailing dot removed)."""
    return _REDIRECT_TARGET.fullmatch(value) is not None


@lru_cache(maxsize=1024)
def is_sender_domain(domain: str) -> bool:
    """Joi's ``string().domain({allowUnicode: false, tlds: false})``, on mailauth's
    lower-cased sender domain: 2 or more labels of letters, digits and inner hyphens,
    the last starting with a letter; no trailing dot."""
    if not domain or len(domain) > 256 or not domain.isascii():
        return False
    if _JOI_CONTROL.search(domain):
        return False
    labels = domain.split(".")
    if len(labels) < 2:
        return False
    for label in labels:
        if not label or len(label) > MAX_LABEL_OCTETS:
            return False
    if not all(_JOI_SEGMENT.fullmatch(label) for label in labels[:-1]):
        return False
    return _JOI_TLD.fullmatch(labels[-1]) is not None
