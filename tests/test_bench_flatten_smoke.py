"""The flattening benchmark's --quick mode runs offline and spfmanager's outputs are equivalent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from benchmarks import bench_flatten, flatten_inputs
from benchmarks.bench_flatten import Tool

TOOL_KEYS = {"records", "bytes", "lookups", "build_ms", "dns_queries", "equivalent", "mismatches"}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return bench_flatten.run(quick=True)


def test_every_input_is_reported_for_both_tools(report: dict[str, Any]) -> None:
    assert [row["input"] for row in report["inputs"]] == [i.name for i in flatten_inputs.INPUTS]
    assert report["probe_points"] > 500
    for row in report["inputs"]:
        assert set(row["tools"]) == {t.value for t in Tool}
        ours = row["tools"][Tool.SPFMANAGER.value]
        assert ours.keys() >= TOOL_KEYS
        assert set(row["ratios"]) == {"bytes", "records", "lookups", "build_ms", "dns_queries"}
        theirs = row["tools"][Tool.SPFLAT.value]
        assert theirs["status"] == "ok" or theirs["reason"]


def test_spfmanager_outputs_are_equivalent_and_within_limits(report: dict[str, Any]) -> None:
    assert bench_flatten.all_equivalent(report)
    for row in report["inputs"]:
        ours = row["tools"][Tool.SPFMANAGER.value]
        assert ours["mismatches"] == 0
        assert ours["lookups"] <= 8
        assert ours["strings_over_255"] == 0
        assert row["domain"] in ours["published"]


def test_the_over_limit_input_needs_chaining(report: dict[str, Any]) -> None:
    row = next(r for r in report["inputs"] if r["input"] == "over-limit")
    assert row["intent_lookups"] > 10
    assert row["tools"][Tool.SPFMANAGER.value]["records"] > 1


def test_adversarial_inputs_expose_a_naive_flattener(report: dict[str, Any]) -> None:
    pytest.importorskip("sender_policy_flattener")
    theirs = {r["input"]: r["tools"][Tool.SPFLAT.value] for r in report["inputs"]}
    # The excluded /25 inside the include becomes authorized.
    assert theirs["adv-exclusions"]["transitions"].get("fail->pass", 0) > 0
    # The top-level '~all' is published as '-all'.
    assert theirs["adv-qualifiers"]["transitions"].get("softfail->fail", 0) > 0


def test_scaling_queries_each_name_once(report: dict[str, Any]) -> None:
    rows = report["scaling"]["rows"][Tool.SPFMANAGER.value]
    assert [r["domains"] for r in rows] == list(bench_flatten.QUICK_SCALES)
    assert len({r["dns_queries"] for r in rows}) == 1


def test_json_mode_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_flatten.main(["--quick", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["quick"] is True and data["inputs"]


def test_split_strings_round_trips() -> None:
    text = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(60)) + " -all"
    strings = bench_flatten.split_strings(text)
    assert "".join(strings) == text
    assert len(strings) > 1 and all(len(s) <= 255 for s in strings)
