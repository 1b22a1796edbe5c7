"""A vendor whose addresses shrink or grow past the thresholds is held (issue 7.10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spfmanager.publish.drift import ServiceDrift, compare_sizes
from spfmanager.publish.plan import UnsafePlanError
from tests.test_workflow import UPSTREAM, served, workspace, write_config

SERVICES = ["microsoft365", "mailchimp"]
MAILCHIMP = "servers.mcsv.net"


def with_mailchimp(record: str) -> dict[str, Any]:
    return {**UPSTREAM, MAILCHIMP: [{"TXT": record}]}


def first_apply(tmp_path: Path, **domain: Any) -> Path:
    path = write_config(tmp_path, SERVICES, **domain)
    ws = workspace(path)
    ws.apply(ws.plan())
    return path


@pytest.mark.parametrize("record", ["v=spf1 -all", "v=spf1 ?all", "v=spf1 ip4:198.2.128.0/24 -all"])
def test_a_vendor_that_drops_its_addresses_is_refused_without_force(
    tmp_path: Path, record: str
) -> None:
    path = first_apply(tmp_path)
    before = served(tmp_path)
    ws = workspace(path, with_mailchimp(record))
    plan = ws.plan()
    (domain_plan,) = plan.domains
    assert any("services.mailchimp: IPv4 addresses shrank" in u for u in domain_plan.unsafe)
    assert not any("microsoft365" in u for u in domain_plan.unsafe)
    with pytest.raises(UnsafePlanError, match="mailchimp"):
        ws.apply(plan)
    assert served(tmp_path) == before
    (drift,) = plan.data["domains"][0]["service_drift"]
    assert drift["service"] == "services.mailchimp" and drift["refused"]
    ws.apply(plan, force=True)
    # Forced: the new size is the baseline, and the next plan is quiet.
    assert not workspace(path, with_mailchimp(record)).plan().unsafe


def test_a_small_shrink_is_a_note_and_a_threshold_is_configurable(tmp_path: Path) -> None:
    # mailchimp: /20 + /18 = 4096 + 16384 addresses; dropping the /20 loses 20%.
    path = first_apply(tmp_path)
    smaller = with_mailchimp("v=spf1 ip4:198.2.128.0/18 -all")
    (domain_plan,) = workspace(path, smaller).plan().domains
    assert not domain_plan.unsafe
    assert any("shrank from 20,480 to 16,384 (-20%)" in n for n in domain_plan.notes)
    strict = write_config(tmp_path, SERVICES, max_service_shrink=10)
    (domain_plan,) = workspace(strict, smaller).plan().domains
    assert any("mailchimp" in u for u in domain_plan.unsafe)


def test_a_large_growth_is_refused(tmp_path: Path) -> None:
    path = first_apply(tmp_path)
    grown = with_mailchimp("v=spf1 ip4:205.201.128.0/20 ip4:198.2.128.0/18 ip4:10.0.0.0/14 -all")
    (domain_plan,) = workspace(path, grown).plan().domains
    assert any("grew from 20,480 to 282,624" in u for u in domain_plan.unsafe)
    roomy = write_config(tmp_path, SERVICES, max_service_growth=2000)
    (domain_plan,) = workspace(roomy, grown).plan().domains
    assert not domain_plan.unsafe


def test_compare_sizes() -> None:
    before = {"s": {4: 100, 6: 0}, "gone": {4: 5}}
    after = {"s": {4: 50, 6: 1 << 64}, "new": {4: 7}}
    (drift,) = compare_sizes(before, after, 0.25, 4.0)
    assert drift == ServiceDrift("s", 4, 100, 50, True)
    assert compare_sizes(before, after, 0.5, 4.0)[0].refused is False
    assert compare_sizes(None, after, 0.25, 4.0) == []


def test_a_range_wider_than_the_minimum_prefix_is_refused(tmp_path: Path) -> None:
    wide = with_mailchimp("v=spf1 ip4:205.192.0.0/12 -all")  # 1M addresses: under the /8 max
    path = write_config(tmp_path, SERVICES, min_ipv4_prefix=16)
    (domain_plan,) = workspace(path, wide).plan().domains
    assert any("ip4:205.192.0.0/12 is wider than a /16" in u for u in domain_plan.unsafe)
    (domain_plan,) = workspace(write_config(tmp_path, SERVICES), wide).plan().domains
    assert not any("wider than" in u for u in domain_plan.unsafe)
