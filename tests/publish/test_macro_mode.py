"""Macro mode through build, plan and apply, offline: the zone-file provider, upstream DNS
from a snapshot, the data file in a temporary directory.

The root record lands in the zone file like any root; the combined dataset of every
macro-mode domain is written atomically *before* any root changes, not rewritten when
unchanged, and kept (with the last good root) when a build fails on upstream DNS or its
proof fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import dns.rdatatype
import dns.zone
import pytest
import yaml

from spfmanager.config.models import MacroConfig
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import VerificationError
from spfmanager.macro import DatasetResolver, query_name
from spfmanager.publish import macro as publish_macro
from spfmanager.publish.apply import RETIRE_GRACE_SECONDS
from spfmanager.publish.render import plan_markdown
from spfmanager.publish.state import utcnow
from spfmanager.publish.workflow import Workspace
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.results import Result

ZONE = "spf.example.net"
VENDOR = "_spf.vendor.example"
VENDOR_RECORD = "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:beef::/48 -all"
MOVED_RECORD = "v=spf1 ip4:203.0.113.0/24 ip6:2001:db8:beef::/48 -all"
ROOT = f"v=spf1 include:%{{ir}}.%{{v}}.%{{d}}.{ZONE} -all"

CONFIG: dict[str, Any] = {
    "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
    "defaults": {"provider": "local", "mode": "macro"},
    "macro": {
        "zone": ZONE,
        "data_file": "rbldnsd/macro.data",
        "nameservers": ["ns1.example.net", "ns2.example.net"],
        "contact": "hostmaster@example.net",
    },
    "domains": {
        "example.com": {"include": [VENDOR], "ip4": ["192.0.2.0/25"]},
        "other.example": {"ip4": ["192.0.2.128/25"], "mode": "macro"},
        "flat.example": {"ip4": ["192.0.2.7"], "mode": "flatten"},
    },
}


def write(
    tmp_path: Path, vendor: str | list[str] = VENDOR_RECORD, more: dict[str, Any] | None = None
) -> Path:
    config = tmp_path / "spfmanager.yaml"
    config.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    entries: Any = vendor if isinstance(vendor, list) else [{"TXT": vendor}]
    snapshot = {VENDOR: entries, **(more or {})}
    (tmp_path / "dns-snapshot.yaml").write_text(yaml.safe_dump(snapshot))
    return config


def workspace(tmp_path: Path) -> Workspace:
    resolver = SnapshotResolver.from_file(tmp_path / "dns-snapshot.yaml")
    return Workspace.load(tmp_path / "spfmanager.yaml", resolver)


def data_file(tmp_path: Path) -> Path:
    return tmp_path / "rbldnsd" / "macro.data"


def zone_text(tmp_path: Path, zone: str) -> str:
    return (tmp_path / "zones" / f"{zone}.zone").read_text()


def result_at(tmp_path: Path, domain: str, address: str) -> Result:
    """What a receiver gets for ``address`` from the zone files and the data file."""
    zones = {}
    for path in (tmp_path / "zones").glob("*.zone"):
        for line in path.read_text().splitlines():
            if '"v=spf1' in line:
                name = line.split()[0]
                owner = path.name.removesuffix(".zone")
                fqdn = owner if name == "@" else f"{name}.{owner}"
                zones[fqdn] = [{"TXT": line.split('"')[1]}]
    snapshot = yaml.safe_load((tmp_path / "dns-snapshot.yaml").read_text())
    base = SnapshotResolver({**snapshot, **zones})
    dns = DatasetResolver(base, data_file(tmp_path).read_text(), ZONE)
    return evaluate(address, f"postmaster@{domain}", domain, resolver=dns).result


def test_plan_and_apply_publish_the_macro_root_and_the_data_file(tmp_path: Path) -> None:
    write(tmp_path)
    ws = workspace(tmp_path)
    plan = ws.plan()
    macro = {d.domain: d for d in plan.domains if d.build.dataset is not None}
    assert sorted(macro) == ["example.com", "other.example"]
    for domain in macro.values():
        assert domain.build.result is not None
        assert domain.build.result.texts == {domain.domain: ROOT}
        assert not domain.unsafe, domain.unsafe
    assert plan.macro is not None and plan.macro.changed
    assert plan.macro.line == f"macro data: {data_file(tmp_path)}: 11 entries, changed"
    assert "3 to create" in plan.summary.text and "0 of 3 domains in sync" in plan.summary.text
    assert plan.data["macro"]["entries"] == 11 and plan.data["macro"]["changed"] is True
    assert f"`{plan.macro.line}`" in plan_markdown(plan)
    report = ws.apply(plan)
    assert report.macro_written == str(data_file(tmp_path))
    assert f'"{ROOT}"' in zone_text(tmp_path, "example.com")
    assert "ip4:192.0.2.7" in zone_text(tmp_path, "flat.example")
    text = data_file(tmp_path).read_text()
    assert text.startswith("# rbldnsd combined dataset for spf.example.net")
    assert "$SOA 300 ns1.example.net hostmaster.example.net 0" in text
    assert "$NS 300 ns1.example.net ns2.example.net" in text
    assert oct(data_file(tmp_path).stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in data_file(tmp_path).parent.iterdir()] == ["macro.data"]  # no temp
    assert result_at(tmp_path, "example.com", "198.51.100.9") is Result.PASS
    assert result_at(tmp_path, "example.com", "192.0.2.200") is Result.FAIL
    assert result_at(tmp_path, "other.example", "192.0.2.200") is Result.PASS
    again = workspace(tmp_path).plan()
    assert again.macro is not None and not again.macro.changed and not again.has_changes
    assert again.summary.in_sync == 3


def test_the_data_file_is_written_before_any_root_changes(tmp_path: Path) -> None:
    write(tmp_path)
    ws = workspace(tmp_path)
    plan = ws.plan()
    seen: list[tuple[list[str], bool]] = []
    opened = ws.provider

    def spying(name: str, zone: str) -> Any:
        provider = opened(name, zone)
        apply = provider.apply

        def spy(changes: Any) -> Any:
            seen.append(([c.name for c in changes], data_file(tmp_path).exists()))
            return apply(changes)

        provider.apply = spy  # type: ignore[method-assign]
        return provider

    ws.provider = spying  # type: ignore[method-assign]
    ws.apply(plan)
    assert seen and all(exists for _, exists in seen), seen


def test_an_upstream_change_rewrites_only_the_data_file(tmp_path: Path) -> None:
    write(tmp_path)
    workspace(tmp_path).apply(workspace(tmp_path).plan())
    before = data_file(tmp_path).stat()
    unchanged = workspace(tmp_path).apply(workspace(tmp_path).plan())
    assert unchanged.macro_written is None and not unchanged.applied
    assert data_file(tmp_path).stat().st_mtime_ns == before.st_mtime_ns  # not rewritten
    assert data_file(tmp_path).stat().st_ino == before.st_ino
    write(tmp_path, MOVED_RECORD)
    plan = workspace(tmp_path).plan()
    assert plan.macro is not None and plan.macro.changed
    assert not plan.changes  # the root records stay as they are
    assert plan.has_changes and plan.summary.in_sync == 1  # only flat.example
    report = workspace(tmp_path).apply(plan)
    assert report.macro_written and not report.applied
    assert data_file(tmp_path).stat().st_ino != before.st_ino  # replaced, not edited
    assert result_at(tmp_path, "example.com", "203.0.113.9") is Result.PASS
    assert result_at(tmp_path, "example.com", "198.51.100.9") is Result.FAIL


def test_an_upstream_dns_error_keeps_that_domain_at_its_last_good_answers(
    tmp_path: Path,
) -> None:
    write(tmp_path)
    workspace(tmp_path).apply(workspace(tmp_path).plan())
    good_data = data_file(tmp_path).read_text()
    good_zone = zone_text(tmp_path, "example.com")
    write(tmp_path, ["TIMEOUT"])
    plan = workspace(tmp_path).plan()
    builds = {d.domain: d.build for d in plan.domains}
    assert builds["example.com"].result is None and builds["example.com"].transient
    assert "timeout" in (builds["example.com"].error or "")
    # other.example is proven and published; example.com keeps its last good sections
    assert builds["other.example"].result is not None and builds["other.example"].error is None
    assert builds["flat.example"].result is not None
    assert plan.macro is not None and plan.macro.data.kept == ("example.com",)
    assert plan.macro.data.text == good_data  # the same answers, in the same place
    assert not plan.macro.changed
    assert "macro: example.com keeps its last good answers (not built now)" in plan.macro.lines
    notes = {d.domain: d.notes for d in plan.domains}
    assert notes["example.com"][0] == "keeping the last good record"
    workspace(tmp_path).apply(plan)
    assert data_file(tmp_path).read_text() == good_data
    assert zone_text(tmp_path, "example.com") == good_zone
    assert result_at(tmp_path, "example.com", "198.51.100.9") is Result.PASS  # last good
    assert result_at(tmp_path, "other.example", "192.0.2.200") is Result.PASS


def test_other_domains_move_on_while_one_keeps_its_last_good_answers(tmp_path: Path) -> None:
    """other.example changes while example.com's upstream times out: other.example's
    sections are rewritten, example.com's are copied from the last good file."""
    write(tmp_path)
    workspace(tmp_path).apply(workspace(tmp_path).plan())
    CONFIG["domains"]["other.example"]["ip4"] = ["203.0.113.0/25"]
    try:
        write(tmp_path, ["TIMEOUT"])
    finally:
        CONFIG["domains"]["other.example"]["ip4"] = ["192.0.2.128/25"]
    plan = workspace(tmp_path).plan()
    assert (
        plan.macro is not None and plan.macro.changed and plan.macro.data.kept == ("example.com",)
    )
    workspace(tmp_path).apply(plan)
    assert result_at(tmp_path, "other.example", "203.0.113.9") is Result.PASS
    assert result_at(tmp_path, "other.example", "192.0.2.200") is Result.FAIL
    assert result_at(tmp_path, "example.com", "198.51.100.9") is Result.PASS  # kept
    assert result_at(tmp_path, "example.com", "192.0.2.9") is Result.PASS
    assert result_at(tmp_path, "example.com", "203.0.113.9") is Result.FAIL


