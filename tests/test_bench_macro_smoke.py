"""The macro benchmark's --quick mode: rbldnsd and BIND answer, and macro mode needs one
lookup per check where the flattened records need several."""

from __future__ import annotations

import pytest

from benchmarks import bench_macro
from tests.integration import pdns as pdns_helper
from tests.integration.bind import require_named
from tests.macro.servers import require_rbldnsd

pytestmark = pytest.mark.integration


def test_quick_run() -> None:
    require_rbldnsd()
    require_named()
    report = bench_macro.run(quick=True)
    sides = ["rbldnsd (macro)", "BIND (macro records)", "BIND (flattened)"]
    if pdns_helper.available():
        sides.append("PowerDNS (macro records)")
    for side in sides:
        row = report["throughput"][side]
        assert row["answers"] > 0 and row["failed"] == 0, (side, row)
    lookups = report["lookups"]
    assert lookups["macro"]["max_lookups"] == 1
    assert lookups["flattened"]["mean_lookups"] > lookups["macro"]["mean_lookups"]
    assert "macro.spfm.test" in report["records"]["macro_root"]
    assert "answers per second" in bench_macro.render(report)
