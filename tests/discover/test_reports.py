"""Every sample report of tests/data/dmarc read, against expectations computed independently.

The expectations come from the standard library's ``xml.etree`` on the plain files (the
samples are trusted; the reader under test never uses it), ``gzip``/``zipfile`` for the
compressed ones and the mail subject (``Report domain: D Submitter: S``) for ``.eml``.
"""

from __future__ import annotations

import gzip
import ipaddress
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest

from spfmanager.discover.limits import Limits
from spfmanager.discover.model import Report, Skipped
from spfmanager.discover.reports import parse_report
from spfmanager.discover.sources import Kind, read_reports, sniff
from spfmanager.errors import ReportError, SPFManagerError

DATA = Path(__file__).parent.parent / "data" / "dmarc"
INVALID = {  # file name -> what the reason must say
    "dmarc-invalid-1.xml": "not well-formed",
    "dmarc-invalid-2.xml": "date_range",
    "dmarc-invalid-3.xml": "not seconds since the epoch",
    "dmarc-invalid-4.xml": "not a DMARC report",
    "invalid_xml.xml": "not well-formed",
}
NOT_REPORTS = {"LICENSE", "README.md"}


@dataclass(frozen=True)
class Expected:
    org_name: str
    domain: str
    report_id: str
    begin: int
    rows: int
    messages: int


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _find(element: ElementTree.Element, path: str) -> ElementTree.Element | None:
    for name in path.split("/"):
        found = [child for child in element if _local(child.tag) == name]
        if not found:
            return None
        element = found[0]
    return element


def _text(element: ElementTree.Element, path: str) -> str:
    found = _find(element, path)
    return "" if found is None else (found.text or "").strip()


def expected(xml: bytes) -> Expected:
    """What a report should read as, by the standard library's parser."""
    xml = re.sub(rb"</?xs:schema[^>]*>", b"", xml)  # IKEA's stray unclosed wrapper
    xml = xml.decode("utf-8", "replace").encode("utf-8")
    root = ElementTree.fromstring(xml)
    org = (
        _text(root, "report_metadata/org_name")
        or _text(root, "report_metadata/email").rpartition("@")[2]
    )
    rows = messages = 0
    for record in (c for c in root if _local(c.tag) == "record"):
        try:
            ipaddress.ip_address(_text(record, "row/source_ip"))
        except ValueError:
            continue
        rows += 1
        messages += int(_text(record, "row/count"))
    return Expected(
        org_name=org,
        domain=_text(root, "policy_published/domain").lower(),
        report_id=_text(root, "report_metadata/report_id"),
        begin=int(_text(root, "report_metadata/date_range/begin")),
        rows=rows,
        messages=messages,
    )


def _check(report: Report, want: Expected) -> None:
    assert report.org_name == want.org_name
    assert report.domain == want.domain
    assert report.report_id == want.report_id
    assert report.begin == datetime.fromtimestamp(want.begin, tz=UTC)
    assert report.begin.tzinfo is UTC and report.end >= report.begin
    assert len(report.rows) == want.rows
    assert sum(row.count for row in report.rows) == want.messages


def _plain_samples() -> list[Path]:
    return sorted(
        p for p in DATA.rglob("*.xml") if p.name not in INVALID and p.parent.name != "synthetic"
    ) + sorted((DATA / "synthetic").glob("*.xml"))


def _read(path: Path) -> list[Report | Skipped]:
    return list(read_reports([path]))


@pytest.mark.parametrize("path", _plain_samples(), ids=lambda p: p.name)
def test_each_plain_sample_reads_as_the_standard_parser_sees_it(path: Path) -> None:
    [report] = _read(path)
    assert isinstance(report, Report), report
    assert report.source == str(path)
    _check(report, expected(path.read_bytes()))


@pytest.mark.parametrize("path", sorted(DATA.rglob("*.xml.gz")), ids=lambda p: p.name)
def test_gzipped_samples(path: Path) -> None:
    [result] = _read(path)
    content = gzip.decompress(path.read_bytes())
    if path.name.removesuffix(".gz") in INVALID or content == b"unused":
        assert isinstance(result, Skipped) and result.file == str(path)
        return
    assert isinstance(result, Report), result
    _check(result, expected(content))


@pytest.mark.parametrize("path", sorted(DATA.rglob("*.zip")), ids=lambda p: p.name)
def test_zipped_samples_one_result_per_report_member(path: Path) -> None:
    results = _read(path)
    with zipfile.ZipFile(path) as archive:
        members = [
            i.filename
            for i in archive.infolist()
            if not i.is_dir() and not i.filename.startswith("__MACOSX/")
        ]
        contents = {m: archive.read(m) for m in members}
    assert [r.source if isinstance(r, Report) else r.file for r in results] == [
        f"{path}!{m}" for m in members
    ]
    for member, result in zip(members, results, strict=True):
        if Path(member).name in INVALID:
            assert isinstance(result, Skipped)
            assert Path(member).name in result.file and result.reason
        else:
            assert isinstance(result, Report), result
            _check(result, expected(contents[member]))


