"""The packer (:func:`spfmanager.flatten.pack.pack`): records, chains and their sizes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from ipaddress import IPv4Address
from itertools import pairwise

import pytest

from spfmanager.dns.overlay import OverlayResolver
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.dns.txt import split_strings
from spfmanager.errors import FlattenError
from spfmanager.flatten.pack import PackedRecord, answer_size, pack
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.limits import MAX_UDP_ANSWER
from spfmanager.spf.parser import parse_record, parse_term
from spfmanager.spf.results import Qualifier, Result
from spfmanager.spf.terms import IP4, VERSION, Explanation, Mechanism, Redirect, UnknownModifier

DOMAIN = "example.com"
LINK = re.compile(r"^redirect=(_spf(\d+)-([0-9a-f]{8})\.example\.com)$")


def term(text: str) -> Mechanism:
    parsed = parse_term(text)
    assert not isinstance(parsed, Redirect | Explanation | UnknownModifier)
    return parsed


def many(count: int, second: int = 0) -> list[Mechanism]:
    """``count`` distinct /24 terms, 19 to 21 characters each."""
    return [IP4(Qualifier.PASS, IPv4Address(f"10.{second}.{i}.0"), 24) for i in range(count)]


def body(record: PackedRecord) -> list[str]:
    """The record's terms after ``v=spf1``."""
    version, *terms = record.text.split(" ")
    assert version == VERSION
    return terms


def chained_terms(records: Sequence[PackedRecord]) -> list[str]:
    """The terms of the whole chain in evaluation order, without the links between records."""
    out: list[str] = []
    for record in records:
        out += [t for t in body(record) if not LINK.match(t)]
    return out


def check_limits(
    records: Sequence[PackedRecord], other_root_txt: Sequence[Sequence[str]] = ()
) -> None:
    for index, record in enumerate(records):
        assert all(len(s) <= 255 for s in record.strings)
        assert "".join(record.strings) == record.text
        extra = other_root_txt if index == 0 else ()
        assert record.answer_bytes == answer_size(record.name, [*extra, record.strings])
        assert record.answer_bytes <= MAX_UDP_ANSWER


def check_links(records: Sequence[PackedRecord]) -> None:
    """Root at the domain; each record but the last ends its terms by naming the next."""
    assert records[0].name == DOMAIN
    for index, (record, following) in enumerate(pairwise(records)):
        links = [m for m in map(LINK.match, body(record)) if m]
        assert len(links) == 1
        (link,) = links
        assert link.group(1) == following.name
        assert int(link.group(2)) == index + 1
        # The name is the hash of the text it names.
        digest = hashlib.sha256(following.text.encode("ascii")).hexdigest()[:8]
        assert link.group(3) == digest
    assert not any(LINK.match(t) for t in body(records[-1]))


def test_terms_that_fit_make_one_record_at_the_domain() -> None:
    terms = [term("ip4:192.0.2.0/24"), term("~ip6:2001:db8::/32"), term("-all")]
    (record,) = pack(terms, DOMAIN)
    text = "v=spf1 ip4:192.0.2.0/24 ~ip6:2001:db8::/32 -all"
    assert record == PackedRecord(DOMAIN, text, (text,), answer_size(DOMAIN, [(text,)]))
    # The size is the real wire size: header 12, question 13+4, answer 12+1+len, OPT 11.
    assert record.answer_bytes == 12 + (13 + 4) + (12 + 1 + len(text)) + 11


def test_a_record_over_255_characters_is_split_into_strings_not_chained() -> None:
    terms = [*many(15), term("-all")]  # about 320 characters: one answer, two strings
    (record,) = pack(terms, DOMAIN)
    assert len(record.text) > 255
    assert len(record.strings) == 2
    assert body(record) == [t.render() for t in terms]
    check_limits([record])


def test_terms_over_one_answer_are_chained_with_redirects() -> None:
    terms = [*many(80), term("~all")]
    records = pack(terms, DOMAIN)
    assert len(records) == 4
    check_limits(records)
    check_links(records)
    assert chained_terms(records) == [t.render() for t in terms]


def test_the_chain_is_as_short_as_greedy_packing_allows() -> None:
    """Each record but the last is full: its next term would not have fit."""
    records = pack([*many(80), term("~all")], DOMAIN)
    for record, following in pairwise(records):
        *terms, link = body(record)
        fuller = " ".join((VERSION, *terms, body(following)[0], link))
        assert answer_size(record.name, [split_strings(fuller)]) > MAX_UDP_ANSWER


