"""Macro mode's records backend end to end on a real PowerDNS (127.0.0.1): plan and apply
publish the proven wildcard records through the PowerDNS provider, then the roots; receivers
querying PowerDNS get the intent's result at every probe address; an upstream change
republishes only the names that changed, in one atomic PATCH, while a concurrent prober
sees no wrong, empty or failed answer; and the next plan is in sync.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import yaml

from spfmanager.dns.resolver import LiveResolver
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.macro import query_name
from spfmanager.macro.prove import expected_results, probe_addresses
from spfmanager.publish.workflow import Workspace
from spfmanager.spf.evaluate import evaluate
from tests.cli.run import run_cli
from tests.integration import pdns as pdns_helper

pytestmark = pytest.mark.integration

PARENT = "bigcorp.example"
ZONE = f"spf.{PARENT}"
VENDOR = "_spf.vendor.example"
VENDOR_RECORD = "v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.64/26 ip6:2001:db8:beef::/48 -all"
MOVED_RECORD = "v=spf1 ip4:198.51.100.0/25 ip4:203.0.113.64/27 ip6:2001:db8:beef::/52 -all"
MAX_PROBE_QUERIES = 20_000
MAX_PROBE_SECONDS = 20.0


@pytest.fixture
def pdns(tmp_path: Path) -> Iterator[pdns_helper.PowerDNSServer]:
    if not pdns_helper.available():
        pytest.skip("PowerDNS is not installed")
    with pdns_helper.PowerDNSServer(tmp_path / "pdns") as server:
        server.create_zone(PARENT)
        yield server


def write(tmp_path: Path, server: pdns_helper.PowerDNSServer, vendor: str) -> Path:
    config: dict[str, Any] = {
        "providers": {
            "pdns": {"kind": "powerdns", "api_url": server.api_url, "api_key": "env:PDNS_KEY"}
        },
        "defaults": {"provider": "pdns", "mode": "macro", "ttl": 60},
        "macro": {"zone": ZONE, "backend": "records", "provider": "pdns", "provider_zone": PARENT},
        "domains": {
            PARENT: {"include": [VENDOR], "ip4": ["192.0.2.0/24"], "ip6": ["2001:db8:10::/48"]},
            f"shop.{PARENT}": {"zone": PARENT, "ip4": ["192.0.2.128/25"]},
        },
    }
    path = tmp_path / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    (tmp_path / "dns-snapshot.yaml").write_text(yaml.safe_dump({VENDOR: [{"TXT": vendor}]}))
    return path


def workspace(path: Path) -> Workspace:
    return Workspace.load(path, SnapshotResolver.from_file(path.parent / "dns-snapshot.yaml"))


def live(server: pdns_helper.PowerDNSServer) -> LiveResolver:
    return LiveResolver(["127.0.0.1"], port=server.dns_port, timeout=2.0, cache=False)


def wrong_answers(ws: Workspace, server: pdns_helper.PowerDNSServer) -> list[tuple[str, ...]]:
    """Probe addresses where evaluation through PowerDNS differs from the intent's result."""
    plan_builds = {i.domain: i for i in ws.intents}
    _, data = ws.macro_build()
    resolver = live(server)
    wrong = []
    for record in data.records:
        intent = plan_builds[record.domain]
        addresses = probe_addresses(record, data.zone_records or {}, ws.resolver)
        expected = expected_results(intent.record, record.domain, ws.resolver, addresses)
        for address, want in expected.items():
            got = evaluate(address, f"postmaster@{record.domain}", record.domain, resolver=resolver)
            if got.result is not want:
                wrong.append((record.domain, address, want.value, got.result.value, got.reason))
    return wrong


