"""Load the OpenSPF YAML test suites into pytest parameters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SUITE_DIR = Path(__file__).parent.parent / "data" / "spf-suite"


@dataclass(frozen=True)
class SuiteCase:
    scenario: str
    name: str
    helo: str
    host: str
    mailfrom: str
    results: tuple[str, ...]
    explanation: str | None
    spec: str
    zonedata: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.name}"


def load_suite(filename: str) -> Iterator[SuiteCase]:
    """Every test of one suite file, with its scenario's zonedata."""
    text = (SUITE_DIR / filename).read_text(encoding="utf-8")
    for scenario in yaml.safe_load_all(text):
        if not scenario:
            continue
        for name, test in scenario["tests"].items():
            result = test["result"]
            results = tuple(result) if isinstance(result, list) else (result,)
            spec = test.get("spec", "")
            yield SuiteCase(
                scenario=scenario["description"],
                name=name,
                helo=str(test.get("helo", "")),
                host=str(test["host"]),
                mailfrom=str(test.get("mailfrom", "")),
                results=results,
                explanation=test.get("explanation"),
                spec=", ".join(spec) if isinstance(spec, list) else str(spec),
                zonedata=scenario.get("zonedata") or {},
            )
