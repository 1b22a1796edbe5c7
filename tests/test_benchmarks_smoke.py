"""The evaluator benchmark runs in both of its documented forms (structure only, not timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("spf", reason="the benchmark compares against pyspf (test extra)")

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args, "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_quick_json_run_as_module() -> None:
    completed = run("-m", "benchmarks.bench_evaluate", "--json")
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["quick"] is True
    assert document["flattened_terms"] >= 50
    assert {"python", "pyspf", "spfmanager", "cpus"} <= document["environment"].keys()
    rows = document["results"]
    assert {row["record"].split()[0] for row in rows} == {"a", "b", "c"}
    assert {"early", "late", "never"} <= {row["position"] for row in rows}
    for row in rows:
        assert row["result"] in {"pass", "fail", "permerror", "neutral", "softfail"}
        assert row["spfmanager_ops"] > 0
        assert row["pyspf_ops"] > 0
        assert row["ratio"] == pytest.approx(row["spfmanager_ops"] / row["pyspf_ops"], rel=0.01)
    chain = document["chain"]
    assert chain["root_terms"] >= 50
    assert chain["root_strings"] > 1  # published as several 255-byte strings
    assert chain["table"]["evaluations"] > 0
    assert {row["clients"] for row in chain["rows"]} == {"ipv4", "ipv6", "all"}
    for row in chain["rows"]:
        assert sum(row["results"].values()) == row["count"]
        for path in ("pyspf_us", "slow_us", "chain_us", "evaluate_us"):
            assert row[path] > 0
        assert row["chain_ratio"] == pytest.approx(row["pyspf_us"] / row["chain_us"], rel=0.01)


def test_quick_table_run_as_script() -> None:
    completed = run(str(Path("benchmarks") / "bench_evaluate.py"))
    assert completed.returncode == 0, completed.stderr
    assert "SPF evaluations per second" in completed.stdout
    for heading in ("spfmanager/s", "pyspf/s", "ratio", "a flattened", "b includes", "c small"):
        assert heading in completed.stdout
    for heading in ("d chain", "chain ratio", "evaluate()"):
        assert heading in completed.stdout
