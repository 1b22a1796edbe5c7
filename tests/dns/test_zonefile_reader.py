"""ZoneResolver: a BIND zone file as offline DNS, and LayeredResolver over zones and snapshots."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from spfmanager.dns.base import MXRecord, RRType
from spfmanager.dns.overlay import Layer, LayeredResolver
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.dns.zonefile import ZoneResolver
from spfmanager.errors import DNSTemporaryError, SnapshotError

# As the zone-file provider writes it (no $ORIGIN: the file's name gives the zone), plus
# what people add by hand.
PUBLISHED = """\
$TTL 3600
@\t3600\tIN\tSOA\tlocalhost. hostmaster.example.com. ( 2026120101 3600 900 1209600 300 )
@\t3600\tIN\tNS\tlocalhost.
; the root record, split into character-strings
@\t3600\tIN\tTXT\t"v=spf1 ip4:192.0.2.0/24 " "redirect=_spf1.example.com"
@\t3600\tIN\tTXT\t"google-site-verification=abc"  ; not SPF
@\tIN\tMX\t10 Mail.Example.com.
_spf1\t3600\tIN\tTXT\t( "v=spf1 ip6:2001:db8::/32"
\t\t\t" -all" )
mail\tIN\tA\t192.0.2.25
mail\tIN\tAAAA\t2001:db8::25
25.2.0.192.in-addr\tIN\tPTR\tmail
_sip._tcp\tIN\tSRV\t0 5 5060 sip
legacy\tIN\tSPF\t"v=spf1 -all"
www\tIN\tCNAME\tmail
*.wild\tIN\tTXT\t"v=spf1 -all"
deep.a.b\tIN\tA\t192.0.2.9
sub\tIN\tNS\tns.elsewhere.example.
ns.sub\tIN\tA\t192.0.2.53
vendor\tIN\tCNAME\tspf.vendor.example.
octets\tIN\tTXT\t"caf\\195\\169" "\\255"
"""


@pytest.fixture
def zone(tmp_path: Path) -> ZoneResolver:
    path = tmp_path / "example.com.zone"
    path.write_text(PUBLISHED, encoding="utf-8")
    return ZoneResolver.from_file(path)


def test_reads_a_published_zone_file(zone: ZoneResolver) -> None:
    assert zone.origin == "example.com"
    texts = zone.query("EXAMPLE.com.", RRType.TXT).texts()
    assert [t.strings for t in texts if t.data.startswith(b"v=spf1")] == [
        (b"v=spf1 ip4:192.0.2.0/24 ", b"redirect=_spf1.example.com")
    ]
    assert len(texts) == 2
    (chained,) = zone.query("_spf1.example.com", RRType.TXT).texts()
    assert chained.data == b"v=spf1 ip6:2001:db8::/32 -all"
    assert zone.query("example.com", RRType.MX).records == (MXRecord(10, "mail.example.com"),)
    assert zone.query("mail.example.com", RRType.A).records == (IPv4Address("192.0.2.25"),)
    assert zone.query("mail.example.com", RRType.AAAA).records == (IPv6Address("2001:db8::25"),)
    ptr = zone.query("25.2.0.192.in-addr.example.com", RRType.PTR)
    assert ptr.names() == ["mail.example.com"]
    (octets,) = zone.query("octets.example.com", RRType.TXT).texts()
    assert octets.strings == ("café".encode(), b"\xff")  # as written, escapes decoded


def test_names_of_the_zone_without_records(zone: ZoneResolver) -> None:
    missing = zone.query("nope.example.com", RRType.TXT)
    assert missing.nxdomain and missing.name == "nope.example.com"
    nodata = zone.query("mail.example.com", RRType.TXT)
    assert nodata.is_void and not nodata.nxdomain
    # an empty non-terminal exists: NODATA
    between = zone.query("a.b.example.com", RRType.A)
    assert between.is_void and not between.nxdomain
    # other types make a name exist, without records SPF could use
    for name in ("_sip._tcp.example.com", "legacy.example.com"):
        answer = zone.query(name, RRType.TXT)
        assert answer.is_void and not answer.nxdomain, name  # the SPF type is not TXT


def test_cname_wildcard_and_delegation(zone: ZoneResolver) -> None:
    www = zone.query("www.example.com", RRType.A)
    assert www.name == "www.example.com" and www.addresses() == [IPv4Address("192.0.2.25")]
    assert zone.query("www.example.com", RRType.CNAME).names() == ["mail.example.com"]
    (wild,) = zone.query("anything.wild.example.com", RRType.TXT).texts()
    assert wild.data == b"v=spf1 -all"
    assert zone.query("x.y.wild.example.com", RRType.TXT).texts()  # any depth below it
    assert zone.query("x.mail.example.com", RRType.TXT).nxdomain  # no wildcard there
    assert not zone.covers("sub.example.com") and not zone.covers("ns.sub.example.com")
    assert zone.covers("example.com") and zone.covers("nope.example.com")
    assert not zone.covers("example.org") and not zone.covers("notexample.com")
    assert zone.query("example.org", RRType.TXT).nxdomain  # alone: outside is NXDOMAIN
    # a CNAME out of the zone: alone the zone cannot follow it
    assert zone.cname("vendor.example.com") == "spf.vendor.example"
    assert zone.query("vendor.example.com", RRType.TXT).nxdomain


def test_origin_explicit_then_origin_directive_then_file_name(tmp_path: Path) -> None:
    text = '$ORIGIN example.net.\n@ 300 IN TXT "v=spf1 -all"\n'
    path = tmp_path / "example.com.zone"
    path.write_text(text, encoding="utf-8")
    assert ZoneResolver.from_file(path).origin == "example.net"  # the file's $ORIGIN
    relative = tmp_path / "db.example"
    relative.write_text('@ 300 IN TXT "v=spf1 -all"\n', encoding="utf-8")
    named = ZoneResolver.from_file(relative, "Example.ORG.")
    assert named.origin == "example.org"
    assert named.query("example.org", RRType.TXT).texts()
    with pytest.raises(SnapshotError) as caught:
        ZoneResolver.from_file(relative)
    assert str(caught.value).startswith(f"{relative}: cannot tell which zone")
    assert "$ORIGIN" in str(caught.value)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("bad IN A 300.1.2.3", "Text input is malformed: bad IN A 300.1.2.3"),
        ("bad IN BOGUS x", "unknown rdatatype 'BOGUS'"),
        ("bad IN MX ten mail", "expecting an integer"),
        ("bad IN A", "expecting an identifier"),
        ('bad IN TXT "unterminated', "newline in quoted string"),
        ("bad IN TXT " + '"' + "x" * 300 + '"', "string too long"),
        ("a..b IN A 192.0.2.1", "label is empty"),
        ("$INCLUDE other.zone", "'$INCLUDE' is not allowed"),
    ],
)
def test_bad_zone_files_name_file_and_line(tmp_path: Path, bad: str, message: str) -> None:
    path = tmp_path / "example.com.zone"
    path.write_text(f"$TTL 300\n; a comment\n\n{bad}\nok IN A 192.0.2.1\n", encoding="utf-8")
    with pytest.raises(SnapshotError) as caught:  # never one of dnspython's exceptions
        ZoneResolver.from_file(path)
    assert str(caught.value).startswith(f"{path}:4: ")
    assert message in str(caught.value)


def test_line_numbers_with_crlf_and_multi_line_records(tmp_path: Path) -> None:
    path = tmp_path / "example.com.zone"
    path.write_bytes(b'$TTL 300\r\n@ IN TXT ( "a"\r\n "b" )\r\n\r\nx IN A 192.0.2.999\r\n')
    with pytest.raises(SnapshotError, match=r"\.zone:5: .*x IN A 192\.0\.2\.999$"):
        ZoneResolver.from_file(path)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match=r"nope\.zone: cannot read zone file"):
        ZoneResolver.from_file(tmp_path / "nope.zone")
    path = tmp_path / "example.com.zone"
    path.write_bytes(b'@ IN TXT "ok"\nx IN TXT "\xff"\n')
    with pytest.raises(SnapshotError, match=r"example\.com\.zone:2: not UTF-8"):
        ZoneResolver.from_file(path)


def test_layers_zone_first_then_snapshots_in_order(zone: ZoneResolver) -> None:
    upstream = SnapshotResolver(
        {
            "example.com": [{"TXT": "v=spf1 +all"}],  # hidden by the zone
            "spf.vendor.example": [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}],
            "sub.example.com": [{"TXT": "v=spf1 -all"}],  # delegated: the snapshot's
            "slow.example": ["TIMEOUT"],
        }
    )
    older = SnapshotResolver(
        {
            "spf.vendor.example": [{"TXT": "v=spf1 -all"}],  # hidden by the first snapshot
            "other.example": [{"A": "192.0.2.7"}],
        }
    )
    layers: list[Layer] = [zone, upstream, older]
    resolver = LayeredResolver(layers)
    root = resolver.query("example.com", RRType.TXT).texts()
    assert all(b"+all" not in t.data for t in root)
    assert resolver.query("nope.example.com", RRType.TXT).nxdomain  # the zone says so
    (vendor,) = resolver.query("spf.vendor.example", RRType.TXT).texts()
    assert vendor.data == b"v=spf1 ip4:198.51.100.0/24 -all"
    # the zone's alias of a vendor's name is followed into the snapshot
    alias = resolver.query("vendor.example.com", RRType.TXT)
    assert alias.name == "vendor.example.com" and alias.texts() == [vendor]
    assert resolver.query("sub.example.com", RRType.TXT).texts()
    assert resolver.query("other.example", RRType.A).addresses() == [IPv4Address("192.0.2.7")]
    uncovered = resolver.query("unknown.example", RRType.TXT)
    assert uncovered.nxdomain
    with pytest.raises(DNSTemporaryError):
        resolver.query("slow.example", RRType.TXT)
    assert resolver.layer_for("www.example.com") is zone
    assert resolver.queries == 8


def test_cname_loop_across_layers_is_a_temporary_error() -> None:
    a = ZoneResolver("a.example", {"x.a.example": [{"CNAME": "y.b.example"}]})
    b = SnapshotResolver({"y.b.example": [{"CNAME": "x.a.example"}]})
    with pytest.raises(DNSTemporaryError, match="CNAME chain too long"):
        LayeredResolver([a, b]).query("x.a.example", RRType.TXT)
