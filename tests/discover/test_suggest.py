"""Config edits for failing-legitimate sources, each proven (discover/suggest.py)."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

from spfmanager.catalog import load_catalog
from spfmanager.config import load_config, parse_config
from spfmanager.discover.analyze import aggregate, attribute, passes
from spfmanager.discover.suggest import suggest
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.spf.results import Result
from tests.discover.test_analyze import (
    CONFIG_M365,
    M365_IP,
    SENDGRID_IP,
    UNKNOWN_IP,
    report,
    row,
    synthetic_reports,
)


def test_sendgrid_is_suggested_with_its_line_and_proof(
    resolver: SnapshotResolver, tmp_path: Path
) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(CONFIG_M365, encoding="utf-8")
    config = load_config(path)
    catalog = load_catalog()
    analysis = attribute(aggregate(synthetic_reports()), catalog, resolver, config=config)
    found = suggest(analysis, catalog, resolver, config=config, config_path="spfmanager.yaml")
    (edit,) = found.edits
    assert (edit.domain, edit.service, edit.proven_ips) == (
        "example.com",
        "sendgrid",
        (SENDGRID_IP,),
    )
    assert edit.unproven_ips == () and edit.messages == 50
    assert edit.line == 4
    assert edit.config_edit == (
        "add `sendgrid` (Twilio SendGrid) to `domains.example.com.services` in "
        "spfmanager.yaml (line 4), then plan and apply"
    )
    assert edit.snippet == "domains:\n  example.com:\n    services: [microsoft365, sendgrid]\n"
    # The proof's records, evaluated independently, pass SendGrid and still pass M365, and
    # not the unknown address.
    overlay = OverlayResolver(resolver, {n: [list(s)] for n, s in edit.records.items()})
    assert passes(ip_address(SENDGRID_IP), "example.com", overlay) is Result.PASS
    assert passes(ip_address(M365_IP), "example.com", overlay) is Result.PASS
    assert passes(ip_address(UNKNOWN_IP), "example.com", overlay) is Result.FAIL
    assert UNKNOWN_IP not in edit.proven_ips


def test_unknown_sources_get_no_suggestion(resolver: SnapshotResolver) -> None:
    config = parse_config(CONFIG_M365, "spfmanager.yaml")
    catalog = load_catalog()
    reports = [report(row(UNKNOWN_IP, 9, spf="fail"))]
    analysis = attribute(aggregate(reports), catalog, resolver, config=config)
    assert suggest(analysis, catalog, resolver, config=config).edits == ()


def test_a_proof_that_fails_is_not_suggested(resolver: SnapshotResolver) -> None:
    """An attribution the new records do not confirm (here: the snapshot's sendgrid.net
    replaced by one that no longer lists the address) is never suggested."""
    config = parse_config(CONFIG_M365, "spfmanager.yaml")
    catalog = load_catalog()
    analysis = attribute(aggregate(synthetic_reports()), catalog, resolver, config=config)
    moved = OverlayResolver(resolver, {"sendgrid.net": [["v=spf1 ip4:192.0.2.0/24 -all"]]})
    found = suggest(analysis, catalog, moved, config=config)
    assert found.edits == ()
    assert any("sendgrid" in note and "not suggested" in note for note in found.notes)


def test_parameterised_service_keeps_its_parameters(resolver: SnapshotResolver) -> None:
    """Mailgun's region: an EU address is attributed to the default (both regions) and the
    edit adds exactly what was proven."""
    config = parse_config(CONFIG_M365, "spfmanager.yaml")
    catalog = load_catalog()
    analysis = attribute(
        aggregate([report(row("141.193.32.9", 4, spf="fail"))]), catalog, resolver, config=config
    )
    (source,) = analysis.sources
    assert source.service == "mailgun"
    (edit,) = suggest(analysis, catalog, resolver, config=config).edits
    assert edit.service == "mailgun" and edit.proven_ips == ("141.193.32.9",)
    assert "mailgun" in edit.snippet


def test_without_config_the_proof_uses_the_published_record(resolver: SnapshotResolver) -> None:
    catalog = load_catalog()
    reports = [report(row(SENDGRID_IP, 2, spf="fail"), domain="info.mondialrelay.fr")]
    analysis = attribute(aggregate(reports), catalog, resolver)
    (edit,) = suggest(analysis, catalog, resolver).edits
    assert edit.file is None and edit.service == "sendgrid"
    assert edit.config_edit.startswith("if spfmanager manages info.mondialrelay.fr, add `sendgrid`")
    (text,) = edit.records["info.mondialrelay.fr"]
    assert text == "v=spf1 include:spf.protection.outlook.com include:sendgrid.net -all"


def test_a_published_record_over_its_limits_proves_nothing(resolver: SnapshotResolver) -> None:
    """mondialrelay.fr's record needs more than 10 lookups: adding SendGrid still gives
    permerror, so nothing is suggested."""
    catalog = load_catalog()
    reports = [report(row(SENDGRID_IP, 2, spf="fail"), domain="mondialrelay.fr")]
    analysis = attribute(aggregate(reports), catalog, resolver)
    found = suggest(analysis, catalog, resolver)
    assert found.edits == ()
    assert found.notes == (
        "sendgrid for mondialrelay.fr: adding it does not make its sources pass: not suggested",
    )
