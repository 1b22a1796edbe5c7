"""On a real-world zone file, only spfmanager's values change: every other line stays.

The zone (``tests/data/zones/realworld.example.zone``) has comments, ``$ORIGIN``/``$TTL``,
a multi-line SOA and DKIM key, many record types and a verification TXT with its own TTL
(300) at the root. Published through the CLI as a user would (``plan``, ``apply``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ZONE = Path(__file__).parents[1] / "data" / "zones" / "realworld.example.zone"
CONFIG = """\
defaults: {policy: "-all", ttl: 3600, provider: local}
providers: {local: {kind: zonefile, directory: zones}}
state: {url: "sqlite:///spfmanager.db"}
domains:
  realworld.example:
    include: [_spf.vendor.example]
    ip4: ["192.0.2.0/24"]
"""
SNAPSHOT = """\
_spf.vendor.example:
- TXT: v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:100::/48 -all
"""


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "spfmanager",
            *args,
            "-c",
            "spfmanager.yaml",
            "--dns-snapshot",
            "snapshot.yaml",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_only_the_spf_value_and_the_serial_change(tmp_path: Path) -> None:
    (tmp_path / "spfmanager.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "snapshot.yaml").write_text(SNAPSHOT, encoding="utf-8")
    (tmp_path / "zones").mkdir()
    zone = tmp_path / "zones" / "realworld.example.zone"
    shutil.copy(ZONE, zone)
    before = zone.read_text(encoding="utf-8").splitlines()
    plan = run(tmp_path, "plan", "--json")
    assert plan.returncode == 2, plan.stderr
    assert "TTL kept at 300, not 3600" in plan.stdout  # the verification value's TTL rules
    applied = run(tmp_path, "apply")
    assert applied.returncode == 0, applied.stderr
    after = zone.read_text(encoding="utf-8").splitlines()
    removed = [line for line in before if line not in after]
    added = [line for line in after if line not in before]
    serials = [line for line in removed + added if "; serial" in line]
    assert len(serials) == 2  # the SOA serial is bumped: secondaries see the change
    (old_spf,) = [line for line in removed if line not in serials]
    (new_spf,) = [line for line in added if line not in serials]
    assert "v=spf1 include:_spf.vendor.example" in old_spf
    assert new_spf.split(None, 4) == [
        "@",
        "300",
        "IN",
        "TXT",
        '"v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip6:2001:db8:100::/48 -all"',
    ]
    # Every other line, comments and the verification string's own TTL included, as it was.
    assert [line for line in after if line not in added] == [
        line for line in before if line not in removed
    ]
    again = run(tmp_path, "plan")
    assert again.returncode == 0, again.stdout  # in sync, the TTL note aside
