"""ZoneFileProvider: edits only the TXT lines it manages, bumps the serial, is idempotent."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import dns.rdatatype
import dns.zone
import pytest

from spfmanager.errors import ProviderError
from spfmanager.providers.base import Change, Create, Delete, TxtRecordSet, Update
from spfmanager.providers.zonefile import ZoneFileProvider, _next_serial

ZONE = """\
; example.com, maintained by hand and by spfmanager
$ORIGIN example.com.
$TTL 3600
@   IN SOA ns1.example.com. hostmaster.example.com. (
        2024010101 ; serial
        3600 900 1209600 300 )
    IN NS ns1.example.com.
    IN TXT "v=spf1 -all" ; the old SPF record
    IN MX 10 mail   ; mail goes here
ns1 IN A 192.0.2.1
www IN A 192.0.2.2 ; web server
_spf IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
    IN AAAA 2001:db8::1
verify 300 IN TXT "keep; me" "intact"
"""
LONG = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(30)) + " -all"


@pytest.fixture
def zone_file(tmp_path: Path) -> Path:
    path = tmp_path / "example.com.zone"
    path.write_text(ZONE)
    return path


def load(path: Path) -> dns.zone.Zone:
    return dns.zone.from_text(path.read_text(), origin="example.com.", relativize=False)


def serial(path: Path) -> int:
    soa = load(path).find_rdataset("example.com.", dns.rdatatype.SOA)[0]
    return int(soa.serial)


def test_lists_existing_txt_records(zone_file: Path) -> None:
    records = ZoneFileProvider("example.com", directory=zone_file.parent).list_records()
    assert records == {
        "example.com": TxtRecordSet("example.com", ("v=spf1 -all",), 3600),
        "_spf.example.com": TxtRecordSet(
            "_spf.example.com", ("v=spf1 ip4:192.0.2.0/24 -all",), 3600
        ),
        "verify.example.com": TxtRecordSet("verify.example.com", ("keep; meintact",), 300),
    }


def test_round_trip_preserves_everything_else(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    old = provider.list_records()
    before = serial(zone_file)
    provider.apply(
        [
            Update(old["example.com"], TxtRecordSet("example.com", (LONG, "site-verify=abc"))),
            Delete(old["_spf.example.com"]),
            Create(TxtRecordSet("_spf2.example.com", ("v=spf1 ip4:203.0.113.7 -all",), 60)),
        ]
    )
    text = zone_file.read_text()
    for kept in (
        "; example.com, maintained by hand and by spfmanager\n",
        "    IN NS ns1.example.com.\n",
        "    IN MX 10 mail   ; mail goes here\n",
        "www IN A 192.0.2.2 ; web server\n",
        'verify 300 IN TXT "keep; me" "intact"\n',
        "        3600 900 1209600 300 )\n",
    ):
        assert kept in text
    assert "192.0.2.0/24" not in text
    zone = load(zone_file)
    # the AAAA that inherited the deleted TXT line's owner keeps its owner
    assert zone.get_rdataset("_spf.example.com.", dns.rdatatype.AAAA) is not None
    assert zone.get_rdataset("_spf.example.com.", dns.rdatatype.TXT) is None
    assert zone.get_rdataset("example.com.", dns.rdatatype.MX) is not None
    assert serial(zone_file) > before

    records = provider.list_records()
    assert records["example.com"] == TxtRecordSet("example.com", ("site-verify=abc", LONG))
    assert records["_spf2.example.com"].values == ("v=spf1 ip4:203.0.113.7 -all",)
    assert records["_spf2.example.com"].ttl == 60
    assert records["verify.example.com"].values == ("keep; meintact",)


def test_long_values_are_split_into_255_byte_strings(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    value = "v=spf1 " + "a" * 600 + " -all"
    provider.apply([Create(TxtRecordSet("long.example.com", (value,)))])
    rdataset = load(zone_file).find_rdataset("long.example.com.", dns.rdatatype.TXT)
    strings = rdataset[0].strings
    assert all(len(s) <= 255 for s in strings)
    assert b"".join(strings).decode() == value
    assert provider.list_records(["long.example.com"])["long.example.com"].values == (value,)


def test_second_apply_leaves_the_file_untouched(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    changes: list[Change] = [
        Create(TxtRecordSet("example.com", (LONG,))),
        Delete(TxtRecordSet("_spf.example.com", ())),
        Delete(TxtRecordSet("gone.example.com", ())),
    ]
    provider.apply(changes)
    content, stat = zone_file.read_bytes(), zone_file.stat()
    provider.apply(changes)
    assert zone_file.read_bytes() == content
    assert zone_file.stat().st_mtime_ns == stat.st_mtime_ns


def test_creates_a_loadable_zone_when_missing(tmp_path: Path) -> None:
    provider = ZoneFileProvider("Example.ORG.", directory=tmp_path / "zones")
    assert provider.list_records() == {}
    provider.apply([Create(TxtRecordSet("example.org", ("v=spf1 mx -all",)))])
    path = tmp_path / "zones" / "example.org.zone"
    zone = dns.zone.from_text(path.read_text(), origin="example.org.", relativize=False)
    assert zone.get_rdataset("example.org.", dns.rdatatype.NS) is not None
    assert provider.list_records()["example.org"].values == ("v=spf1 mx -all",)
    assert not [p for p in path.parent.iterdir() if p != path]  # no temp file left behind


def test_file_mode_is_kept(zone_file: Path) -> None:
    os.chmod(zone_file, 0o640)
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    provider.apply([Create(TxtRecordSet("x.example.com", ("v=spf1 -all",)))])
    assert zone_file.stat().st_mode & 0o777 == 0o640


def test_custom_filename_and_origin_changes(tmp_path: Path) -> None:
    path = tmp_path / "db.example"
    path.write_text(
        ZONE + '$ORIGIN sub.example.com.\nmail IN A 192.0.2.9\n@ IN TXT "v=spf1 a -all"\n'
    )
    provider = ZoneFileProvider("example.com", directory=tmp_path, filename="db.example")
    provider.apply([Create(TxtRecordSet("sub.example.com", ("v=spf1 a mx -all",)))])
    zone = load(path)
    assert zone.get_rdataset("mail.sub.example.com.", dns.rdatatype.A) is not None
    assert provider.list_records()["sub.example.com"].values == ("v=spf1 a mx -all",)


def test_unparseable_zone_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "example.com.zone").write_text("@ IN SOA broken\n")
    provider = ZoneFileProvider("example.com", directory=tmp_path)
    with pytest.raises(ProviderError, match=r"example\.com\.zone"):
        provider.list_records()


def test_serial_arithmetic() -> None:
    today = datetime.date(2025, 3, 4)
    assert _next_serial(2024010101, today) == 2025030400
    assert _next_serial(2025030400, today) == 2025030401
    assert _next_serial(7, today) == 8
    assert _next_serial(2**32 - 1, today) == 0


def test_multi_line_txt_and_crlf_line_endings(tmp_path: Path) -> None:
    text = (
        ZONE
        + 'multi IN TXT ( "v=spf1 (a;" ; comment ) in a string\n    "b" )\nafter IN A 192.0.2.3\n'
    )
    path = tmp_path / "example.com.zone"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    provider = ZoneFileProvider("example.com", directory=tmp_path)
    assert provider.list_records()["multi.example.com"].values == ("v=spf1 (a;b",)
    provider.apply([Create(TxtRecordSet("multi.example.com", ("v=spf1 -all",)))])
    raw = path.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b'"b" )' not in raw and b"after IN A 192.0.2.3\r\n" in raw
    assert provider.list_records()["multi.example.com"].values == ("v=spf1 -all",)