def test_records_backend_publishes_proven_records_and_rolls_over(
    tmp_path: Path, pdns: pdns_helper.PowerDNSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PDNS_KEY", pdns.api_key)
    path = write(tmp_path, pdns, VENDOR_RECORD)
    env_args = ("-c", path, "--dns-snapshot", tmp_path / "dns-snapshot.yaml")
    shown = run_cli("plan", *env_args, cwd=tmp_path)
    assert shown.returncode == 2, shown.stderr  # changes to make
    names = workspace(path).macro_build()[1].entries
    line = f"macro records: pdns zone {PARENT}: {names:,} names, {names:,} to change"
    assert line in shown.stdout

    applied = run_cli("apply", "--auto-approve", *env_args, cwd=tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"publish macro records: {names:,} change(s) in {PARENT}" in applied.stdout
    ws = workspace(path)
    assert not wrong_answers(ws, pdns)
    again = ws.plan()
    assert again.macro is not None and not again.macro.changed and not again.has_changes

    # Upstream moves: only the names that changed are patched, in one batch.
    (tmp_path / "dns-snapshot.yaml").write_text(yaml.safe_dump({VENDOR: [{"TXT": MOVED_RECORD}]}))
    ws = workspace(path)
    plan = ws.plan()
    assert plan.macro is not None and plan.macro.changed
    (records,) = [z for z in plan.macro.zones if z.purpose == "records"]
    assert 0 < len(records.changes) < names
    assert any("shrank from 320 to 160" in u for u in plan.unsafe)  # the guard holds it
    assert any("the macro records are shared with bigcorp.example" in u for u in plan.unsafe)
    watched = _watched()
    prober = _Prober(pdns.dns_port, watched)
    prober.start()
    try:
        time.sleep(0.2)
        ws.apply(plan, force=True)
        time.sleep(0.3)
    finally:
        prober.stop()
    assert prober.queries > len(watched), prober.queries
    assert not prober.bad, prober.bad[:5]
    moved = query_name(ip_address("198.51.100.200"), PARENT, ZONE)
    kept = query_name(ip_address("198.51.100.1"), PARENT, ZONE)
    assert prober.seen[moved] == ["v=spf1 +all", "v=spf1 -all"]  # old, then new: once
    assert prober.seen[kept] == ["v=spf1 +all"]
    assert not wrong_answers(workspace(path), pdns)
    final = workspace(path).plan()
    assert final.macro is not None and not final.macro.changed and not final.has_changes


def _watched() -> dict[str, set[str]]:
    """Macro names of addresses whose answer the rollover changes (and one it keeps) ->
    the answers acceptable during the rollover: the old one or the new one."""
    out: dict[str, set[str]] = {}
    for text in ("198.51.100.200", "203.0.113.100", "2001:db8:beef:1000::1", "198.51.100.1"):
        address: IPv4Address | IPv6Address = ip_address(text)
        name = query_name(address, PARENT, ZONE)
        out[name] = {"v=spf1 +all", "v=spf1 -all"}
    return out


class _Prober(threading.Thread):
    """Queries the watched names until stopped (bounded in count and time); records any
    answer that is not one of the acceptable texts (NXDOMAIN, empty, SERVFAIL, timeout)."""

    def __init__(self, port: int, watched: dict[str, set[str]]) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.watched = watched
        self.queries = 0
        self.bad: list[tuple[str, str]] = []
        self.seen: dict[str, list[str]] = {name: [] for name in watched}  # answers, in order
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=MAX_PROBE_SECONDS)

    def run(self) -> None:
        started = time.monotonic()
        while not self._halt.is_set() and self.queries < MAX_PROBE_QUERIES:
            if time.monotonic() - started > MAX_PROBE_SECONDS:
                return
            for name, accepted in self.watched.items():
                self.queries += 1
                query = dns.message.make_query(name, dns.rdatatype.TXT)
                try:
                    answer = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=1.0)
                except (dns.exception.DNSException, OSError) as exc:
                    self.bad.append((name, f"error {exc}"))
                    continue
                if answer.rcode() != dns.rcode.NOERROR:
                    self.bad.append((name, dns.rcode.to_text(answer.rcode())))
                    continue
                texts = {
                    b"".join(r.strings).decode()
                    for rrset in answer.answer
                    if rrset.rdtype == dns.rdatatype.TXT
                    for r in rrset
                }
                if len(texts) != 1 or not texts <= accepted:
                    self.bad.append((name, repr(texts)))
                    continue
                (text,) = texts
                if not self.seen[name] or self.seen[name][-1] != text:
                    self.seen[name].append(text)
