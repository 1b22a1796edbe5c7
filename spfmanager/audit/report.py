"""The audit of one domain: its tree, the findings, and the verdict receivers would give."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from spfmanager.audit.deadline import DeadlineResolver
from spfmanager.audit.findings import Code, Finding, Severity
from spfmanager.audit.tree import FLATTEN_FIX, Node, walk_tree
from spfmanager.dns.base import Resolver, normalize_name
from spfmanager.dns.memo import MemoResolver
from spfmanager.errors import SPFSyntaxError
from spfmanager.spf.evaluate import SPFResult, evaluate
from spfmanager.spf.limits import MAX_DNS_LOOKUPS, MAX_UDP_ANSWER, MAX_VOID_LOOKUPS
from spfmanager.spf.parser import parse_term
from spfmanager.spf.results import Cause, Result
from spfmanager.spf.terms import IP4, IP6

logger = logging.getLogger(__name__)

# RFC 5737 documentation ranges: nobody's sender. The verdict is about addresses the record
# does not list, so a record that lists one of them (examples often do) is probed with the next.
PROBE_ADDRESSES = (
    IPv4Address("192.0.2.1"),
    IPv4Address("198.51.100.1"),
    IPv4Address("203.0.113.1"),
)
PROBE_ADDRESS = PROBE_ADDRESSES[0]
# A decisive ip4/ip6 term at least this specific lists the probe; a wider one (or "all")
# authorizes everyone, which is the verdict's point.
_LISTED_PREFIX = {4: 8, 6: 16}


@dataclass(frozen=True)
class Verdict:
    """What receivers return for mail from an address the record does not list."""

    result: Result
    sentence: str
    fix: str
    evaluation: SPFResult

    @property
    def data(self) -> dict[str, Any]:
        return {
            "result": self.result.value,
            "sentence": self.sentence,
            "fix": self.fix,
            "evaluation": self.evaluation.data,
        }


@dataclass(frozen=True)
class Audit:
    """Everything ``spfmanager check DOMAIN`` reports; ``data`` is its JSON form."""

    domain: str
    tree: Node
    findings: tuple[Finding, ...]  # most severe first, then in tree order
    lookups: int
    void_lookups: int
    answer_size: int | None
    complete: bool  # False when the tree was too large to walk entirely, or ran out of time
    verdict: Verdict
    not_done: tuple[str, ...] = ()  # lookups the deadline left undone ("name TYPE")

    @property
    def timed_out(self) -> bool:
        """True when the deadline passed before every lookup was done."""
        return bool(self.not_done)

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def by_code(self, code: Cause | Code) -> list[Finding]:
        return [f for f in self.findings if f.code is code]

    @property
    def data(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "ok": not self.has_errors,
            "lookups": {"count": self.lookups, "limit": MAX_DNS_LOOKUPS},
            "void_lookups": {"count": self.void_lookups, "limit": MAX_VOID_LOOKUPS},
            "answer_size": {"bytes": self.answer_size, "limit": MAX_UDP_ANSWER},
            "complete": self.complete,
            "not_done": list(self.not_done),
            "verdict": self.verdict.data,
            "findings": [f.data for f in self.findings],
            "tree": self.tree.data,
        }


def audit_domain(
    domain: str,
    resolver: Resolver,
    *,
    probe: IPv4Address | IPv6Address | str | None = None,
    deadline: float | None = None,
) -> Audit:
    """Audit the SPF record of ``domain`` and everything it includes or redirects to.

    The verdict comes from really evaluating a connection from ``probe`` with the bundled
    evaluator; by default from the first RFC 5737 documentation address the record does not
    list by an ip4/ip6 term of its own (the verdict is about senders it does not list).
    With ``deadline`` the whole audit (walk and verdict) takes at most that many seconds:
    lookups left are reported as not done (``not_done``, a ``deadline-exceeded`` error
    finding) and count as temperror for the verdict.
    """
    name = normalize_name(domain)
    if deadline is not None:
        resolver = DeadlineResolver(resolver, deadline)
    resolver = MemoResolver(resolver)  # the walk and the verdict see the same answers
    walk = walk_tree(name, resolver)
    findings = list(walk.findings)
    root = walk.root
    bound = "at least " if walk.truncated or walk.not_done else ""
    if root.total_lookups > MAX_DNS_LOOKUPS:
        findings.append(
            Finding(
                Severity.ERROR,
                Cause.TOO_MANY_LOOKUPS,
                name,
                f"the record needs {bound}{root.total_lookups} DNS lookups, over the limit of "
                f"{MAX_DNS_LOOKUPS}: receivers return permerror for senders it does not list "
                "early (RFC 7208 4.6.4)",
                FLATTEN_FIX,
            )
        )
    if root.total_void_lookups > MAX_VOID_LOOKUPS:
        findings.append(
            Finding(
                Severity.ERROR,
                Cause.TOO_MANY_VOID_LOOKUPS,
                name,
                f"the record makes {root.total_void_lookups} void lookups, over the limit of "
                f"{MAX_VOID_LOOKUPS}: receivers return permerror (RFC 7208 4.6.4)",
                "remove the terms whose names have no records (see the void-lookup findings)",
            )
        )
    ordered = tuple(sorted(_unique(findings), key=lambda f: f.severity.rank))
    if probe is None:
        for candidate in PROBE_ADDRESSES:
            evaluation = evaluate(candidate, f"postmaster@{name}", name, resolver=resolver)
            if not _lists(evaluation):
                break
    else:
        probe_address = ip_address(probe) if isinstance(probe, str) else probe
        evaluation = evaluate(probe_address, f"postmaster@{name}", name, resolver=resolver)
    logger.debug("%s: probe %s -> %s", name, evaluation.ip, evaluation.result)
    return Audit(
        domain=name,
        tree=root,
        findings=ordered,
        lookups=root.total_lookups,
        void_lookups=root.total_void_lookups,
        answer_size=walk.answer_size,
        complete=not (walk.truncated or walk.not_done),
        verdict=_verdict(name, evaluation, ordered),
        not_done=walk.not_done,
    )


def _lists(evaluation: SPFResult) -> bool:
    """Whether the term that decided ``evaluation`` is an ip4/ip6 range naming its address
    specifically (so it is a listed sender, not one the record says nothing about)."""
    if evaluation.mechanism is None:
        return False
    try:
        term = parse_term(evaluation.mechanism)
    except SPFSyntaxError:
        return False
    if not isinstance(term, (IP4, IP6)):
        return False
    version = 4 if isinstance(term, IP4) else 6
    prefix = term.prefix if term.prefix is not None else (32 if version == 4 else 128)
    return prefix >= _LISTED_PREFIX[version]


def _unique(findings: list[Finding]) -> list[Finding]:
    """Drop repeats (a provider's record reached through several includes)."""
    seen: set[tuple[Cause | Code, str, str]] = set()
    kept = []
    for finding in findings:
        key = (finding.code, finding.domain, finding.message)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept


def _verdict(domain: str, evaluation: SPFResult, findings: tuple[Finding, ...]) -> Verdict:
    result = evaluation.result
    probe = evaluation.ip
    reason = evaluation.reason
    sentences = {
        Result.PASS: f"Receivers return pass even for {probe}, an address nobody uses to send "
        f"mail: anyone can send mail as {domain} ({reason}).",
        Result.FAIL: f"Receivers return fail for mail from addresses the record does not list "
        f"(tested with {probe}): forged mail is rejected by receivers that enforce SPF.",
        Result.SOFTFAIL: f"Receivers return softfail for mail from addresses the record does "
        f"not list (tested with {probe}): forged mail is usually accepted but marked.",
        Result.NEUTRAL: f"Receivers return neutral for mail from addresses the record does not "
        f"list (tested with {probe}): the record says nothing about forged mail.",
        Result.NONE: f"Receivers return none: {reason}; they cannot tell forged mail apart.",
        Result.PERMERROR: f"Receivers return permerror for mail from {domain} that the record "
        f"does not list first (tested with {probe}): {reason}. Many reject it or treat it as "
        "fail, and DMARC counts it as an SPF failure.",
        Result.TEMPERROR: f"Receivers return temperror (try again later) for mail from {domain}: "
        f"{reason}.",
    }
    return Verdict(result, sentences[result], _main_fix(findings), evaluation)


def _main_fix(findings: tuple[Finding, ...]) -> str:
    for severity in (Severity.ERROR, Severity.WARNING):
        for finding in findings:
            if finding.severity is severity:
                return f"{finding.fix} ({finding.code.value} at {finding.domain})"
    return "nothing to fix"
