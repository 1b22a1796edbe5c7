"""Receiver policy simulation: each vendor setting's action per SPF result."""

from __future__ import annotations

import pytest

from spfmanager.audit.receivers import (
    ENGINES,
    POLICIES,
    UNKNOWN_ENGINE,
    Action,
    ReceiverOutcome,
    ReceiverPolicy,
    simulate,
    summarize,
)
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.spf.evaluate import evaluate
from spfmanager.spf.profiles import PROFILES
from spfmanager.spf.results import Result


def action(outcomes: list[ReceiverOutcome], receiver: str, setting: str) -> Action:
    [match] = [o for o in outcomes if o.receiver == receiver and o.setting == setting]
    return match.action


@pytest.mark.parametrize("result", list(Result))
def test_one_outcome_per_policy(result: Result) -> None:
    outcomes = simulate(result)
    assert len(outcomes) == len(POLICIES)
    assert all(o.result is result for o in outcomes)
    assert all(result.value in o.sentence and o.receiver in o.sentence for o in outcomes)


def test_pass_is_accepted_everywhere() -> None:
    assert {o.action for o in simulate(Result.PASS)} == {Action.ACCEPT}
    assert summarize(simulate(Result.PASS)) == f"Accepted by all {len(POLICIES)} receiver settings."


@pytest.mark.parametrize(
    ("setting", "rejected"),
    [
        ("strict", {Result.FAIL, Result.SOFTFAIL, Result.PERMERROR}),
        ("softfail", {Result.FAIL, Result.SOFTFAIL}),
        ("fail (default)", {Result.FAIL}),
        ("never", set()),
    ],
)
def test_mailborder_modes(setting: str, rejected: set[Result]) -> None:
    for result in Result:
        got = action(simulate(result), "Mailborder", setting)
        if result in rejected:
            assert got is Action.REJECT, result
        elif setting == "strict" and result is Result.TEMPERROR:
            assert got is Action.DEFER
        else:
            assert got is Action.ACCEPT, result


def test_gfi_block_levels_and_actions() -> None:
    softfail = simulate(Result.SOFTFAIL)
    assert action(softfail, "GFI MailEssentials", "block fail; quarantine") is Action.ACCEPT
    assert action(softfail, "GFI MailEssentials", "block softfail+fail; delete") is Action.DELETE
    neutral = simulate(Result.NEUTRAL)
    assert action(neutral, "GFI MailEssentials", "block all but pass; tag") is Action.TAG
    fail = simulate(Result.FAIL)
    assert action(fail, "GFI MailEssentials", "block fail; quarantine") is Action.QUARANTINE


def test_securitygateway_and_vipre_on_fail() -> None:
    fail = simulate(Result.FAIL)
    assert action(fail, "SecurityGateway", "refuse on fail") is Action.REJECT
    assert action(fail, "SecurityGateway", "quarantine on fail") is Action.QUARANTINE
    assert action(fail, "SecurityGateway", "accept and score") is Action.TAG
    assert action(fail, "Vipre-like filter", "quarantine on fail") is Action.QUARANTINE
    assert action(simulate(Result.SOFTFAIL), "Vipre-like filter", "quarantine on fail") is (
        Action.ACCEPT
    )


def test_big_providers_with_and_without_dmarc() -> None:
    neutral = simulate(Result.NEUTRAL)
    assert action(neutral, "Gmail", "DMARC p=reject, no aligned DKIM") is Action.REJECT
    assert action(neutral, "Microsoft 365", "SPF only, no DMARC") is Action.ACCEPT
    fail = simulate(Result.FAIL)
    assert action(fail, "Microsoft 365", "SPF only, no DMARC") is Action.JUNK
    assert action(fail, "Gmail", "SPF only, no DMARC") is Action.REJECT
    temperror = simulate(Result.TEMPERROR)
    assert action(temperror, "Gmail", "DMARC p=reject, no aligned DKIM") is Action.DEFER


def test_simulate_takes_an_evaluation(provider_snapshot_path: object) -> None:
    resolver = SnapshotResolver.from_file(str(provider_snapshot_path))
    outcome = evaluate("192.0.2.1", "alice@github.com", "github.com", resolver=resolver)
    assert outcome.result is Result.PERMERROR
    outcomes = simulate(outcome)
    assert action(outcomes, "Mailborder", "strict") is Action.REJECT
    assert outcomes[0].data["result"] == "permerror"


def test_summary_lists_harshest_first() -> None:
    summary = summarize(simulate(Result.FAIL))
    assert summary.startswith("Rejected by Mailborder (strict), Mailborder (softfail)")
    assert (
        summary.index("deleted by") < summary.index("quarantined by") < summary.index("tagged by")
    )
    assert summary.endswith("accepted by the other 1 of 15 settings.")


def test_policies_are_immutable() -> None:
    with pytest.raises(TypeError):
        POLICIES[0].actions[Result.PASS] = Action.REJECT  # type: ignore[index]


def test_every_product_names_a_profile_and_says_whether_it_is_a_guess() -> None:
    for policy in POLICIES:
        engine = policy.engine
        assert engine is ENGINES[policy.receiver], policy.receiver
        assert engine.profile is PROFILES[engine.profile_name]
        assert engine.source.strip(), policy.receiver
        # no vendor here documents its SPF library: every engine is marked a guess
        assert engine.documented is False, policy.receiver
        assert engine.data == {
            "profile": engine.profile_name,
            "documented": False,
            "source": engine.source,
        }


def test_a_receiver_without_engine_data_is_an_rfc7208_guess() -> None:
    policy = ReceiverPolicy("Some MTA", "default", {})
    assert policy.engine is UNKNOWN_ENGINE
    assert policy.engine.profile is PROFILES["rfc7208"]
    assert not policy.engine.documented
