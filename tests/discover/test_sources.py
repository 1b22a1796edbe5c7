"""Mail and mailboxes: attachments found in .eml and mbox files, base64 or not."""

from __future__ import annotations

import gzip
import io
import mailbox
import zipfile
from email.message import EmailMessage
from pathlib import Path

from spfmanager.discover.model import Report, Skipped
from spfmanager.discover.sources import read_message, read_reports

DATA = Path(__file__).parent.parent / "data" / "dmarc"
SAMPLE_1 = (DATA / "dmarc-report" / "dmarc-sample-1.xml").read_bytes()
SAMPLE_2 = (DATA / "dmarc-report" / "dmarc-sample-2.xml").read_bytes()


def report_message(subject: str, filename: str, payload: bytes, subtype: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "noreply-dmarc-support@google.com"
    message["Subject"] = subject
    message.set_content("This is an aggregate report.")
    message.add_attachment(payload, "application", subtype, filename=filename)
    return message


def zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def test_mbox_with_two_reports_and_a_message_that_is_not_one(tmp_path: Path) -> None:
    path = tmp_path / "reports.mbox"
    box = mailbox.mbox(path)
    box.add(report_message("Report 1", "a.xml.gz", gzip.compress(SAMPLE_1), "gzip"))
    plain = EmailMessage()
    plain["Subject"] = "Lunch?"
    plain.set_content("Shall we?")
    box.add(plain)
    box.add(report_message("Report 2", "b.zip", zipped("b.xml", SAMPLE_2), "zip"))
    box.close()
    first, lunch, second = read_reports([path])
    assert isinstance(first, Report) and first.source == f"{path}!message 1!a.xml.gz"
    assert first.org_name == "Google, Inc."
    assert isinstance(lunch, Skipped) and lunch.file == f"{path}!message 2"
    assert "without a DMARC report" in lunch.reason and "Lunch?" in lunch.reason
    assert isinstance(second, Report) and second.source == f"{path}!message 3!b.zip!b.xml"
    assert second.org_name == "Microsoft Corporation"


def test_attachments_base64_or_not_and_inline_xml(tmp_path: Path) -> None:
    raw = (
        b"From: r@example.net\nSubject: plain xml\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nhi\n'
        b'--b\nContent-Type: text/xml\nContent-Disposition: attachment; filename="r.xml"\n\n'
        + SAMPLE_1
        + b"\n--b--\n"
    )
    [report] = read_message("raw", raw)
    assert isinstance(report, Report) and report.source == "raw!r.xml"
    single = (
        b"From: r@example.net\nSubject: gz body\nContent-Type: application/gzip\n"
        b"Content-Transfer-Encoding: base64\n\n"
        + __import__("base64").encodebytes(gzip.compress(SAMPLE_2))
    )
    [report] = read_message("single", single)
    assert isinstance(report, Report) and report.domain == "example.org"
    quoted = report_message("qp", "x.xml", SAMPLE_1, "xml")
    quoted.get_payload()[1].replace_header("Content-Transfer-Encoding", "base64")
    [report] = read_message("qp", quoted.as_bytes())
    assert isinstance(report, Report)


def test_a_mail_in_a_directory_next_to_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "m.eml").write_bytes(
        report_message("x", "r.zip", zipped("r.xml", SAMPLE_1), "zip").as_bytes()
    )
    (tmp_path / "a.xml").write_bytes(SAMPLE_2)
    (tmp_path / ".hidden.xml").write_bytes(b"junk")
    results = list(read_reports([tmp_path]))
    assert [r.source for r in results if isinstance(r, Report)] == [
        str(tmp_path / "a.xml"),
        f"{tmp_path / 'b' / 'm.eml'}!r.zip!r.xml",
    ]
