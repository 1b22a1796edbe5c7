"""``spfmanager services``: the bundled catalog, listed, filtered and shown, as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from spfmanager.catalog import load_catalog
from tests.cli.run import TERMINAL_SIZE, environment, run_cli

CATALOG = load_catalog()


def spfmanager(
    *args: str, cwd: Path, columns: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run as a user does; stdout a pipe as wide as its content unless ``columns``."""
    width = {} if columns is None else {"COLUMNS": str(columns)}
    return run_cli(*args, cwd=cwd, env=environment(unset=TERMINAL_SIZE, **width))


def test_no_argument_lists_every_service_with_its_include_and_docs(tmp_path: Path) -> None:
    done = spfmanager("services", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for service in CATALOG:
        assert service.id in done.stdout
        assert service.docs is not None and service.docs in done.stdout  # nothing cut
    assert "include:_spf.google.com" in done.stdout
    assert "…" not in done.stdout


def test_a_narrow_console_folds_cells_instead_of_cutting_them(tmp_path: Path) -> None:
    done = spfmanager("services", "show", "hubspot", cwd=tmp_path, columns=60)
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 60
    notes = CATALOG.get("hubspot").notes
    assert "".join(notes.split()) in "".join(c for c in done.stdout if c not in " │\n")


def test_json_lists_every_entry_with_the_catalogs_values(tmp_path: Path) -> None:
    done = spfmanager("services", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert [e["id"] for e in entries] == [s.id for s in CATALOG]
    for entry in entries:
        service = CATALOG.get(entry["id"])
        assert entry["name"] == service.name
        assert entry["docs"] == service.docs
        assert entry["verified"] is service.verified
        assert entry["include"] == list(service.include)
        assert set(entry["parameters"]) == set(service.parameters)
    by_id = {e["id"]: e for e in entries}
    assert by_id["google-workspace"]["terms"] == ["include:_spf.google.com"]
    mailgun = {r["region"]: r["terms"] for r in by_id["mailgun"]["regions"]}
    assert mailgun["eu"] == ["include:_spf.eu.mailgun.org"]
    assert mailgun["us"] == ["include:_spf.mailgun.org"]


@pytest.mark.parametrize("query", ["google", "GOOGLE", "Workspace", "_spf.google"])
def test_query_filters_on_id_name_and_include_any_case(query: str, tmp_path: Path) -> None:
    done = spfmanager("services", query, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "google-workspace" in [e["id"] for e in json.loads(done.stdout)]


@pytest.mark.parametrize(
    ("query", "found"),
    [("gcc-high", "microsoft365-gov"), ("SECURITY-gateway", "mimecast"), ("o365", "microsoft365")],
)
def test_query_searches_aliases_and_category(query: str, found: str, tmp_path: Path) -> None:
    done = spfmanager("services", query, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert found in [e["id"] for e in json.loads(done.stdout)]


def test_query_table_shows_only_the_matches(tmp_path: Path) -> None:
    done = spfmanager("services", "mail", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    expected = {
        s.id
        for s in CATALOG
        if "mail" in " ".join([s.id, *s.aliases, s.name, s.category, *s.include, *s.a]).lower()
        or any(
            "mail" in t.render() for t in s.terms({n: p.example for n, p in s.parameters.items()})
        )
    }
    assert {"mailgun", "mailjet", "mailchimp"} <= expected
    for service in CATALOG:
        assert (service.id in done.stdout) == (service.id in expected), service.id


def test_group_json_applies_to_the_query(tmp_path: Path) -> None:
    done = spfmanager("services", "--json", "zohomail", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [e["id"] for e in json.loads(done.stdout)] == ["zoho-mail"]


def test_a_query_matching_nothing_says_so_and_exits_1(tmp_path: Path) -> None:
    done = spfmanager("services", "no-such-sender-anywhere", cwd=tmp_path)
    assert done.returncode == 1
    assert "no service matches 'no-such-sender-anywhere'" in done.stderr
    assert done.stdout == ""


def test_show_prints_every_field_and_the_notes(tmp_path: Path) -> None:
    done = spfmanager("services", "show", "mailgun", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    service = CATALOG.get("mailgun")
    for text in (service.name, service.docs, service.notes, "include:_spf.eu.mailgun.org"):
        assert text is not None and text in done.stdout
    assert "services: [mailgun]" in done.stdout  # markup-like text printed as written


def test_show_json_is_one_list_element(tmp_path: Path) -> None:
    shown = spfmanager("services", "show", "hubspot", "--json", cwd=tmp_path)
    listed = spfmanager("services", "--json", cwd=tmp_path)
    assert shown.returncode == 0 and listed.returncode == 0
    entry = json.loads(shown.stdout)
    assert entry == next(e for e in json.loads(listed.stdout) if e["id"] == "hubspot")
    assert entry["parameters"]["account_id"]["required"] is True
    assert entry["config"] == '{hubspot: {account_id: "1234567"}}'


def test_show_unknown_id_suggests_the_closest_and_exits_1(tmp_path: Path) -> None:
    done = spfmanager("services", "show", "googleworkspace", cwd=tmp_path)
    assert done.returncode == 1
    assert "unknown service 'googleworkspace'; did you mean 'google-workspace'?" in done.stderr
    assert done.stdout == ""


def test_help_shows_the_query_and_show(tmp_path: Path) -> None:
    done = spfmanager("services", "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "[QUERY | show ID]" in done.stdout and "show" in done.stdout


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("google", ["google-workspace"]),
        ("mailgnu", ["mailgun"]),
        ("microsoft356", ["microsoft365"]),
        ("zoho-eu", ["zoho"]),
        ("Exchange", ["microsoft365"]),
    ],
)
def test_close_matches_prefix_substring_then_spelling(typed: str, meant: list[str]) -> None:
    assert CATALOG.close_matches(typed)[: len(meant)] == meant


def test_close_matches_keeps_at_most_three() -> None:
    close = CATALOG.close_matches("mail")
    assert len(close) == 3 and all(c.startswith("mail") for c in close)


def test_json_entries_carry_the_provenance_fields(tmp_path: Path) -> None:
    done = spfmanager("services", "--json", cwd=tmp_path)
    entries = {e["id"]: e for e in json.loads(done.stdout)}
    for service in CATALOG:
        entry = entries[service.id]
        assert entry["category"] == service.category.value
        assert entry["root"] == service.root.value
        assert entry["aliases"] == list(service.aliases)
        assert entry["last_verified"] == str(service.last_verified)
        assert entry["verified"] is service.verified
        assert entry["sources"] == list(service.sources)
    assert "gcc-high" in entries["microsoft365-gov"]["aliases"]


def test_table_has_category_and_root_columns(tmp_path: Path) -> None:
    done = spfmanager("services", "mimecast", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if "┃ id" in line)
    assert "┃ category" in header and "┃ root" in header
    assert "security-gateway" in done.stdout and "required" in done.stdout


def test_show_a_root_none_entry_says_there_is_nothing_to_add(tmp_path: Path) -> None:
    done = spfmanager("services", "show", "socketlabs", cwd=tmp_path, columns=400)
    assert done.returncode == 0, done.stderr
    assert "nothing to add to your SPF record: SocketLabs implements SPF" in done.stdout


def test_show_an_alias_shows_its_service(tmp_path: Path) -> None:
    done = spfmanager("services", "show", "gcc-high", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == "microsoft365-gov"
