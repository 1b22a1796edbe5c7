"""``spfmanager check --zone``: the zone file about to be published, over snapshots, offline.

Run as a user runs the command: a fresh ``python -m spfmanager`` process in a directory of
its own (the over-limit example applied with the zone-file provider writes the zone).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from spfmanager.cli import progress
from spfmanager.cli.check import _progress
from spfmanager.dns.base import Answer, RRType, TimedResolver, query_within
from spfmanager.dns.snapshot import SnapshotResolver
from tests.cli.run import run_cli

EXAMPLE = Path(__file__).parents[2] / "examples" / "over-limit"
KEPT = "include:spf.protection.outlook.com"  # left as it is: resolved from the snapshot


def nodes(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("children", []))


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The over-limit example, one include kept, applied offline: zones/bigcorp.example.zone."""
    work = tmp_path_factory.mktemp("over-limit")
    config = (EXAMPLE / "spfmanager.yaml").read_text(encoding="utf-8")
    ip6 = '    ip6: ["2001:db8:10::/48"]\n'
    assert ip6 in config
    config = config.replace(ip6, f'{ip6}    keep: ["{KEPT}"]\n', 1)
    (work / "spfmanager.yaml").write_text(config, encoding="utf-8")
    snapshot = (EXAMPLE / "dns-snapshot.yaml").read_text(encoding="utf-8")
    (work / "dns-snapshot.yaml").write_text(snapshot, encoding="utf-8")
    done = run_cli(
        "apply", "-c", "spfmanager.yaml", "--dns-snapshot", "dns-snapshot.yaml", cwd=work
    )
    assert done.returncode == 0, done.stderr
    assert (work / "zones" / "bigcorp.example.zone").is_file()
    return work


def test_published_zone_over_the_vendors_snapshot(applied: Path) -> None:
    args = ("--zone", "zones/bigcorp.example.zone", "--dns-snapshot", "dns-snapshot.yaml")
    done = run_cli("check", "bigcorp.example", *args, cwd=applied)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No problems found." in done.stdout
    assert f"{KEPT}  1 lookup" in done.stdout
    assert "Traceback" not in done.stderr

    as_json = run_cli("check", "bigcorp.example", *args, "--json", cwd=applied)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["ok"] is True and data["findings"] == []
    found = list(nodes(data["tree"]))
    assert {n["status"] for n in found} == {"ok"}
    # the root and its chained records come from the zone file, every one of them ...
    zone_text = (applied / "zones" / "bigcorp.example.zone").read_text(encoding="utf-8")
    chained = [n for n in found if n["domain"].endswith("bigcorp.example")]
    assert len(chained) >= 3 and data["tree"]["record"].startswith(f"v=spf1 {KEPT} ")
    for node in chained:
        label = node["domain"].removesuffix(".bigcorp.example")
        first = node["record"].split(" ip")[0]
        assert label == "bigcorp.example" or f"\n{label}\t" in zone_text, node["domain"]
        assert first in zone_text
    # ... the vendor's record from the snapshot
    (vendor,) = (n for n in found if n["term"] == KEPT)
    snap = SnapshotResolver.from_file(applied / "dns-snapshot.yaml")
    (txt,) = snap.query("spf.protection.outlook.com", RRType.TXT).texts()
    assert vendor["record"] == txt.data.decode()


def test_without_the_snapshot_the_vendor_is_missing(applied: Path) -> None:
    done = run_cli("check", "bigcorp.example", "--zone", "zones/bigcorp.example.zone", cwd=applied)
    assert done.returncode == 2, done.stdout  # a name no file covers is NXDOMAIN
    assert "include-missing" in done.stdout


