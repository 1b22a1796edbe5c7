"""Two writers of one zone at once: no lost change, no root pointing at a removed chain (7.2).

Real processes (the CLI), started together, on the embedded zone-file provider.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

import spfmanager
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.providers.zonefile import ZoneFileProvider
from spfmanager.publish.plan import Plan
from spfmanager.publish.state import State
from spfmanager.publish.workflow import Workspace
from tests.test_workflow import UPSTREAM

pytestmark = pytest.mark.integration

ROUNDS = 20
SERVICE_SETS = [["microsoft365", "sendgrid"], ["microsoft365", "sendgrid", "mailchimp"]]
PROBES = {"40.92.1.1": "microsoft365", "167.0.0.1": "sendgrid", "205.201.128.1": "mailchimp"}


def write_config(directory: Path, zones: Path, domain: str, services: list[str]) -> Path:
    directory.mkdir(exist_ok=True)
    config = {
        "defaults": {"policy": "-all", "ttl": 300, "provider": "local"},
        "providers": {"local": {"kind": "zonefile", "directory": str(zones)}},
        "domains": {domain: {"services": services, "zone": "example.com"}},
    }
    path = directory / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def start(config: Path, snapshot: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spfmanager",
            *extra,
            "-c",
            str(config),
            "--dns-snapshot",
            str(snapshot),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = process.communicate(timeout=120)
    return process.returncode, out


def result(zones: Path, domain: str, ip: str) -> spfmanager.Result:
    records = ZoneFileProvider("example.com", zones).list_records()
    served: dict[str, Any] = {n: [[v] for v in rs.values] for n, rs in records.items()}
    resolver = OverlayResolver(spfmanager.SnapshotResolver(UPSTREAM), served)
    return spfmanager.evaluate(ip, f"a@{domain}", domain, resolver=resolver).result


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.yaml"
    path.write_text(yaml.safe_dump(UPSTREAM), encoding="utf-8")
    return path


def apply_at_once(
    ws: Workspace, plan: Plan, barrier: threading.Barrier, errors: list[BaseException]
) -> None:
    """Apply once every writer is ready; errors are collected for the test to report."""
    try:
        barrier.wait()
        ws.apply(plan, sleep=lambda _: None)
    except BaseException as exc:
        errors.append(exc)


def test_two_configs_sharing_a_zone_lose_nothing(tmp_path: Path) -> None:
    zones = tmp_path / "zones"
    resolver = spfmanager.SnapshotResolver(UPSTREAM)
    for round_ in range(ROUNDS):
        wanted = {
            "x.example.com": SERVICE_SETS[round_ % 2],
            "y.example.com": SERVICE_SETS[(round_ + 1) % 2],
        }
        spaces = [
            Workspace.load(write_config(tmp_path / d.split(".")[0], zones, d, s), resolver)
            for d, s in wanted.items()
        ]
        plans = [ws.plan() for ws in spaces]  # both from the same zone, as two CI jobs would
        barrier = threading.Barrier(len(spaces), timeout=30)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=apply_at_once, args=(ws, plan, barrier, errors))
            for ws, plan in zip(spaces, plans, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, (round_, errors)
        for domain, services in wanted.items():
            for ip, service in PROBES.items():
                expected = spfmanager.Result.PASS if service in services else spfmanager.Result.FAIL
                assert result(zones, domain, ip) is expected, (round_, domain, ip)
        for ws in spaces:
            assert not Workspace.load(ws.config_path, resolver).plan().has_changes, round_


def test_two_runs_of_one_config_apply_and_log_once(tmp_path: Path, snapshot: Path) -> None:
    zones = tmp_path / "zones"
    config = write_config(tmp_path / "x", zones, "x.example.com", SERVICE_SETS[0])
    runs = [start(config, snapshot, "apply", "--json") for _ in range(2)]
    outcomes = [finish(r) for r in runs]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    log = State(f"sqlite:///{tmp_path / 'x' / 'spfmanager.db'}").applied("local", "example.com")
    logged = [change for entry in log for change in entry]
    assert logged and len(logged) == len(set(logged)), log
    assert result(zones, "x.example.com", "167.0.0.1") is spfmanager.Result.PASS
