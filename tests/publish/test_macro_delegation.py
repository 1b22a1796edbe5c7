"""The macro zone's delegation published through the providers (``macro.delegation``):
plan lists the NS and glue changes at the parent zone, apply makes them before any root,
the next plan is in sync, a nameserver dropped from the config takes its glue with it, a
saved plan applies them, and a provider that cannot carry them is a located config error.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import dns.rdatatype
import dns.zone
import pytest
import yaml

from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import ConfigError
from spfmanager.publish.workflow import Workspace
from tests.cli.run import run_cli
from tests.providers.test_plugins import PLUGIN, install_plugin

PARENT = "bigcorp.example"
ZONE = f"spf.{PARENT}"
NS1, NS2 = f"ns1.{ZONE}", "ns.outside.example"


def config(**macro: Any) -> dict[str, Any]:
    return {
        "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
        "defaults": {"provider": "local", "mode": "macro"},
        "macro": {
            "zone": ZONE,
            "data_file": "macro.data",
            "nameservers": [NS1, NS2],
            "delegation": {"glue": {NS1: ["192.0.2.53", "2001:db8::53"]}},
            **macro,
        },
        "domains": {PARENT: {"ip4": ["192.0.2.0/24"]}},
    }


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def workspace(path: Path) -> Workspace:
    return Workspace.load(path, SnapshotResolver({}))


def served(tmp_path: Path) -> dict[tuple[str, str], set[str]]:
    """The parent zone file's NS/A/AAAA sets below the apex, read by dnspython."""
    path = tmp_path / "zones" / f"{PARENT}.zone"
    zone = dns.zone.from_file(str(path), origin=PARENT, relativize=False)
    out: dict[tuple[str, str], set[str]] = {}
    for name, node in zone.nodes.items():
        fqdn = name.to_text(omit_final_dot=True)
        if fqdn == PARENT:
            continue
        for rdataset in node.rdatasets:
            kind = dns.rdatatype.to_text(rdataset.rdtype)
            if kind in ("NS", "A", "AAAA"):
                out[(fqdn, kind)] = {r.to_text().rstrip(".") for r in rdataset}
    return out


def test_plan_and_apply_publish_the_delegation_then_keep_it_in_sync(tmp_path: Path) -> None:
    path = write(tmp_path, config())
    plan = workspace(path).plan()
    assert plan.macro is not None and plan.macro.changed
    (delegation,) = [z for z in plan.macro.zones if z.purpose == "delegation"]
    assert (delegation.provider, delegation.zone) == ("local", PARENT)
    assert sorted((c.action, c.name, c.rtype) for c in delegation.changes) == [
        ("create", NS1, "A"),
        ("create", NS1, "AAAA"),
        ("create", ZONE, "NS"),
    ]
    assert f"macro delegation: local zone {PARENT}: 3 to change" in plan.macro.lines
    assert not plan.macro.notes  # the delegation is published, not printed
    report = workspace(path).apply(plan)
    assert report.macro_changes == [f"macro delegation: 3 change(s) in {PARENT}"]
    assert served(tmp_path) == {
        (ZONE, "NS"): {NS1, NS2},
        (NS1, "A"): {"192.0.2.53"},
        (NS1, "AAAA"): {"2001:db8::53"},
    }
    again = workspace(path).plan()
    assert again.macro is not None and not again.macro.changed and not again.has_changes

    # The in-zone nameserver goes: its glue goes with it, the NS set shrinks.
    data = config(nameservers=[NS2])
    data["macro"]["delegation"] = {}
    path = write(tmp_path, data)
    plan = workspace(path).plan()
    assert plan.macro is not None
    (delegation,) = [z for z in plan.macro.zones if z.purpose == "delegation"]
    assert sorted((c.action, c.name, c.rtype) for c in delegation.changes) == [
        ("delete", NS1, "A"),
        ("delete", NS1, "AAAA"),
        ("update", ZONE, "NS"),
    ]
    workspace(path).apply(plan)
    assert served(tmp_path) == {(ZONE, "NS"): {NS2}}


def test_a_saved_plan_applies_the_delegation(tmp_path: Path) -> None:
    path = write(tmp_path, config())
    (tmp_path / "zones").mkdir()
    saved = run_cli("plan", "-c", path, "--out", tmp_path / "plan.json", cwd=tmp_path)
    assert saved.returncode == 2, saved.stderr
    assert f"macro delegation: local zone {PARENT}: 3 to change" in saved.stdout
    zones = json.loads((tmp_path / "plan.json").read_text())["macro"]["zones"]
    assert [z["purpose"] for z in zones] == ["delegation"]
    assert {c["new"]["type"] for c in zones[0]["changes"]} == {"NS", "A", "AAAA"}
    done = run_cli("apply", "-c", path, "--plan", tmp_path / "plan.json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"publish macro delegation: 3 change(s) in {PARENT}" in done.stdout
    assert (ZONE, "NS") in served(tmp_path)
    twice = run_cli("apply", "-c", path, "--plan", tmp_path / "plan.json", cwd=tmp_path)
    assert twice.returncode == 0, twice.stdout + twice.stderr  # already in effect: no-op
    assert "publish macro delegation" not in twice.stdout


def test_providers_that_cannot_carry_the_macro_zone_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin adapter managing TXT only, one change at a time: neither the records
    backend nor the delegation can go through it."""
    install_plugin(tmp_path / "site", "memory", "memory_plugin:MemoryProvider", PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    data = config(backend="records", provider="mem")
    data["macro"]["delegation"]["provider"] = "mem"
    data["providers"]["mem"] = {"kind": "memory"}
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        workspace(path)
    found = sorted(p.split(": ", 1)[1] for p in caught.value.problems)
    assert found == [
        "macro.delegation.provider: mem (memory) cannot publish NS records",
        "macro.provider: mem (memory) does not apply a batch of changes atomically: receivers "
        "could meet half a rollover; use PowerDNS, Route 53, RFC 2136 or zone files",
    ]
    assert all(p.startswith(f"{path}:") for p in caught.value.problems)