ZONE = """\
$ORIGIN shop.example.
$TTL 300
@  IN SOA ns1.shop.example. hostmaster.shop.example. ( 1 3600 900 1209600 300 )
   IN NS  ns1
ns1 IN A 192.0.2.53
; only addresses: no lookups
@  IN TXT "v=spf1 ip4:192.0.2.0/24 " "ip4:198.51.100.0/24 -all"
@  IN MX 10 mail
mail IN A 192.0.2.25
_dmarc IN TXT "v=DMARC1; p=reject"
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "shop.zone").write_text(ZONE, encoding="utf-8")  # the name gives no zone
    return tmp_path


def test_zone_alone_with_addresses_only(shop: Path) -> None:
    done = run_cli("check", "shop.example", "--zone", "shop.zone", "--json", cwd=shop)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["tree"]["record"] == "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 -all"
    assert data["lookups"]["count"] == 0 and data["ok"] is True
    assert done.stderr == ""  # offline: no progress either


def test_connection_against_a_zone(shop: Path) -> None:
    done = run_cli("check", "shop.example", "--ip", "192.0.2.1", "--zone", "shop.zone", cwd=shop)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Result: pass" in done.stdout
    elsewhere = run_cli(
        "check", "shop.example", "--ip", "203.0.113.9", "--zone", "shop.zone", "--json", cwd=shop
    )
    assert elsewhere.returncode == 2
    assert json.loads(elsewhere.stdout)["evaluation"]["result"] == "fail"


def test_zone_answers_before_snapshots_whatever_the_order(shop: Path) -> None:
    (shop / "old.yaml").write_text(
        "shop.example:\n  - TXT: v=spf1 ip4:203.0.113.0/24 -all\n"
        "vendor.example:\n  - TXT: v=spf1 -all\n",
        encoding="utf-8",
    )
    (shop / "new.yaml").write_text(
        "vendor.example:\n  - TXT: v=spf1 ip4:203.0.113.0/24 -all\n", encoding="utf-8"
    )
    ip = ("--ip", "203.0.113.9", "--json")
    done = run_cli(
        "check", "shop.example", *ip, "--dns-snapshot", "old.yaml", "--zone", "shop.zone", cwd=shop
    )
    assert done.returncode == 2  # the zone's record, not the snapshot's, answered
    assert json.loads(done.stdout)["evaluation"]["result"] == "fail"
    # snapshots: the first given that lists a name answers for it
    first_new = ("--dns-snapshot", "new.yaml", "--dns-snapshot", "old.yaml")
    assert run_cli("check", "vendor.example", *ip, *first_new, cwd=shop).returncode == 0
    first_old = ("--dns-snapshot", "old.yaml", "--dns-snapshot", "new.yaml")
    assert run_cli("check", "vendor.example", *ip, *first_old, cwd=shop).returncode == 2


def test_zone_named_on_the_command_line(shop: Path) -> None:
    (shop / "db.shop").write_text(ZONE.replace("$ORIGIN shop.example.\n", ""), encoding="utf-8")
    unnamed = run_cli("check", "shop.example", "--zone", "db.shop", cwd=shop)
    assert unnamed.returncode == 1
    assert "db.shop: cannot tell which zone the file holds" in unnamed.stderr
    named = run_cli("check", "shop.example", "--zone", "shop.example=db.shop", cwd=shop)
    assert named.returncode == 0, named.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("bad IN A 192.0.2.300", "Text input is malformed: bad IN A 192.0.2.300"),
        ('bad IN TXT "v=spf1 -all', "newline in quoted string"),
        ("bad IN BOGUS 1", "unknown rdatatype 'BOGUS'"),
    ],
)
def test_malformed_zone_names_file_and_line(shop: Path, line: str, message: str) -> None:
    lines = ZONE.splitlines()
    lines.insert(5, line)  # line 6
    (shop / "shop.zone").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = run_cli("check", "shop.example", "--zone", "shop.zone", cwd=shop)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: shop.zone:6: {message}"), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--zone", "missing.zone"), "missing.zone: cannot read zone file"),
        (("--zone", "shop.zone", "--nameserver", "127.0.0.1"), "cannot be used together"),
        (("--dns-snapshot", "a.yaml", "--dns-snapshot", "b.yaml", "--nameserver", "127.0.0.1"),
         "cannot be used together"),
        (("--zone", "not a zone=shop.zone"), "--zone takes FILE or ZONE=FILE"),
    ],
)  # fmt: skip
def test_usage_errors(shop: Path, args: tuple[str, ...], message: str) -> None:
    done = run_cli("check", "shop.example", *args, cwd=shop)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr


def test_live_lookups_report_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each live query (timed or not) is reported as it starts; offline ones are not."""
    seen: list[str] = []

    @contextmanager
    def steps(label: str, total: int | None, *, lines: bool = True) -> Iterator[Any]:
        assert (label, total, lines) == ("resolving", None, False)
        yield seen.append

    monkeypatch.setattr(progress, "steps", steps)
    snapshot = SnapshotResolver({"a.example": [{"TXT": "v=spf1 -all"}]})
    with _progress(snapshot, live=False) as same:
        assert same is snapshot
    with _progress(snapshot, live=True) as watched:
        assert isinstance(watched, TimedResolver)  # the deadline still bounds each query
        answers: list[Answer] = [
            watched.query("a.example", RRType.TXT),
            query_within(watched, "b.example", RRType.A, 1.0),
        ]
    assert answers[0].texts() and answers[1].nxdomain
    assert seen == ["a.example TXT", "b.example A"]
