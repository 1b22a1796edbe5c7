"""The daemon keeps macro mode's data current: ``spfmanager run-once`` (the daemon's pass)
rewrites the data file after an upstream vendor range changes, and a running rbldnsd
(checking the file every second) answers the new set — the root records do not change;
with the records backend it patches the changed names at a real PowerDNS instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from ipaddress import ip_address
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest
import yaml

from spfmanager.macro import query_name
from tests.integration import pdns as pdns_helper
from tests.macro.servers import RbldnsdServer, require_rbldnsd

pytestmark = pytest.mark.integration

ZONE = "spf.example.net"
VENDOR = "_spf.vendor.example"
PLACEHOLDER = f"$SOA 300 ns.{ZONE} hostmaster.{ZONE} 0 3600 600 604800 300\n$NS 300 ns.{ZONE}\n"


def run_once(cwd: Path) -> dict[str, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "spfmanager", "run-once", "--dns-snapshot", "dns.yaml", "--json"],
        check=False, cwd=cwd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    runs = data["runs"] if isinstance(data, dict) else data
    return {r["domain"]: r for r in runs}


def wait_for(server: RbldnsdServer, name: str, want: list[bytes], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    got: list[bytes] = []
    while time.monotonic() < deadline:
        got = server.txt(name)[1]
        if got == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name}: rbldnsd answers {got}, not {want}\n{server.log_text()}")


def test_run_once_regenerates_the_data_file_rbldnsd_serves(tmp_path: Path) -> None:
    require_rbldnsd()
    with RbldnsdServer(PLACEHOLDER, ZONE) as server:
        config = {
            "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
            "defaults": {"provider": "local", "mode": "macro"},
            "macro": {
                "zone": ZONE,
                "data_file": str(server.data_file),
                "nameservers": [f"ns.{ZONE}"],
            },
            "domains": {"example.com": {"include": [VENDOR]}},
        }
        (tmp_path / "spfmanager.yaml").write_text(yaml.safe_dump(config))
        old = {VENDOR: [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}]}
        (tmp_path / "dns.yaml").write_text(yaml.safe_dump(old))
        first = run_once(tmp_path)["example.com"]
        assert first["outcome"] == "applied", first
        assert first["changes"][0] == f"write {server.data_file}"
        before = query_name(ip_address("198.51.100.7"), "example.com", ZONE)
        after = query_name(ip_address("203.0.113.7"), "example.com", ZONE)
        wait_for(server, before, [b"v=spf1 +all"])
        wait_for(server, after, [b"v=spf1 -all"])
        zone = (tmp_path / "zones" / "example.com.zone").read_text()

        new = {VENDOR: [{"TXT": "v=spf1 ip4:203.0.113.0/24 -all"}]}
        (tmp_path / "dns.yaml").write_text(yaml.safe_dump(new))
        time.sleep(1.1)  # a new modification time for rbldnsd to see, whatever its resolution
        second = run_once(tmp_path)["example.com"]
        assert second["outcome"] == "applied", second
        assert second["changes"] == [f"write {server.data_file}"]  # the data file only
        wait_for(server, after, [b"v=spf1 +all"])
        wait_for(server, before, [b"v=spf1 -all"])
        assert (tmp_path / "zones" / "example.com.zone").read_text() == zone

        third = run_once(tmp_path)["example.com"]
        assert third["outcome"] == "unchanged", third


def test_run_once_republishes_the_records_backend_at_powerdns(tmp_path: Path) -> None:
    """The records backend in the daemon's pass: the changed names are patched at PowerDNS
    (one batch, before any root), which then answers the new set; the roots stay."""
    if not pdns_helper.available():
        pytest.skip("PowerDNS is not installed")
    with pdns_helper.PowerDNSServer(tmp_path / "pdns") as server:
        server.create_zone("example.com")
        (tmp_path / "pdns.key").write_text(server.api_key)
        (tmp_path / "pdns.key").chmod(0o600)
        config = {
            "providers": {
                "local": {"kind": "zonefile", "directory": "zones"},
                "pdns": {"kind": "powerdns", "api_url": server.api_url, "api_key": "file:pdns.key"},
            },
            "defaults": {"provider": "local", "mode": "macro"},
            "macro": {
                "zone": "spf.example.com",
                "backend": "records",
                "provider": "pdns",
                "provider_zone": "example.com",
            },
            "domains": {"example.com": {"include": [VENDOR]}},
        }
        (tmp_path / "spfmanager.yaml").write_text(yaml.safe_dump(config))
        old = {VENDOR: [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}]}
        (tmp_path / "dns.yaml").write_text(yaml.safe_dump(old))
        first = run_once(tmp_path)["example.com"]
        assert first["outcome"] == "applied", first
        assert str(first["changes"][0]).startswith("macro records: ")
        before = query_name(ip_address("198.51.100.7"), "example.com", "spf.example.com")
        after = query_name(ip_address("203.0.113.7"), "example.com", "spf.example.com")
        assert pdns_txt(server, before) == ["v=spf1 +all"]
        assert pdns_txt(server, after) == ["v=spf1 -all"]
        zone = (tmp_path / "zones" / "example.com.zone").read_text()

        new = {VENDOR: [{"TXT": "v=spf1 ip4:203.0.113.0/24 -all"}]}
        (tmp_path / "dns.yaml").write_text(yaml.safe_dump(new))
        second = run_once(tmp_path)["example.com"]
        assert second["outcome"] == "applied", second
        # /24 -> another /24: only the names of the two blocks (their wildcards and the
        # non-terminal wildcards above them, in the IPv4 and IPv4-mapped IPv6 tries) change.
        ((line,),) = [second["changes"]]
        count = int(str(line).removeprefix("macro records: ").split()[0])
        assert str(line) == f"macro records: {count} change(s) in example.com"
        assert 0 < count < int(str(first["changes"][0]).split()[2].replace(",", "")), first
        assert pdns_txt(server, after) == ["v=spf1 +all"]
        assert pdns_txt(server, before) == ["v=spf1 -all"]
        assert (tmp_path / "zones" / "example.com.zone").read_text() == zone

        third = run_once(tmp_path)["example.com"]
        assert third["outcome"] == "unchanged", third


def pdns_txt(server: pdns_helper.PowerDNSServer, name: str) -> list[str]:
    """The TXT texts PowerDNS answers for ``name`` (over UDP, 127.0.0.1)."""
    query = dns.message.make_query(name, dns.rdatatype.TXT)
    answer = dns.query.udp(query, "127.0.0.1", port=server.dns_port, timeout=2.0)
    return sorted(
        b"".join(r.strings).decode()
        for rrset in answer.answer
        if rrset.rdtype == dns.rdatatype.TXT
        for r in rrset
    )
