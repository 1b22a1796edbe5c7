"""--apply-suggestions: round-trip edits of spfmanager.yaml (discover/edit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spfmanager.compile import compile_file
from spfmanager.discover.edit import apply_suggestions
from spfmanager.discover.suggest import Suggestion
from spfmanager.errors import ConfigError

COMMENTED = """\
# Our senders. Reviewed 2025-03.
defaults: {policy: "-all", ttl: 3600}

domains:
  example.com:   # the main domain
    services: [microsoft365, mailchimp]  # mailboxes and newsletters
    ip4: ["192.0.2.0/24"]   # the office
  other.example:
    ip4:
      - 198.51.100.7  # a printer
"""


def suggestion(domain: str, service: str, params: tuple[tuple[str, str], ...] = ()) -> Suggestion:
    return Suggestion(
        domain=domain,
        service=service,
        service_name=service,
        params=params,
        file="spfmanager.yaml",
        line=None,
        snippet="",
        proven_ips=("192.0.2.1",),
    )


def test_a_flow_list_keeps_its_comments_and_only_gains_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    written = apply_suggestions(path, [suggestion("example.com", "sendgrid")])
    assert [s.service for s in written] == ["sendgrid"]
    expected = COMMENTED.replace(
        "services: [microsoft365, mailchimp]", "services: [microsoft365, mailchimp, sendgrid]"
    )
    assert path.read_text(encoding="utf-8") == expected
    _, intents = compile_file(path)
    assert "include:sendgrid.net" in intents[0].record.render()


def test_a_domain_without_services_gets_a_flow_list_first(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    apply_suggestions(path, [suggestion("Other.Example", "mailgun", (("region", "eu"),))])
    text = path.read_text(encoding="utf-8")
    assert "  other.example:\n    services: [{mailgun: {region: eu}}]\n    ip4:\n" in text
    assert "      - 198.51.100.7  # a printer\n" in text
    assert text.startswith("# Our senders. Reviewed 2025-03.\n")


def test_a_block_list_stays_a_block_list(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(
        "domains:\n  example.com:\n    services:\n      - microsoft365   # mail\n", encoding="utf-8"
    )
    apply_suggestions(path, [suggestion("example.com", "sendgrid")])
    assert path.read_text(encoding="utf-8") == (
        "domains:\n  example.com:\n    services:\n      - microsoft365   # mail\n      - sendgrid\n"
    )


def test_a_listed_service_is_not_added_twice(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    assert apply_suggestions(path, [suggestion("example.com", "mailchimp")]) == []
    assert path.read_text(encoding="utf-8") == COMMENTED


def test_an_edit_that_does_not_validate_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        apply_suggestions(path, [suggestion("example.com", "no-such-service")])
    assert "does not validate" in caught.value.problems[0]
    assert path.read_text(encoding="utf-8") == COMMENTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spfmanager.yaml"]  # no temp file


def test_an_unmanaged_domain_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"does not manage nowhere\.example"):
        apply_suggestions(path, [suggestion("nowhere.example", "sendgrid")])
    assert path.read_text(encoding="utf-8") == COMMENTED