def test_qualifiers_and_order_are_kept_across_the_chain() -> None:
    qualifiers = ["", "-", "~", "?"]
    terms = [term(f"{qualifiers[i % 4]}ip4:10.{i // 4}.{i % 4}.0/24") for i in range(70)] + [
        term("ip4:10.0.0.0/8"),
        term("?all"),
    ]
    records = pack(terms, DOMAIN)
    assert len(records) > 1
    assert chained_terms(records) == [t.render() for t in terms]
    # A receiver following the chain gets each term's own result, first match first.
    served = {r.name: [list(r.strings)] for r in records}
    resolver = OverlayResolver(SnapshotResolver({}), served)
    expected = {
        "10.0.0.1": Result.PASS,
        "10.0.1.1": Result.FAIL,
        "10.0.2.1": Result.SOFTFAIL,
        "10.0.3.1": Result.NEUTRAL,
        "10.17.1.1": Result.FAIL,  # the 70th term, in the last record
        "10.200.0.1": Result.PASS,  # the /8 after every /24
        "192.0.2.1": Result.NEUTRAL,  # ?all
    }
    for ip, result in expected.items():
        assert evaluate(ip, f"a@{DOMAIN}", DOMAIN, resolver=resolver).result is result, ip


def test_other_txt_at_the_root_counts_against_the_root_answer_only() -> None:
    terms = [*many(40), term("-all")]
    alone = pack(terms, DOMAIN)
    verification = [("google-site-verification=" + "x" * 150,), ("ms=" + "y" * 100,)]
    shared = pack(terms, DOMAIN, other_root_txt=verification)
    check_limits(shared, verification)
    assert len(body(shared[0])) < len(body(alone[0]))  # fewer terms fit beside them
    assert chained_terms(shared) == chained_terms(alone) == [t.render() for t in terms]
    # Without counting them the root would overflow the answer.
    overflowing = answer_size(DOMAIN, [*verification, alone[0].strings])
    assert overflowing > MAX_UDP_ANSWER


def test_a_smaller_answer_limit_gives_a_longer_chain() -> None:
    terms = [*many(30), term("-all")]
    default = pack(terms, DOMAIN)
    small = pack(terms, DOMAIN, max_answer=300)
    assert len(small) > len(default)
    assert all(r.answer_bytes <= 300 for r in small)
    assert chained_terms(small) == [t.render() for t in terms]


def test_a_term_that_cannot_fit_any_record_is_an_error() -> None:
    with pytest.raises(FlattenError, match="cannot fit even one term into record 1"):
        pack([term("ip4:192.0.2.0/24"), term("-all")], DOMAIN, max_answer=60)


def test_names_change_with_the_content_and_only_then() -> None:
    terms = [*many(80), term("-all")]
    records = pack(terms, DOMAIN)
    assert [r.name for r in pack(list(terms), DOMAIN)] == [r.name for r in records]
    # A change in the last record renames every link up to the root.
    changed_end = pack([*terms[:-1], term("~all")], DOMAIN)
    assert len(changed_end) == len(records)
    assert all(a.name != b.name for a, b in zip(records[1:], changed_end[1:], strict=True))
    assert changed_end[0].name == DOMAIN and changed_end[0].text != records[0].text
    # A same-length change in the root leaves the chain's names as they were.
    changed_root = pack([IP4(Qualifier.FAIL, IPv4Address("10.0.0.0"), 24), *terms[1:]], DOMAIN)
    assert [r.name for r in changed_root] == [r.name for r in records]
    assert changed_root[0].text != records[0].text
    assert [r.text for r in changed_root[1:]] == [r.text for r in records[1:]]
    # Another domain: its own names.
    other = pack(terms, "example.org")
    assert all(r.name.endswith(".example.org") for r in other[1:])


def test_the_final_redirect_ends_the_last_record() -> None:
    redirect = parse_term("redirect=_spf.vendor.test")
    assert isinstance(redirect, Redirect)
    (single,) = pack([term("ip4:192.0.2.0/24")], DOMAIN, final_redirect=redirect)
    assert single.text == "v=spf1 ip4:192.0.2.0/24 redirect=_spf.vendor.test"
    records = pack(many(80), DOMAIN, final_redirect=redirect)
    assert len(records) > 1
    check_limits(records)
    check_links(records)
    assert body(records[-1])[-1] == "redirect=_spf.vendor.test"
    assert all("redirect=_spf.vendor.test" not in r.text for r in records[:-1])


def test_the_explanation_is_in_every_record_and_other_modifiers_in_the_root() -> None:
    record = parse_record("v=spf1 exp=explain.example.com note=hello -all")
    explanation = record.explanation
    modifiers = [t for t in record.terms if isinstance(t, UnknownModifier)]
    assert explanation is not None and len(modifiers) == 1
    records = pack(
        [*many(80), term("-all")], DOMAIN, explanation=explanation, root_modifiers=modifiers
    )
    assert len(records) > 1
    check_limits(records)
    check_links(records)
    for record_ in records:
        assert body(record_).count("exp=explain.example.com") == 1
    assert body(records[0]).count("note=hello") == 1
    assert all("note=hello" not in r.text for r in records[1:])
    # Modifiers come after the record's mechanisms and links.
    assert body(records[0])[-2:] == ["exp=explain.example.com", "note=hello"]
    assert body(records[-1])[-2:] == ["-all", "exp=explain.example.com"]
