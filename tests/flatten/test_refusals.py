"""flatten() refuses with a machine-readable cause, never crashes, and refuses no more than
it must: constant ``exists``, unreachable terms and the lookup budget as a preference."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import spfmanager
from spfmanager.cli import app
from spfmanager.compile import compile_config
from spfmanager.config.models import Config
from spfmanager.daemon.runner import Outcome, Runner
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import (
    FlattenError,
    KeptTermLimitError,
    OwnRecordError,
    RefusalCause,
    UpstreamRecordError,
)
from spfmanager.flatten import Flattener, FlattenResult, flatten
from spfmanager.publish.build import build
from spfmanager.publish.changes import RecordSet
from spfmanager.publish.plan import plan_domain

DOMAIN = "example.com"


def zone(data: dict[str, Any]) -> spfmanager.SnapshotResolver:
    return spfmanager.SnapshotResolver(data)


def refusal(record: str, data: dict[str, Any], **options: Any) -> FlattenError:
    with pytest.raises(FlattenError) as raised:
        flatten(record, DOMAIN, resolver=zone(data), **options)
    return raised.value


def assert_equivalent(record: str, resolver: spfmanager.Resolver, result: FlattenResult) -> None:
    """The published records give the intent's result (without limits) at probe addresses."""
    intent = OverlayResolver(resolver, {DOMAIN: [[record]]})
    published = OverlayResolver(resolver, {n: [s] for n, s in result.records.items()})
    for ip in ("0.0.0.0", "192.0.2.1", "198.51.100.7", "255.255.255.255", "::", "2001:db8::1"):
        want = spfmanager.evaluate(
            ip, f"a@{DOMAIN}", DOMAIN, resolver=intent, max_lookups=10**6, max_void_lookups=10**6
        )
        got = spfmanager.evaluate(ip, f"a@{DOMAIN}", DOMAIN, resolver=published)
        assert got.result is want.result, ip


# -- point 1: every refusal has a cause; the intent's own syntax error is one ----------------


def test_a_syntax_error_in_the_own_record_is_a_refusal_naming_the_term() -> None:
    error = refusal("v=spf1 ip4:192.0.2.1 ip4:1.2.3.4/40 -all", {})
    assert isinstance(error, OwnRecordError)  # was SPFSyntaxError, not a FlattenError
    assert error.cause is RefusalCause.OWN_SYNTAX
    assert "'ip4:1.2.3.4/40'" in str(error) and "invalid IPv4 prefix length" in str(error)
    assert error.data["cause"] == "own-syntax"


@pytest.mark.parametrize(
    ("data", "cause", "reason"),
    [
        ({}, RefusalCause.UPSTREAM_MISSING, "vendor.example does not exist (NXDOMAIN)"),
        (
            {"vendor.example": [{"TXT": "not spf"}]},
            RefusalCause.UPSTREAM_MISSING,
            "vendor.example has no SPF record",
        ),
        (
            {"vendor.example": [{"TXT": "v=spf1 -all"}, {"TXT": "v=spf1 +all"}]},
            RefusalCause.UPSTREAM_DUPLICATE,
            "vendor.example has 2 SPF records",
        ),
        (
            {"vendor.example": [{"TXT": "v=spf1 ip4:1.2.3.4/40 -all"}]},
            RefusalCause.UPSTREAM_SYNTAX,
            "syntax error in the SPF record of vendor.example",
        ),
        (
            {"vendor.example": [{"TXT": "v=spf1 redirect=vendor.example"}]},
            RefusalCause.UPSTREAM_LOOP,
            "redirect=vendor.example: include/redirect loop: vendor.example -> vendor.example",
        ),
    ],
    ids=["nxdomain", "no-spf", "duplicate", "syntax", "loop"],
)
def test_broken_upstream_records_are_upstream_refusals(
    data: dict[str, Any], cause: RefusalCause, reason: str
) -> None:
    error = refusal("v=spf1 include:vendor.example -all", data)
    assert isinstance(error, UpstreamRecordError) and error.cause is cause
    assert f"{DOMAIN}: include:vendor.example: {reason}" in str(error)
    assert "receivers get permerror for every IPv4 and IPv6 address" in str(error)
    assert error.affected == 1.0 and not error.transient


def test_a_dns_timeout_is_transient_and_promises_no_last_good_record() -> None:
    error = refusal("v=spf1 include:slow.example -all", {"slow.example": ["TIMEOUT"]})
    assert type(error) is FlattenError and error.transient
    assert error.cause is RefusalCause.TRANSIENT_DNS
    assert "DNS error resolving slow.example TXT" in str(error)
    assert "last good" not in str(error)  # flatten() cannot know whether there is one


