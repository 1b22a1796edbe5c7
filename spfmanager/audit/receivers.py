"""What real receivers do with an SPF result: a simulation over their documented settings.

Receivers do not all treat SPF results alike, and most let the administrator choose. Each
:class:`ReceiverPolicy` is one product with one setting, as data: the action it takes per
:class:`~spfmanager.spf.results.Result` (results it does not list are accepted). The
policies encode vendors' documentation as we read it, plus stated assumptions:

* **Mailborder** (SPF settings in the Master GUI, ``/etc/mailborder/spf.cf``): by default it
  "obeys the remote domain owner's record", i.e. rejects on ``fail`` (mode "fail"); the
  administrator can be stricter (mode "softfail": reject ``softfail`` too) or never reject.
  *Assumed*: the "strict" mode also rejects ``permerror`` and defers ``temperror`` (4xx), as
  Postfix SPF policy daemons do.
* **GFI MailEssentials** SPF filter (off by default): "Enabled" blocks ``fail``; the advanced
  options block ``softfail`` as well, or ``softfail``, ``neutral``, unknown (``permerror``)
  and ``none``. Blocked mail gets the filter's spam action: quarantine, delete or tag.
* **SecurityGateway** (MDaemon Technologies): on an SPF ``fail`` the administrator chooses to
  refuse the message, quarantine it, or accept it and add to its spam score. *Assumed*:
  ``softfail`` and ``permerror`` only add to the score (tag).
* **Vipre-like** filters: quarantine on ``fail`` only, accept the rest.
* **Microsoft 365** (EOP): SPF alone rarely rejects; it feeds composite authentication
  (``compauth``), and failing mail goes to Junk. With DMARC ``p=reject`` and no aligned DKIM
  signature, any result but ``pass`` fails DMARC and EOP's default is to reject.
* **Gmail**: since 2024 unauthenticated mail (no SPF pass, no DKIM) is rejected or sent to
  spam (550 5.7.26); ``fail`` is typically rejected, other non-pass results go to spam.
  With DMARC ``p=reject`` and no aligned DKIM signature, non-pass is rejected.
  *Assumed* for both big providers: ``temperror`` defers delivery.

These are typical outcomes for mail whose only authentication is SPF, not guarantees:
content filters, reputation and DKIM change what happens.

Each product also names the SPF implementation it likely runs (:class:`ReceiverEngine`), as
a :mod:`receiver profile <spfmanager.spf.profiles>` to evaluate with. None of these vendors
documents its engine: all are *guesses* (``documented=False``), RFC 7208 for products with
an implementation of their own, each with the page that was searched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from spfmanager.spf.evaluate import SPFResult
from spfmanager.spf.profiles import Profile, profile_named
from spfmanager.spf.results import Result


class Action(StrEnum):
    """What a receiver does with the message, mildest first."""

    ACCEPT = "accept"  # delivered to the inbox
    TAG = "tag"  # delivered, with a spam header, subject tag or added score
    JUNK = "junk"  # delivered to the spam/junk folder
    QUARANTINE = "quarantine"  # held by the receiver, not delivered
    DEFER = "defer"  # 4xx: the sending server retries later
    DELETE = "delete"  # accepted and silently dropped
    REJECT = "reject"  # 5xx: refused, the sender gets a bounce

    @property
    def verb(self) -> str:
        """The action as a past participle, for "rejected by X"."""
        return _VERBS[self]


_VERBS = {
    Action.ACCEPT: "accepted",
    Action.TAG: "tagged",
    Action.JUNK: "sent to spam",
    Action.QUARANTINE: "quarantined",
    Action.DEFER: "deferred",
    Action.DELETE: "deleted",
    Action.REJECT: "rejected",
}

_SEVERITY = list(Action)


@dataclass(frozen=True, slots=True)
class ReceiverEngine:
    """The SPF implementation a receiver product runs, as a receiver profile's name."""

    profile_name: str  # a key of spfmanager.spf.profiles.PROFILES
    documented: bool  # False: a guess
    source: str  # where the vendor says so, or what was searched and why this guess

    @property
    def profile(self) -> Profile:
        return profile_named(self.profile_name)

    @property
    def data(self) -> dict[str, Any]:
        return {"profile": self.profile_name, "documented": self.documented, "source": self.source}


_OWN = "no SPF library named; an implementation of its own is assumed to read RFC 7208"
UNKNOWN_ENGINE = ReceiverEngine("rfc7208", False, "receiver unknown: RFC 7208 assumed")

ENGINES: Mapping[str, ReceiverEngine] = MappingProxyType(
    {
        "Mailborder": ReceiverEngine(
            "rfc7208",
            False,
            "https://mailborder.com/docs/spf-checks (own mb-spf-eval tool, /etc/mailborder/"
            "spf.cf) and https://docs.mailborder.com/introduction/key-features (V6 builds "
            "on Rspamd, whose SPF code has no profile here): " + _OWN,
        ),
        "GFI MailEssentials": ReceiverEngine(
            "rfc7208",
            False,
            "http://manuals.gfi.com/en/mailessentials/content/administrator/anti-spam/"
            "anti-spam_filters/sender_policy_framework.htm (a Windows filter; RFC 4408 "
            "result names): " + _OWN,
        ),
        "SecurityGateway": ReceiverEngine(
            "rfc7208",
            False,
            "https://help.mdaemon.com/MDaemon/en/security--spf__sender_id.html (MDaemon "
            "Technologies' SPF settings, Windows): " + _OWN,
        ),
        "Vipre-like filter": ReceiverEngine(
            "rfc7208",
            False,
            "https://www.cambridge-networks.co.uk/docs-email-vipre-spf (Vipre/FuseMail "
            "quarantines on SPF fail): " + _OWN,
        ),
        "Microsoft 365": ReceiverEngine("rfc7208", False, "Exchange Online Protection: " + _OWN),
        "Gmail": ReceiverEngine("rfc7208", False, "Google's own receiver: " + _OWN),
    }
)