@pytest.mark.parametrize("path", sorted(DATA.rglob("*.eml")), ids=lambda p: p.name[:30])
def test_mail_samples_give_the_report_their_subject_names(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    subject = re.search(r"Report domain: (\S+) Submitter: (\S+)", text)
    assert subject is not None
    [report] = _read(path)
    assert isinstance(report, Report), report
    assert report.domain == subject.group(1).lower()
    assert report.source.startswith(f"{path}!")
    assert report.rows and all(row.count > 0 for row in report.rows)
    assert subject.group(2).partition(".")[0] in (report.org_name.lower() + report.source)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_samples_are_skipped_with_a_reason_naming_the_file(name: str) -> None:
    [path] = DATA.rglob(name)
    [result] = _read(path)
    assert isinstance(result, Skipped)
    assert result.file == str(path)
    assert INVALID[name] in result.reason
    with pytest.raises(ReportError) as raised:
        parse_report(path.read_bytes(), name, Limits())
    assert isinstance(raised.value, SPFManagerError)
    assert name in str(raised.value) and raised.value.reason


def test_a_directory_is_walked_in_sorted_order_and_nothing_is_lost() -> None:
    results = list(read_reports([DATA]))
    names = [r.source if isinstance(r, Report) else r.file for r in results]
    files = [n.partition("!")[0] if ".zip!" in n or ".eml!" in n else n for n in names]
    assert files == sorted(files, key=lambda n: Path(n).parts)
    skipped = {Path(r.file).name for r in results if isinstance(r, Skipped)}
    assert skipped >= NOT_REPORTS
    reports = [r for r in results if isinstance(r, Report)]
    assert len(reports) >= 35


# -- what reporters do --------------------------------------------------------------------


def _sample(name: str) -> Report:
    [path] = DATA.rglob(name)
    [report] = _read(path)
    assert isinstance(report, Report), report
    return report


def test_google_without_version() -> None:
    report = _sample("dmarc-sample-1.xml")
    assert report.org_name == "Google, Inc." and report.version is None
    assert report.policy == "quarantine"


def test_microsoft_namespace_prefixes_and_decimal_version() -> None:
    report = _sample("protection.outlook.com!example.com!1711756800!1711843200.xml")
    assert report.org_name == "Outlook.com" and report.version == "1.0"
    [row] = report.rows
    assert row.envelope_from == "example.com"
    assert row.spf[0].scope == "mfrom" and row.spf[0].result == "fail"


def test_upper_cased_results_are_lower_cased() -> None:
    [row] = _sample("report_with_upper_cased_pass.xml").rows
    assert (row.disposition, row.dkim_aligned, row.spf_aligned) == ("none", "pass", "pass")
    assert row.dkim[0].result == "pass" and row.spf[0].result == "pass"
    assert _sample("report_with_upper_cased_pass.xml").org_name == "example.com"  # padded


def test_missing_optional_elements_are_none() -> None:
    [row] = _sample("veeam.com!example.com!1530133200!1530219600.xml").rows
    assert row.envelope_from is None and row.dkim == ()
    assert row.spf[0].domain == "" and row.spf[0].scope is None
    [row] = _sample("ikea.com!example.de!1538690400!1538776800.xml").rows
    assert row.dkim[0].selector is None and row.spf[0].scope == "helo"
    assert [
        r.envelope_from for r in _sample("usssa.com!example.com!1538784000!1538870399.xml").rows
    ] == [None, None]


def test_empty_reason_and_empty_org_name() -> None:
    [row] = _sample("empty_reason.xml").rows
    assert row.source_ip == ipaddress.ip_address("198.51.100.123") and row.count == 2
    assert row.dkim[0].selector == "example"
    assert _sample("!example.com!1538204542!1538463818.xml").org_name == "accurateplastics.com"


def test_rfc9990_reports() -> None:
    report = _sample("rfc9990-example.net!example.com!1700000000!1700086399.xml")
    assert report.version == "2.0" and report.policy == "reject"
    assert [r.disposition for r in report.rows] == ["none", "reject"]
    sample = _sample("rfc9990-sample.xml")  # the namespace, a version element of 1.0
    assert sample.version == "1.0"
    [row] = sample.rows
    assert row.disposition == "pass" and row.count == 123  # RFC 9990 adds "pass"
    assert row.dkim[0].selector == "abc123"
    gmx = _sample("dmarc-feedback_namespace.xml")  # the namespace, no version element
    assert gmx.version == "2.0" and gmx.org_name == "GMX"


def test_fastmail_gzip() -> None:
    report = _sample("fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz")
    assert report.org_name == "FastMail Pty Ltd"


def test_yahoo_padding_is_stripped() -> None:
    report = _sample("yahoo.com!example.com!1700000000!1700086399.xml")
    assert (report.org_name, report.version, report.domain) == ("Yahoo", "1.0", "example.com")
    assert report.report_id == "1700000000.123456" and report.policy == "reject"
    first, second = report.rows
    assert first.source_ip == ipaddress.ip_address("198.51.100.7") and first.count == 3
    assert first.dkim[0].selector == "s2023"
    assert second.source_ip == ipaddress.ip_address("2001:db8::25") and second.count == 1
    assert (second.disposition, second.spf[0].result) == ("reject", "softfail")
    assert report.warnings == ()


def test_yahoo_unused_gzip_body_is_skipped() -> None:
    [path] = DATA.rglob("yahoo.com!example.com!1683072000!1683158399.xml.gz")
    [result] = _read(path)
    assert isinstance(result, Skipped) and "not a DMARC report" in result.reason
    assert "unused" in result.reason


def test_zoho_helo_without_domain() -> None:
    report = _sample("zoho.com!example.com!1700092800!1700179199.xml")
    [row] = report.rows
    assert row.envelope_from is None
    assert row.spf[0].domain == "" and row.spf[0].scope == "helo"
    assert row.spf[0].result == "none"


def test_invalid_utf8_is_replaced_and_said() -> None:
    report = _sample("invalid_utf_8.xml")
    assert report.rows[0].header_from == "bad_byte\ufffd"
    assert any("UTF-8" in w for w in report.warnings)


# -- records that cannot be used ------------------------------------------------------------

HEAD = """<feedback><report_metadata><org_name>r</org_name><report_id>1</report_id>
<date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>
<policy_published><domain>example.com.</domain><p>none</p></policy_published>"""


def _record(ip: str, count: str = "1") -> str:
    return (
        f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
        "<disposition>none</disposition><dkim>fail</dkim><spf>pass</spf></policy_evaluated>"
        "</row><identifiers><header_from>example.com</header_from></identifiers></record>"
    )


def test_a_record_with_an_invalid_ip_is_left_out_and_counted() -> None:
    xml = HEAD + _record("192.0.2.1", "4") + _record("300.1.1.1", "7") + _record("nope")
    report = parse_report((xml + "</feedback>").encode(), "x.xml", Limits())
    assert [str(r.source_ip) for r in report.rows] == ["192.0.2.1"]
    assert report.domain == "example.com"  # the trailing dot dropped
    [warning] = report.warnings
    assert "2 of 3 records left out (8 messages)" in warning and "'300.1.1.1'" in warning


def test_bad_counts_and_missing_header_from_are_left_out() -> None:
    no_header = _record("192.0.2.9").replace("<header_from>example.com</header_from>", "")
    xml = HEAD + _record("192.0.2.1", "-1") + no_header + _record("192.0.2.2") + "</feedback>"
    report = parse_report(xml.encode(), "x.xml", Limits())
    assert len(report.rows) == 1 and "2 of 3 records" in report.warnings[0]


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        ("<html><body/></html>", "no <feedback>"),
        ("<feedback/>", "no <report_metadata>"),
        (HEAD.replace("<report_id>1</report_id>", "") + "</feedback>", "report_id"),
        (HEAD.replace("example.com.", "") + "</feedback>", "policy_published/domain"),
        (HEAD.replace("1700000000", "99999999999999") + "</feedback>", "epoch"),
    ],
)
def test_reports_that_cannot_be_used(xml: str, reason: str) -> None:
    with pytest.raises(ReportError, match=re.escape(reason)):
        parse_report(xml.encode(), "x.xml", Limits())


