"""The stable API users import from the package root."""

from __future__ import annotations

from pathlib import Path

import pytest

import spfmanager

SNAPSHOT = Path(__file__).parent / "data" / "provider-snapshot.yaml"


def test_flatten_returns_records_root_first_and_lookups() -> None:
    resolver = spfmanager.SnapshotResolver.from_file(SNAPSHOT)
    result = spfmanager.flatten(
        "v=spf1 include:_spf.google.com include:sendgrid.net -all", "example.com", resolver=resolver
    )
    names = list(result.records)
    assert names[0] == "example.com"
    assert all(isinstance(s, str) and len(s) <= 255 for v in result.records.values() for s in v)
    assert result.lookups == len(names) - 1
    assert isinstance(result, spfmanager.FlattenResult)


def test_flatten_options_pass_through() -> None:
    resolver = spfmanager.SnapshotResolver.from_file(SNAPSHOT)
    kept = spfmanager.flatten(
        "v=spf1 include:sendgrid.net -all",
        "example.com",
        resolver=resolver,
        keep=["include:sendgrid.net"],
        lookup_budget=3,
    )
    assert kept.records == {"example.com": ["v=spf1 include:sendgrid.net -all"]}


def test_flatten_error_has_a_human_reason() -> None:
    resolver = spfmanager.SnapshotResolver.from_file(SNAPSHOT)
    with pytest.raises(spfmanager.FlattenError, match=r"_spf\.salesforce\.com|esp\.github\.com"):
        spfmanager.flatten("v=spf1 include:github.com -all", "example.com", resolver=resolver)


def test_evaluate_result_values_are_the_rfc_names() -> None:
    resolver = spfmanager.SnapshotResolver({"example.com": [{"TXT": "v=spf1 -all"}]})
    outcome = spfmanager.evaluate(
        "192.0.2.1",
        "a@example.com",
        "helo.example",
        resolver=resolver,
        default_explanation="DEFAULT",
    )
    assert outcome.result == "fail" and outcome.explanation == "DEFAULT"
    assert {r.value for r in spfmanager.Result} == {
        "pass",
        "fail",
        "softfail",
        "neutral",
        "none",
        "temperror",
        "permerror",
    }
    assert outcome.trace and all(step.message for step in outcome.trace)