@dataclass(frozen=True)
class ReceiverPolicy:
    """One receiver with one setting: its action per SPF result (unlisted: accept)."""

    receiver: str
    setting: str
    actions: Mapping[Result, Action]
    engine: ReceiverEngine = field(default=UNKNOWN_ENGINE, compare=False)

    def action(self, result: Result) -> Action:
        return self.actions.get(result, Action.ACCEPT)


@dataclass(frozen=True, slots=True)
class ReceiverOutcome:
    """What one receiver/setting does with one result, with a sentence for humans."""

    receiver: str
    setting: str
    result: Result
    action: Action
    sentence: str

    @property
    def data(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "setting": self.setting,
            "result": self.result.value,
            "action": self.action.value,
            "sentence": self.sentence,
        }


def _policy(receiver: str, setting: str, actions: dict[Result, Action]) -> ReceiverPolicy:
    engine = ENGINES.get(receiver, UNKNOWN_ENGINE)
    return ReceiverPolicy(receiver, setting, MappingProxyType(actions), engine)


_R = Result
_A = Action
_NOT_PASS = (_R.FAIL, _R.SOFTFAIL, _R.NEUTRAL, _R.NONE, _R.PERMERROR)

POLICIES: tuple[ReceiverPolicy, ...] = (
    _policy(
        "Mailborder",
        "strict",
        {
            _R.FAIL: _A.REJECT,
            _R.SOFTFAIL: _A.REJECT,
            _R.PERMERROR: _A.REJECT,
            _R.TEMPERROR: _A.DEFER,
        },
    ),
    _policy("Mailborder", "softfail", {_R.FAIL: _A.REJECT, _R.SOFTFAIL: _A.REJECT}),
    _policy("Mailborder", "fail (default)", {_R.FAIL: _A.REJECT}),
    _policy("Mailborder", "never", {}),
    _policy("GFI MailEssentials", "block fail; quarantine", {_R.FAIL: _A.QUARANTINE}),
    _policy(
        "GFI MailEssentials",
        "block softfail+fail; delete",
        {_R.FAIL: _A.DELETE, _R.SOFTFAIL: _A.DELETE},
    ),
    _policy(
        "GFI MailEssentials",
        "block all but pass; tag",
        dict.fromkeys(_NOT_PASS, _A.TAG),
    ),
    _policy(
        "SecurityGateway",
        "refuse on fail",
        {_R.FAIL: _A.REJECT, _R.SOFTFAIL: _A.TAG, _R.PERMERROR: _A.TAG},
    ),
    _policy(
        "SecurityGateway",
        "quarantine on fail",
        {_R.FAIL: _A.QUARANTINE, _R.SOFTFAIL: _A.TAG, _R.PERMERROR: _A.TAG},
    ),
    _policy(
        "SecurityGateway",
        "accept and score",
        {_R.FAIL: _A.TAG, _R.SOFTFAIL: _A.TAG, _R.PERMERROR: _A.TAG},
    ),
    _policy("Vipre-like filter", "quarantine on fail", {_R.FAIL: _A.QUARANTINE}),
    _policy(
        "Microsoft 365",
        "SPF only, no DMARC",
        {_R.FAIL: _A.JUNK, _R.SOFTFAIL: _A.TAG, _R.PERMERROR: _A.JUNK, _R.TEMPERROR: _A.DEFER},
    ),
    _policy(
        "Microsoft 365",
        "DMARC p=reject, no aligned DKIM",
        {**dict.fromkeys(_NOT_PASS, _A.REJECT), _R.TEMPERROR: _A.DEFER},
    ),
    _policy(
        "Gmail",
        "SPF only, no DMARC",
        {
            _R.FAIL: _A.REJECT,
            _R.SOFTFAIL: _A.JUNK,
            _R.NEUTRAL: _A.JUNK,
            _R.NONE: _A.JUNK,
            _R.PERMERROR: _A.JUNK,
            _R.TEMPERROR: _A.DEFER,
        },
    ),
    _policy(
        "Gmail",
        "DMARC p=reject, no aligned DKIM",
        {**dict.fromkeys(_NOT_PASS, _A.REJECT), _R.TEMPERROR: _A.DEFER},
    ),
)


def simulate(
    result: Result | SPFResult, policies: Iterable[ReceiverPolicy] = POLICIES
) -> list[ReceiverOutcome]:
    """What each receiver/setting in ``policies`` does with ``result``."""
    value = result.result if isinstance(result, SPFResult) else result
    outcomes = []
    for policy in policies:
        action = policy.action(value)
        sentence = f"{policy.receiver} ({policy.setting}) {action.verb} the message: SPF {value}."
        outcomes.append(ReceiverOutcome(policy.receiver, policy.setting, value, action, sentence))
    return outcomes


def summarize(outcomes: Iterable[ReceiverOutcome]) -> str:
    """One sentence, harshest action first: "Rejected by X (s), Y (s); quarantined by Z (s);
    accepted by the other 9 of 15 settings."."""
    outcomes = list(outcomes)
    grouped: dict[Action, list[str]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.action, []).append(f"{outcome.receiver} ({outcome.setting})")
    accepted = len(grouped.pop(Action.ACCEPT, []))
    parts = [
        f"{action.verb} by {', '.join(grouped[action])}"
        for action in sorted(grouped, key=_SEVERITY.index, reverse=True)
    ]
    if accepted == len(outcomes):
        parts.append(f"accepted by all {accepted} receiver settings")
    elif accepted:
        parts.append(f"accepted by the other {accepted} of {len(outcomes)} settings")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else ""