def test_budget_deadline_and_size_refusals_have_their_causes() -> None:
    data = {"v.example": [{"TXT": "v=spf1 a:h1.example a:h2.example a:h3.example -all"}]}
    over = refusal("v=spf1 include:v.example -all", data, query_budget=2)
    assert over.cause is RefusalCause.QUERY_BUDGET and not over.transient

    class Clock:
        now = 0.0

        def __call__(self) -> float:
            self.now += 10.0
            return self.now

    with pytest.raises(FlattenError) as late:
        Flattener(zone(data), clock=Clock()).flatten(
            "v=spf1 include:v.example -all", DOMAIN, deadline=15
        )
    assert late.value.cause is RefusalCause.DEADLINE and late.value.transient

    big = refusal("v=spf1 ip4:192.0.2.1 ip4:192.0.2.3 -all", {}, max_answer=60)
    assert big.cause is RefusalCause.SIZE and str(big).startswith(f"{DOMAIN}: cannot fit")


def test_nesting_past_the_limit_is_an_upstream_refusal() -> None:
    data = {f"d{i}.example": [{"TXT": f"v=spf1 include:d{i + 1}.example -all"}] for i in range(40)}
    error = refusal("v=spf1 include:d0.example -all", data)
    assert isinstance(error, UpstreamRecordError)
    assert error.cause is RefusalCause.UPSTREAM_DEPTH


# -- point 2: a loop inside a kept term is refused before anything evaluates it --------------


@pytest.mark.parametrize(
    ("data", "keep"),
    [
        ({"k.example": [{"TXT": "v=spf1 exists:%{i}.x.example include:k.example -all"}]}, ()),
        (
            {
                "k.example": [{"TXT": "v=spf1 ip4:192.0.2.1 include:j.example -all"}],
                "j.example": [{"TXT": "v=spf1 redirect=k.example"}],
            },
            ("include:k.example",),
        ),
    ],
    ids=["kept-for-exists", "kept-by-configuration"],
)
def test_a_loop_inside_a_kept_include_is_refused_not_a_recursion_error(
    data: dict[str, Any], keep: tuple[str, ...]
) -> None:
    error = refusal("v=spf1 include:k.example -all", data, keep=keep)  # was RecursionError
    assert isinstance(error, UpstreamRecordError)
    assert error.cause is RefusalCause.UPSTREAM_LOOP
    assert "include:k.example: " in str(error) and "loop: " in str(error)


def test_a_kept_redirect_with_a_loop_below_is_refused() -> None:
    data = {"r.example": [{"TXT": "v=spf1 exists:%{i}.x.example redirect=r.example"}]}
    error = refusal("v=spf1 ip4:192.0.2.1 redirect=r.example", data, keep=["redirect=r.example"])
    assert error.cause is RefusalCause.UPSTREAM_LOOP


# -- point 3: "receivers get an error" only where the intent gives one; with the share --------


def test_an_error_no_receiver_reaches_is_no_refusal() -> None:
    resolver = zone({"ok.test": [{"A": "127.0.0.2"}]})
    record = "v=spf1 exists:ok.test redirect=nospf.test"  # nospf.test does not exist
    result = flatten(record, DOMAIN, resolver=resolver)  # was "receivers get an error"
    assert result.texts == {DOMAIN: "v=spf1 +all"}
    assert_equivalent(record, resolver, result)


def test_an_error_of_the_intent_itself_says_so_with_the_share_of_addresses() -> None:
    exchanges = [{"MX": [n, f"mx{n}.example"]} for n in range(11)]
    error = refusal("v=spf1 ip4:0.0.0.0/1 ip6:::/0 mx:big.example -all", {"big.example": exchanges})
    assert isinstance(error, OwnRecordError) and error.cause is RefusalCause.INTENT_ERROR
    assert error.affected == 0.5
    assert error.affected_note == "2,147,483,648 IPv4 addresses (50% of IPv4)"
    assert str(error) == (
        f"{DOMAIN}: receivers get an error from this record for 2,147,483,648 IPv4 addresses "
        "(50% of IPv4): big.example has 11 MX records (limit 10)"
    )


def test_an_upstream_error_gives_the_share_it_is_about() -> None:
    error = refusal("v=spf1 ip4:192.0.2.0/24 ip6:::/0 include:gone.example -all", {})
    assert isinstance(error, UpstreamRecordError)
    assert "receivers get an error from this record" not in str(error)
    assert error.affected_note == "4,294,967,040 IPv4 addresses (almost 100% of IPv4)"
    behind_kept = refusal("v=spf1 exists:%{i}.allow.example include:gone.example -all", {})
    assert behind_kept.affected_note == "up to every IPv4 and IPv6 address"