def test_no_proof_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path)

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise VerificationError("libspf2 gets fail at 198.51.100.0, the intent pass")

    monkeypatch.setattr(publish_macro, "prove", failing)
    plan = workspace(tmp_path).plan()
    build = next(d.build for d in plan.domains if d.domain == "example.com")
    assert build.result is None and not build.transient
    assert build.error == "verification failed: libspf2 gets fail at 198.51.100.0, the intent pass"
    workspace(tmp_path).apply(plan)
    assert not data_file(tmp_path).exists()
    assert ROOT not in zone_text(tmp_path, "flat.example")
    assert not (tmp_path / "zones" / "example.com.zone").exists()


def test_a_failed_proof_holds_only_its_own_domain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The domain whose proof fails is dropped and the dataset rendered again without it:
    the others are proven on what will be served, and published."""
    real = publish_macro.prove
    proven: list[str] = []

    def failing_for_example_com(intent: Any, record: Any, *args: Any, **kwargs: Any) -> Any:
        proven.append(record.domain)
        if record.domain == "example.com":
            raise VerificationError("mailauth gets fail at 198.51.100.0, the intent pass")
        return real(intent, record, *args, **kwargs)

    write(tmp_path)
    monkeypatch.setattr(publish_macro, "prove", failing_for_example_com)
    plan = workspace(tmp_path).plan()
    builds = {d.domain: d.build for d in plan.domains}
    assert (builds["example.com"].error or "").startswith("verification failed: mailauth")
    assert builds["other.example"].result is not None
    assert proven == ["example.com", "other.example", "other.example"]  # again, without it
    workspace(tmp_path).apply(plan)
    text = data_file(tmp_path).read_text()
    assert "in-addr.other.example" in text and "in-addr.example.com" not in text
    assert result_at(tmp_path, "other.example", "192.0.2.200") is Result.PASS
    assert not (tmp_path / "zones" / "example.com.zone").exists()


def test_an_unsafe_macro_domain_holds_the_shared_data_file(tmp_path: Path) -> None:
    write(tmp_path, "v=spf1 ip4:10.0.0.0/7 -all")  # wider than min_ipv4_prefix /8
    plan = workspace(tmp_path).plan()
    unsafe = {d.domain: d.unsafe for d in plan.domains}
    assert any("wider than a /8" in u for u in unsafe["example.com"]), unsafe
    assert unsafe["other.example"] == (
        "the macro data file is shared with example.com, held unsafe",
    )
    assert not unsafe["flat.example"]


def test_the_delegation_note_names_the_records_to_add(tmp_path: Path) -> None:
    write(tmp_path)
    plan = workspace(tmp_path).plan()
    assert plan.macro is not None
    assert plan.macro.notes[0].startswith(
        f"the macro zone {ZONE} does not answer (1.2.0.192.in-addr.example.com.{ZONE}: "
    )
    assert plan.macro.notes[1:] == (
        f"  {ZONE}. 300 IN NS ns1.example.net.",
        f"  {ZONE}. 300 IN NS ns2.example.net.",
    )
    # Once the zone answers (here: the snapshot has the name), there is no note.
    probe = query_name(ip_address("192.0.2.1"), "example.com", ZONE)
    write(tmp_path, more={probe: [{"TXT": "v=spf1 +all"}]})
    plan = workspace(tmp_path).plan()
    assert plan.macro is not None and plan.macro.notes == ()


def test_glue_is_named_for_nameservers_inside_the_zone() -> None:
    settings = MacroConfig(zone=ZONE, nameservers=(f"ns1.{ZONE}", "ns.example.org"))
    assert publish_macro.delegation_records(settings) == [
        f"{ZONE}. 300 IN NS ns1.{ZONE}.",
        f"{ZONE}. 300 IN NS ns.example.org.",
        f"ns1.{ZONE}. 300 IN A <address of the rbldnsd server>",
    ]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spfmanager", *args],
        check=False, cwd=cwd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def test_the_cli_plan_shows_the_macro_line_and_a_saved_plan_applies_it(tmp_path: Path) -> None:
    write(tmp_path)
    dns = ("--dns-snapshot", "dns-snapshot.yaml")
    shown = cli("plan", *dns, "--out", "plan.json", cwd=tmp_path)
    assert shown.returncode == 2, shown.stderr
    assert "macro data: rbldnsd/macro.data: 11 entries, changed" in shown.stdout
    assert "Plan: 3 to create, 0 to update, 0 to delete. 0 of 3 domains in sync." in shown.stdout
    markdown = cli("plan", *dns, "--markdown", cwd=tmp_path)
    assert "`macro data: rbldnsd/macro.data: 11 entries, changed`" in markdown.stdout
    as_json = json.loads(cli("plan", *dns, "--json", cwd=tmp_path).stdout)
    assert as_json["macro"]["data_file"] == "rbldnsd/macro.data"
    assert as_json["macro"]["domains"] == ["example.com", "other.example"]
    assert [d["mode"] for d in as_json["domains"]] == ["macro", "macro", "flatten"]
    applied = cli("apply", "--plan", "plan.json", *dns, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "write rbldnsd/macro.data (macro data)" in applied.stdout
    assert data_file(tmp_path).read_text() == as_json["macro"]["dataset"]
    assert f'"{ROOT}"' in zone_text(tmp_path, "example.com")
    again = cli("apply", *dns, cwd=tmp_path)
    assert again.returncode == 0 and "nothing to apply: DNS is in sync" in again.stdout


def test_the_records_backend_leaves_a_failed_domains_names_as_they_are(tmp_path: Path) -> None:
    """Records backend (the macro names in a zone file): while example.com's upstream
    times out, other.example's names are rewritten and example.com's are not touched."""
    config, path = applied_with_records(tmp_path)
    before = macro_names(tmp_path)
    mine = {n: v for n, v in before.items() if n.endswith(".example.com." + ZONE)}
    assert mine and len(mine) < len(before)

    config["domains"]["other.example"]["ip4"] = ["203.0.113.0/25"]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    (tmp_path / "dns-snapshot.yaml").write_text(yaml.safe_dump({VENDOR: ["TIMEOUT"]}))
    plan = workspace(tmp_path).plan()
    assert plan.macro is not None and plan.macro.data.kept == ("example.com",)
    (records,) = [z for z in plan.macro.zones if z.purpose == "records"]
    assert records.changes and all(".other.example." in c.name for c in records.changes)
    workspace(tmp_path).apply(plan)
    after = macro_names(tmp_path)
    assert {n: v for n, v in after.items() if n.endswith(".example.com." + ZONE)} == mine
    assert after != before


def applied_with_records(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """CONFIG with the records backend (macro names in a zone file), planned and applied;
    the config written and its path."""
    config = json.loads(json.dumps(CONFIG))
    config["macro"] = {"zone": ZONE, "backend": "records", "provider": "local"}
    path = tmp_path / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    (tmp_path / "dns-snapshot.yaml").write_text(yaml.safe_dump({VENDOR: [{"TXT": VENDOR_RECORD}]}))
    workspace(tmp_path).apply(workspace(tmp_path).plan())
    return config, path


def macro_names(tmp_path: Path) -> dict[str, str]:
    """The TXT records under the macro zone in its zone file, by owner name."""
    zone = dns.zone.from_file(
        str(tmp_path / "zones" / f"{ZONE}.zone"), origin=ZONE, relativize=False
    )
    out = {}
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            if rdataset.rdtype == dns.rdatatype.TXT:
                owner = name.to_text(omit_final_dot=True)
                out[owner] = b"".join(next(iter(rdataset)).strings).decode()
    return out


def test_a_domain_leaving_macro_mode_keeps_its_answers_while_roots_may_name_them(
    tmp_path: Path,
) -> None:
    """other.example switches to flattened records: its macro answers stay in the data
    file while its published root still names the macro zone, and for the old root's TTL
    plus the grace after the switch (receivers may have cached it); then they go."""
    write(tmp_path)
    workspace(tmp_path).apply(workspace(tmp_path).plan())
    before = data_file(tmp_path).read_text()
    assert "in-addr.other.example" in before
    CONFIG["domains"]["other.example"]["mode"] = "flatten"
    try:
        write(tmp_path)
    finally:
        CONFIG["domains"]["other.example"]["mode"] = "macro"
    plan = workspace(tmp_path).plan()
    assert plan.macro is not None and plan.macro.data.retiring == ("other.example",)
    assert not plan.macro.changed  # the same answers, in the same place
    assert any(line.startswith("macro: other.example left macro mode") for line in plan.macro.lines)
    workspace(tmp_path).apply(plan)
    assert "ip4:192.0.2.128/25" in zone_text(tmp_path, "other.example")  # switched
    assert data_file(tmp_path).read_text() == before  # a cached old root still works
    assert result_at(tmp_path, "other.example", "192.0.2.200") is Result.PASS

    again = workspace(tmp_path).plan()  # just switched: still within the old root's TTL
    assert again.macro is not None and again.macro.data.retiring == ("other.example",)
    ws = workspace(tmp_path)
    published = ws.state.last_good("other.example")
    assert published is not None
    ttl = CONFIG.get("defaults", {}).get("ttl", 3600)
    long_ago = utcnow() - timedelta(seconds=ttl + RETIRE_GRACE_SECONDS + 60)
    ws.state.record_published("other.example", published, 0, long_ago)
    later = workspace(tmp_path).plan()
    assert later.macro is not None and later.macro.data.retiring == ()
    assert later.macro.changed
    workspace(tmp_path).apply(later)
    assert "in-addr.other.example" not in data_file(tmp_path).read_text()
    assert "in-addr.example.com" in data_file(tmp_path).read_text()


def test_the_records_backend_keeps_a_retiring_domains_names(tmp_path: Path) -> None:
    config, path = applied_with_records(tmp_path)
    before = macro_names(tmp_path)
    theirs = {n: v for n, v in before.items() if n.endswith(".other.example." + ZONE)}
    assert theirs
    config["domains"]["other.example"]["mode"] = "flatten"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    plan = workspace(tmp_path).plan()
    assert plan.macro is not None and plan.macro.data.retiring == ("other.example",)
    (records,) = [z for z in plan.macro.zones if z.purpose == "records"]
    assert not records.changes
    workspace(tmp_path).apply(plan)
    assert macro_names(tmp_path) == before
