"""ZoneFileProvider: edits only the TXT lines it manages, bumps the serial, is idempotent."""

from __future__ import annotations

import datetime
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dns.rdatatype
import dns.zone
import pytest

from spfmanager.errors import ProviderError
from spfmanager.providers.zonefile import ZoneFileProvider, _next_serial
from spfmanager.publish.changes import Change, Create, Delete, RecordSet, Update

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
        "example.com": RecordSet("example.com", ("v=spf1 -all",), 3600),
        "_spf.example.com": RecordSet("_spf.example.com", ("v=spf1 ip4:192.0.2.0/24 -all",), 3600),
        "verify.example.com": RecordSet("verify.example.com", ("keep; meintact",), 300),
    }


def test_round_trip_preserves_everything_else(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    old = provider.list_records()
    before = serial(zone_file)
    provider.apply(
        [
            Update(old["example.com"], RecordSet("example.com", (LONG, "site-verify=abc"))),
            Delete(old["_spf.example.com"]),
            Create(RecordSet("_spf2.example.com", ("v=spf1 ip4:203.0.113.7 -all",), 60)),
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
    assert records["example.com"] == RecordSet("example.com", ("site-verify=abc", LONG))
    assert records["_spf2.example.com"].values == ("v=spf1 ip4:203.0.113.7 -all",)
    assert records["_spf2.example.com"].ttl == 60
    assert records["verify.example.com"].values == ("keep; meintact",)


def test_long_values_are_split_into_255_byte_strings(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    value = "v=spf1 " + "a" * 600 + " -all"
    provider.apply([Create(RecordSet("long.example.com", (value,)))])
    rdataset = load(zone_file).find_rdataset("long.example.com.", dns.rdatatype.TXT)
    strings = rdataset[0].strings
    assert all(len(s) <= 255 for s in strings)
    assert b"".join(strings).decode() == value
    assert provider.list_records(["long.example.com"])["long.example.com"].values == (value,)


def test_second_apply_leaves_the_file_untouched(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    changes: list[Change] = [
        Create(RecordSet("example.com", (LONG,))),
        Delete(RecordSet("_spf.example.com", ())),
        Delete(RecordSet("gone.example.com", ())),
    ]
    provider.apply(changes)
    content, stat = zone_file.read_bytes(), zone_file.stat()
    provider.apply(changes)
    assert zone_file.read_bytes() == content
    assert zone_file.stat().st_mtime_ns == stat.st_mtime_ns


def test_creates_a_loadable_zone_when_missing(tmp_path: Path) -> None:
    provider = ZoneFileProvider("Example.ORG.", directory=tmp_path / "zones")
    assert provider.list_records() == {}
    provider.apply([Create(RecordSet("example.org", ("v=spf1 mx -all",)))])
    path = tmp_path / "zones" / "example.org.zone"
    zone = dns.zone.from_text(path.read_text(), origin="example.org.", relativize=False)
    assert zone.get_rdataset("example.org.", dns.rdatatype.NS) is not None
    assert provider.list_records()["example.org"].values == ("v=spf1 mx -all",)
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == [".example.org.zone.lock", "example.org.zone"]  # no temporary left


def test_file_mode_is_kept(zone_file: Path) -> None:
    os.chmod(zone_file, 0o640)
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    provider.apply([Create(RecordSet("x.example.com", ("v=spf1 -all",)))])
    assert zone_file.stat().st_mode & 0o777 == 0o640


def test_custom_filename_and_origin_changes(tmp_path: Path) -> None:
    path = tmp_path / "db.example"
    path.write_text(
        ZONE + '$ORIGIN sub.example.com.\nmail IN A 192.0.2.9\n@ IN TXT "v=spf1 a -all"\n'
    )
    provider = ZoneFileProvider("example.com", directory=tmp_path, filename="db.example")
    provider.apply([Create(RecordSet("sub.example.com", ("v=spf1 a mx -all",)))])
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
    provider.apply([Create(RecordSet("multi.example.com", ("v=spf1 -all",)))])
    raw = path.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b'"b" )' not in raw and b"after IN A 192.0.2.3\r\n" in raw
    assert provider.list_records()["multi.example.com"].values == ("v=spf1 -all",)


# -- symlinks, stale temporaries, the zone lock (issue 7: 3, 13, 2) -----------------------

SPF = RecordSet("example.com", ("v=spf1 ip4:203.0.113.0/24 -all",), 300)


@pytest.mark.parametrize("kind", ["relative", "absolute", "other-directory"])
def test_a_symlinked_zone_file_is_written_through_the_link(tmp_path: Path, kind: str) -> None:
    zones = tmp_path / "zones"
    zones.mkdir()
    real_dir = zones if kind != "other-directory" else tmp_path / "bind" / "primary"
    real_dir.mkdir(parents=True, exist_ok=True)
    real = real_dir / "db.example.com"
    real.write_text(ZONE)
    os.chmod(real, 0o640)
    link = zones / "example.com.zone"
    link.symlink_to(real if kind == "absolute" else os.path.relpath(real, zones))

    provider = ZoneFileProvider("example.com", directory=zones)
    provider.apply([Create(SPF)])

    assert link.is_symlink() and link.resolve() == real  # still a link, to the same file
    assert "203.0.113.0/24" in real.read_text()  # the real file got the record
    assert real.stat().st_mode & 0o777 == 0o640
    assert provider.list_records()["example.com"] == SPF  # and plan sees it through the link
    provider.apply([Create(SPF)])  # in sync: nothing to write
    assert sorted(p.name for p in real_dir.iterdir() if p.name.startswith(".")) == [
        ".db.example.com.lock"  # the lock beside the real file; no temporary left
    ]
    if kind == "other-directory":
        assert sorted(p.name for p in zones.iterdir()) == ["example.com.zone"]


def test_a_chain_of_symlinks_is_followed_to_the_end(tmp_path: Path) -> None:
    real = tmp_path / "real.zone"
    real.write_text(ZONE)
    (tmp_path / "middle.zone").symlink_to("real.zone")
    (tmp_path / "example.com.zone").symlink_to(tmp_path / "middle.zone")
    ZoneFileProvider("example.com", directory=tmp_path).apply([Create(SPF)])
    assert (tmp_path / "middle.zone").is_symlink()
    assert (tmp_path / "example.com.zone").is_symlink()
    assert "203.0.113.0/24" in real.read_text()


def test_stale_temporaries_of_this_zone_file_are_removed_before_writing(
    zone_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = zone_file.parent
    stale = [
        ".example.com.zone.spfmanager-a1b2c3d4.tmp",
        ".example.com.zone.spfmanager-zz_00119.tmp",
    ]
    kept = [
        ".example.com.zone.k3j2h1g0",  # an older version's name, or a person's file: reported
        ".example.com.zone.spfmanager-mine.tmp",  # not mkstemp's 8 random characters
        ".example.org.zone.spfmanager-a1b2c3d4.tmp",  # another zone's
        ".example.com.zone.bak",
        "example.com.zone.spfmanager-a1b2c3d4.tmp",
        "notes.txt",
    ]
    for name in stale + kept:
        (directory / name).write_text("partial")
    ZoneFileProvider("example.com", directory=directory).apply([Create(SPF)])
    left = sorted(p.name for p in directory.iterdir())
    assert left == sorted([*kept, ".example.com.zone.lock", "example.com.zone"])
    assert "removing .example.com.zone.spfmanager-a1b2c3d4.tmp" in caplog.text
    assert ".example.com.zone.k3j2h1g0 looks like a temporary" in caplog.text


INTERRUPTED_WRITE = """
import os, signal, sys
from spfmanager.publish.changes import Create, RecordSet
from spfmanager.providers.zonefile import ZoneFileProvider
os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)  # dies before the rename
ZoneFileProvider("example.com", directory=sys.argv[1]).apply(
    [Create(RecordSet("example.com", ("v=spf1 -all",)))]
)
"""


def test_a_killed_write_leaves_a_recognisable_temporary_the_next_write_removes(
    zone_file: Path,
) -> None:
    before = zone_file.read_bytes()
    run = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_WRITE, str(zone_file.parent)], timeout=30, check=False
    )
    assert run.returncode == -signal.SIGKILL
    assert zone_file.read_bytes() == before  # the zone is untouched
    leftovers = [p.name for p in zone_file.parent.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1
    assert re.fullmatch(r"\.example\.com\.zone\.spfmanager-[a-z0-9_]{8}\.tmp", leftovers[0])
    ZoneFileProvider("example.com", directory=zone_file.parent).apply([Create(SPF)])
    assert not [p for p in zone_file.parent.iterdir() if p.name.endswith(".tmp")]


HOLDER = """
import sys
from spfmanager.errors import ProviderError
from spfmanager.publish.changes import Create, RecordSet
from spfmanager.providers.zonefile import ZoneFileProvider
provider = ZoneFileProvider("example.com", directory=sys.argv[1])
provider.lock_timeout = float(sys.argv[3])
try:
    if sys.argv[2] == "hold":
        with provider.exclusive(5) as held:
            print("held" if held else "not held", flush=True)
            sys.stdin.readline()  # until the test says so
    else:
        provider.apply([Create(RecordSet("example.com", ("v=spf1 a -all",)))])
        print("applied", flush=True)
except ProviderError as exc:
    print("error:", exc, flush=True)
"""


def other_process(directory: Path, action: str, wait: float = 5.0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory), action, str(wait)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_never_hold_the_zone_lock_at_once(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    holder = other_process(zone_file.parent, "hold")
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == "held\n"
        started = time.monotonic()
        with pytest.raises(ProviderError, match=r"example\.com\.zone.*locked") as info:
            provider.exclusive(0.3).__enter__()  # raises: the other process holds it
        assert time.monotonic() - started >= 0.3  # it polled until the timeout
        assert str(zone_file) in str(info.value)
        releaser = threading.Timer(0.3, holder.stdin.close)  # release while we wait
        releaser.start()
        with provider.exclusive(5) as held:
            assert held is True
            assert holder.wait(timeout=5) == 0
            # and now the other process cannot write while we hold it
            writer = other_process(zone_file.parent, "apply", wait=0.3)
            out, _ = writer.communicate(timeout=10)
            assert out.startswith("error: zonefile: ") and "locked" in out
            assert "v=spf1 a -all" not in zone_file.read_text()
        writer = other_process(zone_file.parent, "apply", wait=0.3)
        out, _ = writer.communicate(timeout=10)
        assert out == "applied\n"
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_is_reentrant_for_its_thread_and_excludes_other_threads(
    zone_file: Path,
) -> None:
    link = zone_file.parent / "link.zone"
    link.symlink_to(zone_file.name)
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    same_file = ZoneFileProvider("example.com", directory=zone_file.parent, filename="link.zone")
    outcome: list[str] = []

    def other_thread(timeout: float) -> None:
        try:
            with same_file.exclusive(timeout):
                outcome.append("held")
        except ProviderError as exc:
            outcome.append(f"error: {exc}")

    with provider.exclusive(1) as held, provider.exclusive(1) as again:
        assert held and again
        provider.apply([Create(SPF)])  # apply takes the lock again: no deadlock
        same_file.apply([Create(RecordSet("x.example.com", ("v=spf1 -all",)))])
        thread = threading.Thread(target=other_thread, args=(0.2,))
        thread.start()
        thread.join()
        assert outcome and outcome[0].startswith("error:") and "locked" in outcome[0]
    assert set(provider.list_records()) >= {"example.com", "x.example.com"}
    thread = threading.Thread(target=other_thread, args=(1,))
    thread.start()
    thread.join()
    assert outcome[1] == "held"  # both levels released


def test_an_unusable_zone_directory_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "zones").write_text("a file, not a directory")
    provider = ZoneFileProvider("example.com", directory=tmp_path / "zones")
    with pytest.raises(ProviderError, match=r"zonefile: .*example\.com\.zone"):
        provider.apply([Create(SPF)])


# -- delegations: NS and glue A/AAAA beside the TXT records ----------------------------------

NS = RecordSet("spf.example.com", ("ns1.spf.example.com",), 600, "NS")
GLUE_A = RecordSet("ns1.spf.example.com", ("192.0.2.53",), 600, "A")
GLUE_AAAA = RecordSet("ns1.spf.example.com", ("2001:db8::53",), 600, "AAAA")
DELEGATION = (NS, GLUE_A, GLUE_AAAA)
DELEGATION_LINES = (
    "spf\t600\tIN\tNS\tns1.spf.example.com.\n"
    "ns1.spf\t600\tIN\tA\t192.0.2.53\n"
    "ns1.spf\t600\tIN\tAAAA\t2001:db8::53\n"
)


def with_serial(text: str, value: int) -> str:
    return text.replace("2024010101 ; serial", f"{value} ; serial")


def listed(provider: ZoneFileProvider, names: list[str], rtype: str) -> dict[str, RecordSet]:
    return provider.list_records(names, rtype)


def test_a_delegation_is_appended_and_everything_else_kept(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    txt_before = provider.list_records()
    provider.apply([Create(rs) for rs in DELEGATION])

    text = zone_file.read_text()
    assert text == with_serial(ZONE, serial(zone_file)) + DELEGATION_LINES
    assert serial(zone_file) > 2024010101
    assert provider.list_records() == txt_before  # TXT untouched
    assert listed(provider, ["spf.example.com"], "NS") == {"spf.example.com": NS}
    assert listed(provider, ["ns1.spf.example.com"], "A") == {"ns1.spf.example.com": GLUE_A}
    assert listed(provider, ["ns1.spf.example.com"], "AAAA") == {"ns1.spf.example.com": GLUE_AAAA}
    zone = load(zone_file)  # glue beneath the cut is kept, the NS target is absolute
    ns = zone.find_rdataset("spf.example.com.", dns.rdatatype.NS)
    assert [rd.target.to_text() for rd in ns] == ["ns1.spf.example.com."]
    assert zone.get_rdataset("ns1.spf.example.com.", dns.rdatatype.A) is not None


def test_only_the_changed_type_at_a_name_is_rewritten(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    spf = provider.list_records(["_spf.example.com"])["_spf.example.com"]
    aaaa = listed(provider, ["_spf.example.com"], "AAAA")["_spf.example.com"]
    assert aaaa == RecordSet("_spf.example.com", ("2001:db8::1",), 3600, "AAAA")
    apex_a = RecordSet("example.com", ("192.0.2.10",), 3600, "A")
    provider.apply(
        [
            Update(
                aaaa, RecordSet("_spf.example.com", ("2001:db8::2", "2001:db8::1"), 3600, "AAAA")
            ),
            Create(apex_a),  # an A at a name that has TXT, NS and MX
            Create(RecordSet("ns1.example.com", ("2001:db8::5",), 3600, "AAAA")),
        ]
    )
    text = zone_file.read_text()
    # the new value goes where the set was; the value that stays keeps its line, and the
    # TXT beside it is untouched
    assert (
        '_spf IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n'
        "_spf\t3600\tIN\tAAAA\t2001:db8::2\n"
        "    IN AAAA 2001:db8::1\n"
    ) in text
    assert text.endswith('"intact"\n@\t3600\tIN\tA\t192.0.2.10\nns1\t3600\tIN\tAAAA\t2001:db8::5\n')
    assert "ns1 IN A 192.0.2.1\n" in text and "ns1\t3600\tIN\tAAAA\t2001:db8::5\n" in text
    assert provider.list_records(["_spf.example.com"])["_spf.example.com"] == spf
    assert listed(provider, ["_spf.example.com"], "AAAA")["_spf.example.com"].values == (
        "2001:db8::1",
        "2001:db8::2",
    )
    assert listed(provider, ["example.com"], "A") == {"example.com": apex_a}
    zone = load(zone_file)
    assert zone.get_rdataset("example.com.", dns.rdatatype.MX) is not None
    assert len(zone.find_rdataset("example.com.", dns.rdatatype.NS)) == 1


def test_glue_update_replaces_the_address(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    provider.apply([Create(rs) for rs in DELEGATION])
    moved = RecordSet("ns1.spf.example.com", ("192.0.2.54",), 600, "A")
    provider.apply([Update(GLUE_A, moved)])
    text = zone_file.read_text()
    assert "192.0.2.53" not in text and "ns1.spf\t600\tIN\tA\t192.0.2.54\n" in text
    assert listed(provider, ["ns1.spf.example.com"], "A") == {"ns1.spf.example.com": moved}
    assert listed(provider, ["ns1.spf.example.com"], "AAAA") == {"ns1.spf.example.com": GLUE_AAAA}
    assert listed(provider, ["spf.example.com"], "NS") == {"spf.example.com": NS}


def test_deleting_a_delegation_twice_restores_the_file(zone_file: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    provider.apply([Create(rs) for rs in DELEGATION])
    content = zone_file.read_bytes()
    provider.apply([Create(rs) for rs in DELEGATION])  # in sync: not written again
    assert zone_file.read_bytes() == content
    deletes: list[Change] = [Delete(rs) for rs in DELEGATION]
    provider.apply(deletes)
    assert zone_file.read_text() == with_serial(ZONE, serial(zone_file))
    content, stat = zone_file.read_bytes(), zone_file.stat()
    provider.apply(deletes)  # gone already: a no-op
    assert zone_file.read_bytes() == content
    assert zone_file.stat().st_mtime_ns == stat.st_mtime_ns
    for name, rtype in (("spf.example.com", "NS"), ("ns1.spf.example.com", "A")):
        assert listed(provider, [name], rtype) == {}


def test_a_hand_written_delegation_is_read_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "example.com.zone"
    path.write_text(
        ZONE
        + "sub 120 IN NS ns.sub ; relative target\n"
        + "    120 IN NS NS.Elsewhere.example.net.\n"
        + "ns.sub 120 IN A 192.0.2.7 ; glue\n"
    )
    provider = ZoneFileProvider("example.com", directory=tmp_path)
    ns = RecordSet("sub.example.com", ("ns.elsewhere.example.net", "ns.sub.example.com"), 120, "NS")
    assert listed(provider, ["sub.example.com", "www.example.com"], "NS") == {"sub.example.com": ns}
    content = path.read_bytes()
    provider.apply([Create(ns)])  # the same set, written otherwise: nothing to do
    assert path.read_bytes() == content
    glue = RecordSet("ns.sub.example.com", ("192.0.2.7",), 120, "A")
    assert listed(provider, ["ns.sub.example.com"], "A") == {"ns.sub.example.com": glue}
    provider.apply([Update(glue, RecordSet(glue.name, ("192.0.2.7", "192.0.2.8"), 120, "A"))])
    text = path.read_text()
    assert "ns.sub 120 IN A 192.0.2.7 ; glue\n" in text and "sub 120 IN NS ns.sub ;" in text
    assert listed(provider, ["ns.sub.example.com"], "A")["ns.sub.example.com"].values == (
        "192.0.2.7",
        "192.0.2.8",
    )


@pytest.mark.parametrize("action", ["create", "update", "delete"])
def test_ns_at_the_apex_is_refused(zone_file: Path, action: str) -> None:
    provider = ZoneFileProvider("example.com", directory=zone_file.parent)
    apex = RecordSet("example.com", ("ns9.example.net",), 3600, "NS")
    old = listed(provider, ["example.com"], "NS")["example.com"]
    assert old.values == ("ns1.example.com",)
    changes: dict[str, Change] = {
        "create": Create(apex),
        "update": Update(old, apex),
        "delete": Delete(old),
    }
    change = changes[action]
    with pytest.raises(ProviderError, match=r"zone example\.com: refusing to change the apex NS"):
        provider.apply([Create(SPF), change])
    assert zone_file.read_text() == ZONE  # nothing of the batch was written


def test_listing_delegations_of_a_missing_zone_file(tmp_path: Path) -> None:
    provider = ZoneFileProvider("example.com", directory=tmp_path)
    assert listed(provider, ["spf.example.com"], "NS") == {}
    provider.apply([Create(rs) for rs in DELEGATION])  # created with the default SOA and NS
    assert listed(provider, ["spf.example.com"], "NS") == {"spf.example.com": NS}
    assert listed(provider, ["example.com"], "NS")["example.com"].values == ("localhost",)
