"""Walk a domain's SPF include/redirect tree statically, counting lookups and finding problems.

Each record is fetched once per place it is reached and parsed once with
:func:`~spfmanager.spf.parser.parse_record`; the walk reads the typed terms. It counts what a
receiver's check_host() would count for a client the record does not list (every term is
evaluated then, RFC 7208 4.6.4): one lookup per ``include``, ``a``, ``mx``, ``ptr``,
``exists`` and ``redirect`` (``redirect`` is ignored when the record has ``all``, 6.1), and a
void lookup per empty answer to an ``a``/``mx``/``exists`` target (as an IPv4 client sees it:
``a`` and ``exists`` ask for A records) or to an include/redirect target's TXT query.

The walk is iterative (an explicit stack), never follows a name already on the path (loops),
and stops at :data:`MAX_DEPTH` levels or :data:`MAX_NODES` records; a receiver gives up far
earlier (10 lookups). With a ``deadline`` (seconds) no lookup starts after it and none runs
past it: the names left are marked ``not-done`` and one error finding lists them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from spfmanager.audit.deadline import DeadlineResolver
from spfmanager.audit.findings import Code, Finding, Severity
from spfmanager.audit.wire import txt_answer_size
from spfmanager.dns.base import Answer, Resolver, RRType, TXTRecord, normalize_name
from spfmanager.dns.txt import MAX_TXT_STRING
from spfmanager.errors import DeadlineReached, DNSTemporaryError, SPFSyntaxError
from spfmanager.spf.limits import MAX_MX_NAMES, MAX_UDP_ANSWER
from spfmanager.spf.macros import MacroString
from spfmanager.spf.parser import parse_record
from spfmanager.spf.results import Cause, Qualifier
from spfmanager.spf.select import select_record
from spfmanager.spf.terms import MX, A, All, Exists, Include, Ptr, Record

logger = logging.getLogger(__name__)

MAX_DEPTH = 24  # deeper than any record within the 10-lookup limit can reach
MAX_NODES = 400

FLATTEN_FIX = "flatten with `spfmanager flatten`, or remove includes you no longer use"


class Edge(StrEnum):
    """How a record was reached."""

    ROOT = "root"
    INCLUDE = "include"
    REDIRECT = "redirect"


class NodeStatus(StrEnum):
    """What was found at a name of the tree."""

    OK = "ok"
    NXDOMAIN = "nxdomain"
    NO_RECORD = "no-record"
    MULTIPLE_RECORDS = "multiple-records"
    INVALID = "invalid"  # syntax error or not ASCII
    LOOP = "loop"
    DNS_ERROR = "dns-error"
    NOT_FOLLOWED = "not-followed"  # macro target, or the walk's size limits
    NOT_DONE = "not-done"  # not looked up: the deadline had passed

    @property
    def is_error(self) -> bool:
        """True when a receiver reaching this name gets permerror or temperror."""
        return self not in (NodeStatus.OK, NodeStatus.NOT_FOLLOWED, NodeStatus.NOT_DONE)


@dataclass(frozen=True)
class Node:
    """One name of the tree; ``lookups``/``void_lookups`` count this record's own terms,
    the ``total_`` fields add everything below it."""

    domain: str
    edge: Edge
    term: str  # the term that led here, as written ("" for the root)
    status: NodeStatus
    record: str | None
    lookups: int
    void_lookups: int
    total_lookups: int
    total_void_lookups: int
    children: tuple[Node, ...] = ()

    @property
    def data(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "edge": self.edge.value,
            "term": self.term,
            "status": self.status.value,
            "record": self.record,
            "lookups": self.lookups,
            "void_lookups": self.void_lookups,
            "total_lookups": self.total_lookups,
            "total_void_lookups": self.total_void_lookups,
            "children": [child.data for child in self.children],
        }


@dataclass(frozen=True)
class Walk:
    """The tree, what was found on the way, and the root's TXT answer size.

    ``not_done`` lists the lookups the deadline left undone (``"name TYPE"``).
    """

    root: Node
    findings: tuple[Finding, ...]
    answer_size: int | None
    truncated: bool
    not_done: tuple[str, ...] = ()


@dataclass(eq=False)
class _Draft:
    """A node being built; frozen into a :class:`Node` once its subtree is known."""

    domain: str
    edge: Edge
    term: str
    depth: int
    path: frozenset[str]
    policy: bool  # the root or reached by redirect from it: its ``all`` is the domain's
    status: NodeStatus = NodeStatus.OK
    record: str | None = None
    lookups: int = 0
    void: int = 0
    children: list[_Draft] = field(default_factory=list)


class _Walker:
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.cache: dict[tuple[str, RRType], Answer | DNSTemporaryError] = {}
        self.findings: list[Finding] = []
        self.created = 1  # drafts created, the root included
        self.truncated = False
        self.answer_size: int | None = None
        self.not_done: list[str] = []

    def walk(self, domain: str) -> Walk:
        name = normalize_name(domain)
        root = _Draft(name, Edge.ROOT, "", 0, frozenset({name}), policy=True)
        order: list[_Draft] = []
        stack = [root]
        while stack:
            draft = stack.pop()
            order.append(draft)
            self.visit(draft)
            stack.extend(reversed(draft.children))
        frozen: dict[int, Node] = {}
        for draft in reversed(order):  # children come after their parent in ``order``
            children = tuple(frozen.pop(id(child)) for child in draft.children)
            frozen[id(draft)] = Node(
                domain=draft.domain,
                edge=draft.edge,
                term=draft.term,
                status=draft.status,
                record=draft.record,
                lookups=draft.lookups,
                void_lookups=draft.void,
                total_lookups=draft.lookups + sum(c.total_lookups for c in children),
                total_void_lookups=draft.void + sum(c.total_void_lookups for c in children),
                children=children,
            )
        if self.not_done:
            self.deadline_finding(name)
        return Walk(
            frozen[id(root)],
            tuple(self.findings),
            self.answer_size,
            self.truncated,
            tuple(dict.fromkeys(self.not_done)),
        )

    def deadline_finding(self, root: str) -> None:
        undone = list(dict.fromkeys(self.not_done))
        shown = ", ".join(undone[:5]) + (f" and {len(undone) - 5} more" if len(undone) > 5 else "")
        self.add(
            Severity.ERROR,
            Code.DEADLINE,
            root,
            f"the check ran out of time: {len(undone)} lookup(s) were not done ({shown}); "
            "the tree and the counts are incomplete",
            "check that the name servers of the names marked not-done answer, then retry "
            "(or allow more time with --deadline)",
        )

    # -- DNS --------------------------------------------------------------------------------

    def query(self, name: str, rrtype: RRType) -> Answer:
        key = (normalize_name(name), rrtype)
        if key not in self.cache:
            try:
                self.cache[key] = self.resolver.query(name, rrtype)
            except DNSTemporaryError as exc:
                self.cache[key] = exc
        cached = self.cache[key]
        if isinstance(cached, DNSTemporaryError):
            raise cached
        return cached

    def add(
        self,
        severity: Severity,
        code: Cause | Code,
        domain: str,
        message: str,
        fix: str,
        detail: str | None = None,
    ) -> None:
        self.findings.append(Finding(severity, code, domain, message, fix, detail))

    # -- one record -------------------------------------------------------------------------

    def visit(self, draft: _Draft) -> None:
        if draft.status is not NodeStatus.OK:
            return  # a loop or a name not followed, decided by the parent
        try:
            answer = self.query(draft.domain, RRType.TXT)
        except DeadlineReached:
            draft.status = NodeStatus.NOT_DONE
            self.not_done.append(f"{draft.domain} TXT")
            return
        except DNSTemporaryError as exc:
            draft.status = NodeStatus.DNS_ERROR
            self.add(
                Severity.ERROR,
                Cause.DNS_ERROR,
                draft.domain,
                f"the TXT query for {draft.domain} failed ({exc}): receivers return temperror",
                "check that the domain's name servers answer (dig TXT); retry later",
            )
            return
        texts = answer.texts()
        selection = select_record(texts)
        spf = selection.records
        if draft.edge is Edge.ROOT:
            self.answer_size = txt_answer_size(draft.domain, texts)
        if answer.nxdomain or selection.cause is Cause.NO_RECORD:
            self.missing(draft, answer)
            return
        found = selection.record
        if found is None:
            draft.status = NodeStatus.MULTIPLE_RECORDS
            self.add(
                Severity.ERROR,
                Cause.MULTIPLE_RECORDS,
                draft.domain,
                f"{draft.domain} publishes {len(spf)} SPF records; receivers return permerror "
                "(RFC 7208 4.5)",
                "merge them into one record and remove the second record",
                "\n".join(t.data.decode("latin-1") for t in spf),
            )
            return
        self.check_wire(draft, found, texts)
        try:
            text = found.data.decode("ascii")
        except UnicodeDecodeError:
            draft.status = NodeStatus.INVALID
            self.add(
                Severity.ERROR,
                Code.NOT_ASCII,
                draft.domain,
                f"the SPF record of {draft.domain} has non-ASCII characters: permerror",
                "retype the record in plain ASCII (look for typographic quotes or dashes)",
            )
            return
        draft.record = text
        try:
            record = parse_record(text)
        except SPFSyntaxError as exc:
            draft.status = NodeStatus.INVALID
            self.add(
                Severity.ERROR,
                Cause.SYNTAX_ERROR,
                draft.domain,
                f"syntax error in the SPF record of {draft.domain}: {exc.message} "
                f"at character {exc.position + 1}; receivers return permerror",
                "correct the term marked below (RFC 7208 section 12 grammar)",
                exc.pointer(),
            )
            return
        draft.lookups = record.lookups
        self.terms(draft, record)

    def missing(self, draft: _Draft, answer: Answer) -> None:
        draft.status = NodeStatus.NXDOMAIN if answer.nxdomain else NodeStatus.NO_RECORD
        draft.void = 1 if answer.is_void and draft.edge is not Edge.ROOT else 0
        what = "does not exist (NXDOMAIN)" if answer.nxdomain else "has no SPF record"
        name = draft.domain
        if draft.edge is Edge.ROOT:
            code = Code.DOMAIN_MISSING if answer.nxdomain else Cause.NO_RECORD
            fix = (
                "check the spelling of the domain"
                if answer.nxdomain
                else f'publish a TXT record at {name}: "v=spf1 <your senders> -all" '
                '(or "v=spf1 -all" if it sends no mail)'
            )
            message = f"{name} {what}: receivers return none and cannot tell forged mail apart"
            self.add(Severity.ERROR, code, name, message, fix)
            return
        code = Cause.INCLUDE_MISSING if draft.edge is Edge.INCLUDE else Cause.REDIRECT_MISSING
        self.add(
            Severity.ERROR,
            code,
            name,
            f"'{draft.term}' points at {name}, which {what}: receivers return permerror "
            "when they reach it",
            f"remove '{draft.term}', or replace it with the name the provider documents today",
        )

    def check_wire(self, draft: _Draft, spf: TXTRecord, texts: list[TXTRecord]) -> None:
        for string in spf.strings:
            if len(string) > MAX_TXT_STRING:
                # Wire data cannot hold such a string: it comes from a snapshot or zone file.
                # An error for the audited domain's own record, a warning for upstream ones.
                self.add(
                    Severity.ERROR if draft.policy else Severity.WARNING,
                    Code.LONG_STRING,
                    draft.domain,
                    f"a TXT string of the SPF record of {draft.domain} is {len(string)} "
                    f"characters; DNS allows {MAX_TXT_STRING} per string (RFC 1035 3.3.14)",
                    "split the record into quoted strings of at most 255 characters "
                    "(they are joined without spaces), or flatten with `spfmanager flatten`",
                )
        size = txt_answer_size(draft.domain, texts)
        if size > MAX_UDP_ANSWER:
            self.add(
                Severity.WARNING,
                Code.LARGE_ANSWER,
                draft.domain,
                f"the TXT answer for {draft.domain} is about {size} bytes, over the "
                f"{MAX_UDP_ANSWER}-byte UDP limit: receivers must retry over TCP, and some "
                "return temperror (RFC 7208 3.4)",
                "remove stale TXT records at this name (old verification tokens) or shorten "
                "the SPF record with `spfmanager flatten`",
            )

    # -- terms ------------------------------------------------------------------------------

    def terms(self, draft: _Draft, record: Record) -> None:
        name = draft.domain
        for mechanism in record.mechanisms:
            if isinstance(mechanism, All):
                self.check_all(draft, mechanism)
            elif isinstance(mechanism, Ptr):
                self.add(
                    Severity.WARNING,
                    Code.PTR,
                    name,
                    f"'{mechanism.render()}' in {name} is deprecated (RFC 7208 5.5): it is slow, "
                    "unreliable, and some receivers skip it",
                    "replace it with ip4:/ip6: ranges or a:/include: terms for those servers",
                )
            elif isinstance(mechanism, A | MX | Exists):
                self.address_target(draft, mechanism)
            elif isinstance(mechanism, Include):
                self.follow(draft, mechanism.domain, Edge.INCLUDE, mechanism.render())
        if record.redirect is not None:
            if record.has_all:
                self.add(
                    Severity.INFO,
                    Code.REDIRECT_IGNORED,
                    name,
                    f"'{record.redirect.render()}' in {name} is ignored because the record "
                    "has 'all' (RFC 7208 6.1)",
                    f"remove '{record.redirect.render()}' or the 'all' term",
                )
            else:
                self.follow(draft, record.redirect.domain, Edge.REDIRECT, record.redirect.render())
        elif draft.policy and not record.has_all:
            self.add(
                Severity.WARNING,
                Code.NO_ALL,
                name,
                f"the record of {name} has no 'all' and no redirect: unlisted senders get "
                "neutral (RFC 7208 4.7), which protects nothing",
                "end the record with '-all' (or '~all' while you test)",
            )

    def check_all(self, draft: _Draft, mechanism: All) -> None:
        name = draft.domain
        if mechanism.qualifier is Qualifier.PASS:
            self.add(
                Severity.ERROR,
                Code.PASS_ALL,
                name,
                f"'{mechanism.render()}' in {name} authorizes every address on the internet "
                "to send as this domain",
                "replace '+all' with '-all' (or '~all' while you test)",
            )
        elif mechanism.qualifier is Qualifier.NEUTRAL and draft.policy:
            self.add(
                Severity.WARNING,
                Code.NEUTRAL_ALL,
                name,
                f"'?all' in {name} is weak: unlisted senders get neutral, treated like no SPF",
                "use '-all' (or '~all' while you test)",
            )

    def address_target(self, draft: _Draft, mechanism: A | MX | Exists) -> None:
        term = mechanism.render()
        if mechanism.domain is not None and not mechanism.domain.is_literal:
            self.macro_target(draft, term)
            return
        target = draft.domain if mechanism.domain is None else mechanism.domain.literal_text
        rrtype = RRType.MX if isinstance(mechanism, MX) else RRType.A
        try:
            answer = self.query(target, rrtype)
        except DeadlineReached:
            self.not_done.append(f"{target} {rrtype.value}")
            return
        except DNSTemporaryError as exc:
            self.add(
                Severity.ERROR,
                Cause.DNS_ERROR,
                draft.domain,
                f"'{term}' in {draft.domain}: the {rrtype.value} query for {target} failed "
                f"({exc}): receivers return temperror",
                "check that the name servers of the target answer; retry later",
            )
            return
        if answer.is_void:
            draft.void += 1
            what = "does not exist" if answer.nxdomain else f"has no {rrtype.value} record"
            self.add(
                Severity.WARNING,
                Code.VOID_LOOKUP,
                draft.domain,
                f"'{term}' in {draft.domain} is a void lookup: {target} {what} "
                "(receivers allow 2 in all, RFC 7208 4.6.4)",
                f"remove '{term}', or publish the {rrtype.value} record it expects",
            )
        elif isinstance(mechanism, MX) and len(answer.exchanges()) > MAX_MX_NAMES:
            self.add(
                Severity.ERROR,
                Cause.TOO_MANY_MX,
                draft.domain,
                f"'{term}' in {draft.domain}: {target} has {len(answer.exchanges())} MX "
                f"records, over {MAX_MX_NAMES}: receivers return permerror (RFC 7208 4.6.4)",
                "list the outgoing servers with ip4:/ip6: instead of 'mx'",
            )

    def follow(self, draft: _Draft, domain: MacroString, edge: Edge, term: str) -> None:
        if not domain.is_literal:
            self.macro_target(draft, term)
            return
        target = normalize_name(domain.literal_text)
        child = _Draft(
            target,
            edge,
            term,
            draft.depth + 1,
            draft.path | {target},
            policy=draft.policy and edge is Edge.REDIRECT,
        )
        draft.children.append(child)
        self.created += 1
        if target in draft.path:
            child.status = NodeStatus.LOOP
            self.add(
                Severity.ERROR,
                Code.INCLUDE_LOOP,
                draft.domain,
                f"'{term}' in {draft.domain} loops back to {target}: receivers run out of "
                "lookups and return permerror",
                f"remove '{term}' from {draft.domain}",
            )
        elif child.depth > MAX_DEPTH or self.created > MAX_NODES:
            child.status = NodeStatus.NOT_FOLLOWED
            if not self.truncated:
                self.truncated = True
                self.add(
                    Severity.INFO,
                    Code.TREE_TRUNCATED,
                    draft.domain,
                    f"the tree is too large to walk completely (over {MAX_DEPTH} levels or "
                    f"{MAX_NODES} records); the counts are lower bounds",
                    FLATTEN_FIX,
                )

    def macro_target(self, draft: _Draft, term: str) -> None:
        self.add(
            Severity.INFO,
            Code.MACRO_TARGET,
            draft.domain,
            f"'{term}' in {draft.domain} uses macros: its target depends on each message, "
            "so what lies below it is not counted here",
            "nothing to fix; use `spfmanager check --ip` to evaluate real connections",
        )


def walk_tree(domain: str, resolver: Resolver, *, deadline: float | None = None) -> Walk:
    """Walk the SPF tree of ``domain``: the record, its includes and redirects, recursively.

    With ``deadline`` the walk takes at most that many seconds (``resolver`` may also be a
    :class:`~spfmanager.audit.deadline.DeadlineResolver` shared with other work).
    """
    logger.debug("walking the SPF tree of %s", domain)
    if deadline is not None:
        resolver = DeadlineResolver(resolver, deadline)
    return _Walker(resolver).walk(domain)
