"""Hostile inputs: each is refused (a ``Skipped`` naming it) or read safely, in bounded time
and memory, and nothing else of the run is lost.

Bombs are built here, by streaming compression, so that no large file is kept in the tree:
a gzip of 1 GiB of zeros is about 1 MB.
"""

from __future__ import annotations

import gzip
import io
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spfmanager.discover.limits import Limits, MiB
from spfmanager.discover.model import Report, Skipped
from spfmanager.discover.sources import _Input, read_message, read_reports, sniff

DATA = Path(__file__).parent.parent / "data" / "dmarc"
GOOD = (DATA / "dmarc-report" / "dmarc-sample-1.xml").read_bytes()
SECONDS = 5.0  # each hostile input, on a shared 2-vCPU machine
PEAK_BYTES = 200 * MiB  # Python allocations while reading it
DEFAULT = Limits()


def measured(
    paths: list[Path], limits: Limits = DEFAULT
) -> tuple[list[Report | Skipped], float, int]:
    """The results of reading ``paths``, the seconds taken and the peak traced memory."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        results = list(read_reports(paths, limits))
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return results, elapsed, peak


def bounded(paths: list[Path], limits: Limits = DEFAULT) -> list[Report | Skipped]:
    results, elapsed, peak = measured(paths, limits)
    assert elapsed < SECONDS, f"{elapsed:.1f} s"
    assert peak < PEAK_BYTES, f"{peak / MiB:.0f} MiB"
    return results


def zeros(total: int, chunk: int = MiB) -> Iterator[bytes]:
    block = bytes(chunk)
    for _ in range(total // chunk):
        yield block


def gzip_bomb(path: Path, total: int = 1024 * MiB, prefix: bytes = b"") -> Path:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        out.write(packer.compress(prefix))
        for block in zeros(total):
            out.write(packer.compress(block))
        out.write(packer.flush())
    return path


@pytest.fixture(scope="module")
def bomb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bombs")


@pytest.fixture(scope="module")
def gzip_gib(bomb_dir: Path) -> Path:
    return gzip_bomb(bomb_dir / "bomb.xml.gz", prefix=b"<?xml version='1.0'?><feedback>")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_billion_laughs(tmp_path: Path) -> None:
    entities = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">'
        for i in range(10)
    )
    xml = f'<?xml version="1.0"?><!DOCTYPE feedback [{entities}]><feedback>&lol9;</feedback>'
    path = _write(tmp_path / "laughs.xml", xml.encode())
    [result] = bounded([path])
    assert isinstance(result, Skipped) and result.file == str(path)
    assert "DTD" in result.reason or "entities" in result.reason


def test_external_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the-secret-content", encoding="utf-8")
    xml = GOOD.replace(
        b"<feedback>",
        f'<!DOCTYPE feedback [<!ENTITY x SYSTEM "file://{secret}">]><feedback>'.encode(),
        1,
    ).replace(b"Google, Inc.", b"&x;")
    path = _write(tmp_path / "xxe.xml", xml)
    [result] = bounded([path])
    assert isinstance(result, Skipped)
    assert "the-secret-content" not in repr(result)
    passwd = _write(
        tmp_path / "passwd.xml", xml.replace(f"file://{secret}".encode(), b"file:///etc/passwd")
    )
    [result] = bounded([passwd])
    assert isinstance(result, Skipped) and "root:" not in result.reason


def test_a_dtd_alone_is_refused(tmp_path: Path) -> None:
    xml = GOOD.replace(
        b"<feedback>", b'<!DOCTYPE feedback SYSTEM "http://127.0.0.1:9/x.dtd"><feedback>', 1
    )
    [result] = bounded([_write(tmp_path / "dtd.xml", xml)])
    assert isinstance(result, Skipped) and "DTD" in result.reason


def test_gzip_bomb_stops_at_the_member_limit(gzip_gib: Path) -> None:
    assert gzip_gib.stat().st_size < 2 * MiB  # 1 GiB of zeros
    [result] = bounded([gzip_gib])
    assert isinstance(result, Skipped) and result.file == str(gzip_gib)
    assert "more than 50 MiB (Limits.max_member_bytes)" in result.reason


def test_gzip_bomb_in_a_mail_beside_a_good_report(gzip_gib: Path, tmp_path: Path) -> None:
    message = EmailMessage()
    message["Subject"] = "Report domain: example.com Submitter: bomb.example"
    message.set_content("two attachments")
    message.add_attachment(gzip_gib.read_bytes(), "application", "gzip", filename="bomb.xml.gz")
    message.add_attachment(GOOD, "text", "xml", filename="good.xml")  # type: ignore[arg-type]
    path = _write(tmp_path / "bomb.eml", message.as_bytes())
    bomb, good = bounded([path])
    assert isinstance(bomb, Skipped) and bomb.file == f"{path}!bomb.xml.gz"
    assert isinstance(good, Report) and good.source == f"{path}!good.xml"


def test_zip_bomb_members_and_the_input_budget(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good.xml", GOOD)
        for n in range(8):  # 8 x 120 MiB of zeros
            with archive.open(f"zeros{n}.xml", "w", force_zip64=True) as member:
                for block in zeros(120 * MiB):
                    member.write(block)
    assert path.stat().st_size < 2 * MiB
    results = bounded([path])
    assert isinstance(results[0], Report)
    skipped = results[1:]
    assert all(isinstance(s, Skipped) for s in skipped)
    reasons = [s.reason for s in skipped if isinstance(s, Skipped)]
    assert "Limits.max_member_bytes" in reasons[0]
    # 200 MiB in all: the fifth 50 MiB read goes over, and the archive is left there.
    assert "Limits.max_input_bytes" in reasons[-1] and len(reasons) <= 5


def test_nested_zip_bomb_42_style(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for n in range(16):
            with archive.open(f"zeros{n}.xml", "w") as member:
                for block in zeros(16 * MiB):
                    member.write(block)
    level = buffer.getvalue()
    for depth in range(5):  # 16^6 members of 16 MiB of zeros: 256 TiB if it were all read
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for n in range(16):
                archive.writestr(f"l{depth}-{n}.zip", level)
        level = buffer.getvalue()
    assert len(level) < MiB
    path = _write(tmp_path / "42.zip", level)
    results = bounded([path])
    assert results and all(isinstance(r, Skipped) for r in results)
    reasons = {r.reason for r in results if isinstance(r, Skipped)}
    assert any("Limits.max_depth" in r for r in reasons), reasons


def test_too_many_members(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for n in range(11):
            archive.writestr(f"r{n}.xml", GOOD)
    [result] = bounded([path], Limits(max_members=10))
    assert isinstance(result, Skipped) and "Limits.max_members" in result.reason
    assert len(bounded([path], Limits(max_members=11))) == 11


def test_a_hundred_megabytes_of_xml(tmp_path: Path) -> None:
    head, _, tail = GOOD.partition(b"<record>")
    record = b"<record>" + tail.rpartition(b"</feedback>")[0]
    path = tmp_path / "huge.xml"
    with path.open("wb") as out:
        out.write(head)
        while out.tell() < 100 * MiB:
            out.write(record * 1000)
        out.write(b"</feedback>")
    [result] = bounded([path])
    assert isinstance(result, Skipped) and "larger than 50 MiB" in result.reason
    compressed = tmp_path / "huge.xml.gz"
    with path.open("rb") as source, gzip.open(compressed, "wb", compresslevel=1) as out:
        while block := source.read(MiB):
            out.write(block)
    [result] = bounded([compressed])
    assert isinstance(result, Skipped) and "more than 50 MiB" in result.reason


def test_a_large_report_under_the_limit_is_read_in_bounded_memory(tmp_path: Path) -> None:
    head, _, tail = GOOD.partition(b"<record>")
    record = b"<record>" + tail.rpartition(b"</feedback>")[0]
    copies = 10 * MiB // len(record)
    path = _write(tmp_path / "big.xml", head + record * copies + b"</feedback>")
    results, elapsed, peak = measured([path])
    [report] = results
    assert isinstance(report, Report) and len(report.rows) == copies
    assert elapsed < 4 * SECONDS and peak < PEAK_BYTES, (elapsed, peak / MiB)


def test_truncated_and_corrupt_gzip(tmp_path: Path) -> None:
    whole = gzip.compress(GOOD * 3)
    truncated = _write(tmp_path / "cut.xml.gz", whole[: len(whole) // 2])
    corrupt = _write(tmp_path / "bad.xml.gz", whole[:20] + bytes(range(256)) + whole[276:])
    first, second = bounded([truncated, corrupt])
    assert isinstance(first, Skipped) and "truncated" in first.reason
    assert isinstance(second, Skipped) and "gzip" in second.reason


def test_truncated_and_corrupt_zip(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("r.xml", GOOD)
    whole = buffer.getvalue()
    cut = _write(tmp_path / "cut.zip", whole[: len(whole) - 30])
    flipped = bytearray(whole)
    flipped[60] ^= 0xFF  # inside the deflated data
    bad = _write(tmp_path / "bad.zip", bytes(flipped))
    results = bounded([cut, bad])
    assert all(isinstance(r, Skipped) for r in results), results


def test_trailing_bytes_after_a_gzip_stream_are_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path / "crlf.xml.gz", gzip.compress(GOOD) + b"\r\n")
    [report] = bounded([path])
    assert isinstance(report, Report)
    two = _write(tmp_path / "two.xml.gz", gzip.compress(GOOD[:500]) + gzip.compress(GOOD[500:]))
    [report] = bounded([two])  # a multi-member gzip is one stream (RFC 1952 2.2)
    assert isinstance(report, Report)


def test_latin1_declared_utf8_is_read_with_a_warning(tmp_path: Path) -> None:
    xml = GOOD.decode().replace("Google, Inc.", "Gögle, Inç.").encode("latin-1")
    [report] = bounded([_write(tmp_path / "latin1.xml", xml)])
    assert isinstance(report, Report)
    assert report.org_name == "G\ufffdgle, In\ufffd." and "UTF-8" in report.warnings[0]


def test_utf16_with_a_bom_is_read(tmp_path: Path) -> None:
    xml = GOOD.decode().replace("Google, Inc.", "Gögle")
    as_declared = _write(tmp_path / "utf16.xml", xml.replace("UTF-8", "UTF-16").encode("utf-16"))
    lying = _write(tmp_path / "utf16-says-utf8.xml", xml.encode("utf-16"))
    first, second = bounded([as_declared, lying])
    assert isinstance(first, Report) and first.org_name == "Gögle" and not first.warnings
    assert isinstance(second, Report) and second.org_name == "Gögle" and second.warnings


def test_a_declared_unknown_encoding(tmp_path: Path) -> None:
    xml = GOOD.replace(b"UTF-8", b"x-no-such-encoding")
    [result] = bounded([_write(tmp_path / "enc.xml", xml)])
    assert isinstance(result, Skipped) and result.reason


def test_deep_nesting(tmp_path: Path) -> None:
    xml = b"<feedback>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</feedback>"
    [result] = bounded([_write(tmp_path / "deep.xml", xml)])
    assert isinstance(result, Skipped) and "Limits.max_element_depth" in result.reason


def test_deep_mime_nesting(tmp_path: Path) -> None:
    parts = [f"Content-Type: multipart/mixed; boundary=b{n}\n\n--b{n}\n" for n in range(3000)]
    path = _write(tmp_path / "deep.eml", ("Subject: x\n" + "".join(parts)).encode())
    [result] = bounded([path])
    assert isinstance(result, Skipped) and "Limits.max_mime_parts" in result.reason


def test_a_message_over_the_size_limit(tmp_path: Path) -> None:
    data = b"Subject: big\n\n" + b"x" * 2000
    [result] = bounded([_write(tmp_path / "big.eml", data)], Limits(max_message_bytes=1000))
    assert isinstance(result, Skipped) and "Limits.max_message_bytes" in result.reason
    [result] = list(read_message("imap-msg", data, Limits(max_message_bytes=1000)))
    assert result == Skipped("imap-msg", result.reason)


@settings(max_examples=150, deadline=None)
@given(
    prefix=st.sampled_from(
        [b"", b"\x1f\x8b\x08\x00", b"PK\x03\x04", b"<feedback>", b"From: x\n\n"]
    ),
    body=st.binary(max_size=400),
)
def test_arbitrary_bytes_never_raise(prefix: bytes, body: bytes) -> None:
    results = list(read_message("fuzz", b"Content-Type: application/gzip\n\n" + prefix + body))
    assert all(isinstance(r, Report | Skipped) for r in results)
    data = prefix + body
    results = list(_Input(Limits()).blob("fuzz", io.BytesIO(data), sniff(data), 0))
    assert results and all(isinstance(r, Report | Skipped) for r in results)