def test_the_row_limit() -> None:
    xml = HEAD + _record("192.0.2.1") * 11 + "</feedback>"
    with pytest.raises(ReportError, match="more than 10 records"):
        parse_report(xml.encode(), "x.xml", Limits(max_rows=10))
    assert len(parse_report(xml.encode(), "x.xml", Limits(max_rows=11)).rows) == 11


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_rows"):
        Limits(max_rows=0)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x1f\x8b\x08", Kind.GZIP),
        (b"PK\x03\x04", Kind.ZIP),
        (b"\xef\xbb\xbf<?xml", Kind.XML),
        (b"  \n<feedback>", Kind.XML),
        (b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n", Kind.MBOX),
        (b"Return-Path: <a@b>\n", Kind.MAIL),
        (b"unused", Kind.UNKNOWN),
    ],
)
def test_formats_are_told_by_content(head: bytes, kind: Kind) -> None:
    assert sniff(head) is kind


def test_the_extension_does_not_decide(tmp_path: Path) -> None:
    source = DATA / "dmarc-report" / "dmarc-sample-1.xml"
    disguised = tmp_path / "report.txt"
    disguised.write_bytes(gzip.compress(source.read_bytes()))
    [report] = _read(disguised)
    assert isinstance(report, Report) and report.org_name == "Google, Inc."
    missing = tmp_path / "nope.xml"
    assert _read(missing) == [Skipped(str(missing), "no such file or directory")]
