"""SnapshotResolver: the zonedata conventions, and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from spfmanager import DNSTemporaryError, RRType, SnapshotResolver
from spfmanager.errors import SnapshotError

ZONE = {
    "example.com": [
        {"TXT": ["v=spf1 ip4:192.0.2.0/24 ", "-all"]},
        {"A": "192.0.2.10"},
        {"MX": [10, "MX.Example.com."]},
    ],
    "spf-only.example": [{"SPF": "v=spf1 -all"}],
    "spf-none.example": [{"SPF": "v=spf1 -all"}, {"TXT": "NONE"}],
    "slow.example": [{"A": "192.0.2.1"}, "TIMEOUT"],
    "alias.example": [{"CNAME": "example.com"}],
}


def test_conventions() -> None:
    resolver = SnapshotResolver(ZONE)
    (txt,) = resolver.query("EXAMPLE.com.", RRType.TXT).texts()
    assert txt.strings == (b"v=spf1 ip4:192.0.2.0/24 ", b"-all")
    assert txt.data == b"v=spf1 ip4:192.0.2.0/24 -all"
    assert resolver.query("example.com", RRType.MX).exchanges()[0].exchange == "mx.example.com"
    assert resolver.query("missing.example", RRType.A).nxdomain
    nodata = resolver.query("example.com", RRType.AAAA)
    assert nodata.is_void and not nodata.nxdomain
    assert resolver.query("spf-only.example", RRType.TXT).texts()
    assert not resolver.query("spf-none.example", RRType.TXT).texts()
    assert resolver.query("slow.example", RRType.A).addresses()
    with pytest.raises(DNSTemporaryError):
        resolver.query("slow.example", RRType.TXT)
    assert resolver.query("alias.example", RRType.A).addresses()[0].exploded == "192.0.2.10"
    assert resolver.queries == 9


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a.example:\n  - A: 1.2.3.4\n  - A: 300.1.1.1\n", ":3:", "bad A value"),
        ("a.example:\n  - FOO: x\n", ":2:", "unsupported record type 'FOO'"),
        ("a.example:\n  - [1, 2]\n", ":2:", "bad entry"),
        ("a.example:\n  - TXT: x\na.example: []\n", ":3:", "duplicate key"),
        ("a.example: [\n", ":", "invalid YAML"),
        ("- just a list\n", ":1:", "mapping of DNS names"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = tmp_path / "snap.yaml"
    path.write_text(text)
    with pytest.raises(SnapshotError) as caught:
        SnapshotResolver.from_file(path)
    assert str(caught.value).startswith(f"{path}{where}")
    assert message in str(caught.value)