# -- point 4: the chain of targets is said once ------------------------------------------------


def test_a_loop_names_each_hop_once() -> None:
    data = {"d4.example": [{"TXT": "v=spf1 include:d4.example -all"}]}
    error = refusal("v=spf1 include:d4.example -all", data)
    assert "include:d4.example: include:d4.example" not in str(error)
    assert str(error).startswith(
        f"{DOMAIN}: include:d4.example: include/redirect loop: d4.example -> d4.example;"
    )


# -- point 5: "keeping the last good record" only where there is one ------------------------


def test_a_transient_failure_on_a_first_plan_keeps_nothing() -> None:
    config = Config.model_validate({"domains": {DOMAIN: {"include": ["slow.example"]}}})
    resolver = zone({"slow.example": ["TIMEOUT"]})
    (failed,) = build(compile_config(config), resolver)
    assert failed.transient and failed.cause is RefusalCause.TRANSIENT_DNS
    now = datetime(2026, 1, 1, tzinfo=UTC)
    first = plan_domain(failed, "local", {}, [], now, resolver)
    assert first.notes == ("nothing was published before",)  # was "keeping the last good ..."
    live = {DOMAIN: RecordSet(DOMAIN, ("v=spf1 ip4:192.0.2.1 -all",), 300)}
    later = plan_domain(failed, "local", live, [], now, resolver)
    assert later.notes == ("keeping the last good record",)
    assert first.data["cause"] == "transient-dns"


def test_the_daemon_says_no_last_good_record_stays_on_a_first_run(tmp_path: Path) -> None:
    config = {
        "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
        "defaults": {"provider": "local", "ttl": 300},
        "state": {"url": "sqlite:///state.db"},
        "domains": {DOMAIN: {"include": ["vendor.test"]}},
    }
    path = tmp_path / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    answers: dict[str, Any] = {"vendor.test": ["TIMEOUT"]}
    runner = Runner(path, lambda: zone(answers), retire_grace=0.0)
    (first,) = runner.run()
    assert first.outcome is Outcome.UPSTREAM_ERROR
    assert first.reason.endswith("; nothing was published before")  # was "...record stays"
    answers["vendor.test"] = [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}]
    assert runner.run()[0].outcome is Outcome.APPLIED
    answers["vendor.test"] = ["TIMEOUT"]
    (again,) = runner.run()
    assert again.reason.endswith("; the last good record stays")


# -- point 6a: an exists of a fixed name is a constant ---------------------------------------


def test_exists_of_a_fixed_name_with_an_address_matches_everything() -> None:
    resolver = zone({"ok.test": [{"A": "127.0.0.2"}], "v.example": [{"TXT": "v=spf1 -all"}]})
    record = "v=spf1 ip4:192.0.2.1 -exists:ok.test include:v.example ~all"
    result = flatten(record, DOMAIN, resolver=resolver)
    assert result.texts == {DOMAIN: "v=spf1 ip4:192.0.2.1 -all"}
    assert result.resolved == ("-exists:ok.test: ok.test has an A record: matches every address",)
    assert result.data["resolved"] == list(result.resolved)
    assert result.kept == () and result.intent_lookups == 2 and result.lookups == 0
    assert_equivalent(record, resolver, result)


def test_exists_of_a_fixed_name_without_an_address_never_matches_and_is_a_void_lookup() -> None:
    resolver = zone({"v.example": [{"TXT": "v=spf1 exists:none.test ip4:198.51.100.0/24 -all"}]})
    record = "v=spf1 include:v.example -all"
    result = flatten(record, DOMAIN, resolver=resolver)
    assert result.texts == {DOMAIN: "v=spf1 ip4:198.51.100.0/24 -all"}
    assert "exists:none.test: none.test has no A record: matches no address" in result.resolved
    assert "void lookup: exists:none.test: none.test has no A record" in result.warnings
    assert result.intent_lookups == 2  # receivers of the record as written count it
    assert_equivalent(record, resolver, result)


def test_exists_with_macros_and_kept_exists_stay_as_written() -> None:
    resolver = zone({"ok.test": [{"A": "127.0.0.2"}]})
    result = flatten(
        "v=spf1 exists:ok.test -all", DOMAIN, resolver=resolver, keep=["exists:ok.test"]
    )
    assert result.texts == {DOMAIN: "v=spf1 exists:ok.test -all"}
    dynamic = flatten("v=spf1 exists:%{i}.ok.test -all", DOMAIN, resolver=resolver)
    assert dynamic.texts == {DOMAIN: "v=spf1 exists:%{i}.ok.test -all"}


