"""Record selection (RFC 7208 4.5): the SPF record among one TXT answer's records."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from spfmanager.dns.base import MXRecord, TXTRecord
from spfmanager.spf.results import Cause
from spfmanager.spf.select import select_record


def txt(*strings: str | bytes) -> TXTRecord:
    return TXTRecord(tuple(s if isinstance(s, bytes) else s.encode() for s in strings))


def test_no_records() -> None:
    selection = select_record([])
    assert selection.records == () and selection.record is None
    assert selection.cause is Cause.NO_RECORD


def test_records_that_are_not_spf_are_discarded() -> None:
    others = [
        txt("google-site-verification=abc"),
        txt("v=spf10 -all"),  # another version, not v=spf1
        txt("v=spf1-all"),  # "v=spf1" must be a whole word
        txt("spf2.0/pra -all"),
        IPv4Address("192.0.2.1"),  # not TXT at all
        MXRecord(10, "mx.example.com"),
    ]
    assert select_record(others).cause is Cause.NO_RECORD
    record = txt("v=spf1 -all")
    selection = select_record([*others, record])
    assert selection.records == (record,) and selection.record is record
    assert selection.cause is None


@pytest.mark.parametrize("text", ["v=spf1", "v=spf1 -all", "V=SPF1 -all", "v=Spf1 ip4:192.0.2.1"])
def test_the_version_is_a_case_insensitive_whole_word(text: str) -> None:
    assert select_record([txt(text)]).record is not None


def test_character_strings_are_joined_without_separator() -> None:
    # RFC 7208 3.3: "v=spf" + "1 -all" is the record "v=spf1 -all".
    record = txt("v=spf", "1 ip4:192.0.2.0/24", " -all")
    selection = select_record([record])
    assert selection.record is record
    assert selection.record.data == b"v=spf1 ip4:192.0.2.0/24 -all"


def test_several_records_are_a_permerror_cause() -> None:
    first, second = txt("v=spf1 -all"), txt("v=spf1 +all")
    selection = select_record([first, txt("other"), second])
    assert selection.records == (first, second)  # in answer order
    assert selection.record is None
    assert selection.cause is Cause.MULTIPLE_RECORDS


def test_a_record_not_ascii_after_the_version_is_still_selected() -> None:
    # Whoever parses it reports a syntax error; it is not "no record".
    record = txt(b"v=spf1 ip4:192.0.2.1 \xe2\x80\x93all")
    assert select_record([record]).record is record
    assert select_record([txt(b"\xe2\x80\x9cv=spf1 -all")]).cause is Cause.NO_RECORD
