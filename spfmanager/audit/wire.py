"""Estimate the size of a TXT answer on the wire, against the 512-byte UDP limit.

The estimate (RFC 1035 4.1): a 12-byte header, the question (QNAME in wire form, QTYPE,
QCLASS), then for every TXT record at the name a 2-byte compression pointer to the QNAME,
TYPE (2), CLASS (2), TTL (4), RDLENGTH (2) and the RDATA: each character-string as one
length byte and its bytes (a string over 255 bytes is counted as split into 255-byte
strings, the only way it can be sent). Without EDNS (an OPT record adds 11 bytes) and
without authority or additional records, so a real answer is at least this large.
"""

from __future__ import annotations

from collections.abc import Iterable

from spfmanager.dns.base import TXTRecord
from spfmanager.dns.txt import MAX_TXT_STRING
from spfmanager.spf.limits import DNS_HEADER_BYTES

QUESTION_FIXED_BYTES = 4  # QTYPE + QCLASS, RFC 1035 4.1.2
RR_FIXED_BYTES = 12  # name pointer 2 + TYPE 2 + CLASS 2 + TTL 4 + RDLENGTH 2, RFC 1035 4.1.3


def name_wire_length(name: str) -> int:
    """Bytes of ``name`` as uncompressed labels: a length byte per label and the root byte."""
    labels = [label for label in name.rstrip(".").split(".") if label]
    return sum(1 + len(label.encode("utf-8")) for label in labels) + 1


def string_wire_length(string: bytes) -> int:
    """Bytes of one TXT string as character-strings of at most 255 bytes."""
    chunks = max(1, -(-len(string) // MAX_TXT_STRING))
    return chunks + len(string)


def txt_answer_size(name: str, records: Iterable[TXTRecord]) -> int:
    """Estimated bytes of the UDP answer to ``name TXT`` holding ``records`` (see module doc)."""
    size = DNS_HEADER_BYTES + name_wire_length(name) + QUESTION_FIXED_BYTES
    for record in records:
        size += RR_FIXED_BYTES + sum(string_wire_length(s) for s in record.strings)
    return size