# -- point 6b: terms no address reaches are neither resolved nor judged --------------------


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1 ip4:0.0.0.0/0 ip6:::/0 include:slow.example -all",
        "v=spf1 ip4:0.0.0.0/0 ip6:::/0 redirect=slow.example",
        "v=spf1 ip4:0.0.0.0/0 exists:%{i}.x.example ip6:::/0 include:slow.example ptr -all",
        "v=spf1 -all include:slow.example",
    ],
)
def test_dns_failures_no_address_reaches_do_not_refuse(record: str) -> None:
    resolver = zone({"slow.example": ["TIMEOUT"]})
    result = flatten(record, DOMAIN, resolver=resolver)  # was a transient refusal
    assert "slow.example" not in " ".join(result.texts.values())
    assert "ptr" not in " ".join(result.texts.values())


def test_a_failure_only_some_addresses_reach_is_refused_for_those() -> None:
    resolver = zone(
        {
            "mx.example": [{"MX": [20, "slow.example"]}, {"MX": [10, "good.example"]}],
            "good.example": [{"A": "192.0.2.1"}],
            "slow.example": ["TIMEOUT"],
        }
    )
    with pytest.raises(FlattenError) as raised:
        flatten("v=spf1 ip6:::/0 mx:mx.example -all", DOMAIN, resolver=resolver)
    assert raised.value.transient
    # good.example, tried first, decides 192.0.2.1: the unanswered query is reached after.
    assert raised.value.affected_note == "4,294,967,295 IPv4 addresses (almost 100% of IPv4)"


# -- point 6c: the lookup budget is a preference; 10 is the limit -----------------------------


KEPT = {f"k{i}.example": [{"TXT": f"v=spf1 ip4:192.0.2.{i} -all"}] for i in range(12)}
INCLUDES = [f"include:k{i}.example" for i in range(12)]


def test_over_the_budget_within_the_limit_is_a_warning() -> None:
    record = "v=spf1 " + " ".join(INCLUDES[:9]) + " -all"
    result = flatten(record, DOMAIN, resolver=zone(KEPT), keep=INCLUDES)  # budget 8
    assert result.lookups == 9
    (warning,) = result.warnings
    assert "9 DNS lookups, over the lookup budget of 8 but within RFC 7208's 10" in warning
    within = flatten(record, DOMAIN, resolver=zone(KEPT), keep=INCLUDES, lookup_budget=10)
    assert within.warnings == ()


def test_kept_terms_over_ten_lookups_are_refused() -> None:
    record = "v=spf1 " + " ".join(INCLUDES[:11]) + " -all"
    error = refusal(record, KEPT, keep=INCLUDES)
    assert isinstance(error, KeptTermLimitError) and error.cause is RefusalCause.KEPT_TERM_LIMIT


def test_chained_records_over_ten_lookups_are_refused() -> None:
    many = " ".join(f"ip4:10.{i}.0.1" for i in range(0, 80, 2))
    record = f"v=spf1 {' '.join(INCLUDES[:10])} {many} -all"
    error = refusal(record, KEPT, keep=INCLUDES)
    assert error.cause is RefusalCause.LOOKUP_LIMIT
    assert "over RFC 7208's limit of 10" in str(error) and "for chained records" in str(error)


def test_kept_terms_over_the_void_limit_are_refused() -> None:
    data = {f"k{i}.example": [{"TXT": "v=spf1 exists:%{i}.x.example -all"}] for i in range(3)}
    record = "v=spf1 " + " ".join(f"include:k{i}.example" for i in range(3)) + " -all"
    error = refusal(record, data)  # was a VerificationError
    assert isinstance(error, KeptTermLimitError)
    assert "3 void lookups, over RFC 7208's limit of 2" in str(error)
    two = flatten(record.replace(" include:k2.example", ""), DOMAIN, resolver=zone(data))
    assert len(two.kept) == 2


# -- the cause in --json ----------------------------------------------------------------------


def test_flatten_json_gives_the_refusal_cause(tmp_path: Path) -> None:
    snapshot = tmp_path / "dns.yaml"
    snapshot.write_text("{}\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "flatten",
            "v=spf1 include:gone.example -all",
            "-d",
            DOMAIN,
            "--json",
            "--dns-snapshot",
            str(snapshot),
        ],
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["cause"] == "upstream-missing" and data["affected"] == 1.0
    assert "gone.example does not exist" in result.stderr
