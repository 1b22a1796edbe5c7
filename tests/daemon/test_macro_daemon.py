"""The daemon keeps macro mode's data file current: ``spfmanager run-once`` (the daemon's
pass) rewrites it after an upstream vendor range changes, and a running rbldnsd (checking
the file every second) answers the new set — the root records do not change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from ipaddress import ip_address
from pathlib import Path

import pytest
import yaml

from spfmanager.macro import query_name
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
