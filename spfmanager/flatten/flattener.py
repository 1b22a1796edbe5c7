"""Flatten an SPF record: same results for every address, within every RFC 7208 limit.

Pipeline: analyze (resolve includes, a, mx, redirect into address ranges) -> normal form ->
cover each address-only part with a minimal first-match CIDR list -> pack into a root record
and redirect-chained records -> verify against the intent with the bundled evaluator. Terms
that cannot be flattened faithfully stay verbatim, in place; nothing moves across them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from spfmanager.dns.base import Resolver, normalize_name
from spfmanager.dns.memo import MemoResolver
from spfmanager.errors import (
    FlattenError,
    KeptTermLimitError,
    OwnRecordError,
    RefusalCause,
    SPFSyntaxError,
)
from spfmanager.flatten.analyze import Analyzer, pin_domain
from spfmanager.flatten.bounded import Bounded
from spfmanager.flatten.budget import (
    DEFAULT_DEADLINE,
    DEFAULT_QUERY_BUDGET,
    Budget,
    Clock,
    MeteredResolver,
)
from spfmanager.flatten.cover import cover_part
from spfmanager.flatten.decisions import Decisions, normal_form, passing_addresses
from spfmanager.flatten.pack import PackedRecord, pack
from spfmanager.flatten.prefetch import DEFAULT_WORKERS, Root, prefetch
from spfmanager.flatten.program import Opaque, Program
from spfmanager.flatten.refusals import refusal
from spfmanager.flatten.verify import Proof, verify, verify_chain
from spfmanager.spf.limits import MAX_DNS_LOOKUPS, MAX_UDP_ANSWER, MAX_VOID_LOOKUPS
from spfmanager.spf.macros import MacroString
from spfmanager.spf.parser import parse_record
from spfmanager.spf.terms import (
    MX,
    A,
    Explanation,
    Mechanism,
    Ptr,
    Record,
    Redirect,
    UnknownModifier,
)

# The lookups flattened records should need: headroom under RFC 7208's 10 for upstream
# growth. A preference: records needing more, up to the 10, are published with a warning.
DEFAULT_LOOKUP_BUDGET = 8
RUN_CACHE = 2048  # distinct intents whose analysis, cover and proof a run keeps


@dataclass(frozen=True)
class FlattenResult:
    """The records to publish and what was measured and proven about them."""

    domain: str
    intent: Record
    packed: tuple[PackedRecord, ...]
    lookups: int  # worst-case DNS lookups a receiver counts for the published set
    intent_lookups: int  # the same for the intent record as written
    kept: tuple[str, ...]  # terms kept verbatim, with why
    warnings: tuple[str, ...]
    proof: Proof
    dns_queries: int
    passing: dict[int, int] = field(default_factory=dict)  # family -> addresses that pass
    resolved: tuple[str, ...] = ()  # terms resolved at build time (exists: of a fixed name)

    @property
    def records(self) -> dict[str, list[str]]:
        """Owner name -> TXT character-strings, root first."""
        return {r.name: list(r.strings) for r in self.packed}

    @property
    def texts(self) -> dict[str, str]:
        return {r.name: r.text for r in self.packed}

    @property
    def total_bytes(self) -> int:
        return sum(len(r.text) for r in self.packed)

    @property
    def data(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "intent": self.intent.render(),
            "records": [
                {
                    "name": r.name,
                    "text": r.text,
                    "strings": list(r.strings),
                    "answer_bytes": r.answer_bytes,
                }
                for r in self.packed
            ],
            "lookups": self.lookups,
            "intent_lookups": self.intent_lookups,
            "bytes": self.total_bytes,
            "kept": list(self.kept),
            "resolved": list(self.resolved),
            "warnings": list(self.warnings),
            "proof": self.proof.data,
            "dns_queries": self.dns_queries,
            "passing_ipv4_addresses": self.passing.get(4, 0),
            "passing_ipv6_addresses": self.passing.get(6, 0),
        }


def flatten(
    record: str | Record,
    domain: str,
    *,
    resolver: Resolver,
    keep: Iterable[str] = (),
    lookup_budget: int = DEFAULT_LOOKUP_BUDGET,
    other_root_txt: Sequence[Sequence[str]] = (),
    max_answer: int = MAX_UDP_ANSWER,
    query_budget: int = DEFAULT_QUERY_BUDGET,
    deadline: float = DEFAULT_DEADLINE,
) -> FlattenResult:
    """Flatten ``record`` for publication at ``domain``; raise FlattenError when impossible.

    ``keep`` lists terms (as written) never to flatten. ``other_root_txt`` are the other TXT
    records at the domain (verification strings...), which share its 512-byte answer.
    ``lookup_budget`` is the lookups the records should need: more, up to RFC 7208's 10, is
    a warning in :attr:`FlattenResult.warnings`; only more than 10 is refused.
    At most ``query_budget`` DNS queries are sent and ``deadline`` seconds spent, else
    FlattenError (transient for the deadline).

    Every refusal is a FlattenError with a :class:`~spfmanager.errors.RefusalCause`:
    :class:`~spfmanager.errors.OwnRecordError` for a record that does not parse or gives
    receivers an error as written, :class:`~spfmanager.errors.UpstreamRecordError` for an
    upstream record missing, duplicated, looping or unparsable,
    :class:`~spfmanager.errors.KeptTermLimitError` for kept terms over the lookup limit.
    """
    return Flattener(resolver).flatten(
        record,
        domain,
        keep=keep,
        lookup_budget=lookup_budget,
        other_root_txt=other_root_txt,
        max_answer=max_answer,
        query_budget=query_budget,
        deadline=deadline,
    )


class Flattener:
    """Flattens many domains in one run, sharing DNS answers, analyses and encodings.

    Each (name, type) is queried once per Flattener; a service included by a thousand
    domains is analysed once, and identical intents are encoded and point-checked once.
    Each :meth:`flatten` has its own query budget and deadline; answers already known to
    the run cost it nothing. Include trees are resolved level by level, ``workers`` queries
    in flight (1: one at a time, depth first); :meth:`prefetch` resolves the trees of many
    domains at once. ``clock`` (seconds, monotonic) is injectable for tests.
    """

    def __init__(
        self, resolver: Resolver, *, clock: Clock = time.monotonic, workers: int = DEFAULT_WORKERS
    ) -> None:
        self.meter = MeteredResolver(resolver, clock=clock)
        self.resolver = MemoResolver(self.meter)
        self.workers = workers
        self._prefetched: set[tuple[str, str]] = set()  # (domain, intent) done by prefetch()
        self._analyzers: dict[frozenset[str], Analyzer] = {}
        # Per distinct intent; the most recent RUN_CACHE only (a fleet of distinct intents).
        self._covers: Bounded[Decisions, list[Mechanism]] = Bounded(RUN_CACHE)
        self._proven: Bounded[tuple[object, ...], Proof] = Bounded(RUN_CACHE)
        self._analyses: Bounded[
            tuple[str, frozenset[str]], tuple[Program, list[Decisions | Opaque], int]
        ] = Bounded(RUN_CACHE)

    def prefetch(self, roots: Sequence[Root], *, seconds: float = DEFAULT_DEADLINE) -> int:
        """Resolve what flattening ``roots`` will ask DNS, concurrently, before any of them is
        flattened (each answer is charged to the first domain that uses it); returns the
        queries sent. Nothing when ``workers`` is 1."""
        if self.workers <= 1:
            return 0
        self._prefetched.update((normalize_name(r.domain), r.record.render()) for r in roots)
        return prefetch(
            self.resolver, roots, workers=self.workers, seconds=seconds, charge_on_use=True
        )

    def analyzer(self, keep: Iterable[str] = ()) -> Analyzer:
        key = frozenset(keep)
        if key not in self._analyzers:
            self._analyzers[key] = Analyzer(self.resolver, keep=key)
        return self._analyzers[key]

    def normal_form(
        self, record: Record, domain: str, keep: Iterable[str] = ()
    ) -> list[Decisions | Opaque]:
        """``record``'s normal form as if published at ``domain``, shared (as by
        :meth:`flatten`) with every identical record that does not depend on its domain.
        Read only: the list is the cache's."""
        return self._analyze(self.analyzer(keep), record, normalize_name(domain), keep)[1]

    def shares(self, record: Record) -> bool:
        """True when analyses of ``record`` are shared between the domains publishing it."""
        return _domain_independent(record)

    def flatten(
        self,
        record: str | Record,
        domain: str,
        *,
        keep: Iterable[str] = (),
        lookup_budget: int = DEFAULT_LOOKUP_BUDGET,
        other_root_txt: Sequence[Sequence[str]] = (),
        max_answer: int = MAX_UDP_ANSWER,
        query_budget: int = DEFAULT_QUERY_BUDGET,
        deadline: float = DEFAULT_DEADLINE,
    ) -> FlattenResult:
        """See :func:`flatten`."""
        domain = normalize_name(domain)
        intent = _parse_intent(record, domain) if isinstance(record, str) else record
        if lookup_budget > MAX_DNS_LOOKUPS:
            raise FlattenError(
                f"lookup budget {lookup_budget} exceeds RFC 7208's {MAX_DNS_LOOKUPS}",
                cause=RefusalCause.OTHER,
            )
        if query_budget < 1 or not deadline > 0:
            raise FlattenError(
                f"the query budget ({query_budget}) and the deadline ({deadline} s) must be "
                "positive",
                cause=RefusalCause.OTHER,
            )
        queries_before = self.resolver.queries
        with self.meter.budget(Budget(domain, query_budget, deadline)):
            if self.workers > 1 and (domain, intent.render()) not in self._prefetched:
                root = Root(intent, domain, query_budget)
                prefetch(
                    self.resolver,
                    [root],
                    workers=self.workers,
                    seconds=deadline,
                    charge_on_use=False,
                )
            result = self._flatten(intent, domain, keep, lookup_budget, other_root_txt, max_answer)
        return replace(result, dns_queries=self.resolver.queries - queries_before)

    def _flatten(
        self,
        intent: Record,
        domain: str,
        keep: Iterable[str],
        lookup_budget: int,
        other_root_txt: Sequence[Sequence[str]],
        max_answer: int,
    ) -> FlattenResult:
        analyzer = self.analyzer(keep)
        program, form, intent_lookups = self._analyze(analyzer, intent, domain, keep)
        refused = refusal(domain, form)
        if refused is not None:
            raise refused  # before anything evaluates the intent: a loop would not end
        terms, final_redirect, kept = self._encode(form)
        try:
            packed = pack(
                terms,
                domain,
                final_redirect=final_redirect,
                explanation=_pinned_explanation(intent, domain),
                root_modifiers=[t for t in intent.terms if isinstance(t, UnknownModifier)],
                other_root_txt=other_root_txt,
                max_answer=max_answer,
            )
        except FlattenError as exc:
            raise FlattenError(f"{domain}: {exc}", cause=RefusalCause.SIZE) from None
        lookups = _check_lookups(domain, kept, len(packed) - 1)
        proof = self._prove(intent, domain, packed, keep, form, terms, final_redirect)
        passing = passing_addresses(form)
        warnings = _warnings(program, passing)
        if lookups > lookup_budget:
            warnings.append(
                f"the flattened records need {lookups} DNS lookups, over the lookup budget of "
                f"{lookup_budget} but within RFC 7208's {MAX_DNS_LOOKUPS}: little headroom "
                f"for upstream growth ({_lookups_detail(kept, len(packed) - 1)})"
            )
        return FlattenResult(
            domain=domain,
            intent=intent,
            packed=tuple(packed),
            lookups=lookups,
            intent_lookups=intent_lookups,
            kept=tuple(f"{p.term.render()}: {p.reason}" for p in kept),
            warnings=tuple(warnings),
            proof=proof,
            dns_queries=0,  # set by flatten()
            passing=passing,
            resolved=program.resolved,
        )

    def _prove(
        self,
        intent: Record,
        domain: str,
        packed: list[PackedRecord],
        keep: Iterable[str],
        form: list[Decisions | Opaque],
        terms: list[Mechanism],
        final_redirect: Redirect | None,
    ) -> Proof:
        """Verify; the full proof runs once per distinct encoding.

        Another domain with the same encoding gets a structural proof of its own records:
        following its redirect chain must give exactly the proven terms, in order.
        """
        key = (tuple(form), tuple(terms), final_redirect, intent.explanation is None)
        published = {p.name: p.strings for p in packed}
        done = self._proven.get(key)
        if done is not None:
            # Same proven terms: only this domain's chaining of them needs checking.
            verify_chain(domain, {p.name: p.text for p in packed}, terms, final_redirect)
            return done
        proof = verify(intent, domain, published, self.resolver, keep=keep, intent_form=form)
        if not _depends_on_domain(form):
            self._proven[key] = proof
        return proof

    def _analyze(
        self, analyzer: Analyzer, intent: Record, domain: str, keep: Iterable[str]
    ) -> tuple[Program, list[Decisions | Opaque], int]:
        """The intent's program, normal form and lookups; shared by identical intents
        that do not depend on the domain they are published at."""
        key = (intent.render(), frozenset(keep)) if _domain_independent(intent) else None
        cached = self._analyses.get(key) if key is not None else None
        if cached is None:
            program = analyzer.analyze(intent, domain)
            cached = (program, normal_form(program), analyzer.worst_case_lookups(intent, domain))
            if key is not None:
                self._analyses[key] = cached
        return cached

    def _encode(
        self, form: list[Decisions | Opaque]
    ) -> tuple[list[Mechanism], Redirect | None, list[Opaque]]:
        terms: list[Mechanism] = []
        kept: list[Opaque] = []
        final_redirect: Redirect | None = None
        for part in form:
            if isinstance(part, Opaque):
                kept.append(part)
                if isinstance(part.term, Redirect):
                    final_redirect = part.term
                else:
                    terms.append(part.term)
                continue
            covered = self._covers.get(part)
            if covered is None:
                covered = self._covers[part] = cover_part(part)
            terms.extend(covered)
        return terms, final_redirect, kept


def _parse_intent(text: str, domain: str) -> Record:
    """The domain's own record; a syntax error is the intent's, naming the term."""
    try:
        return parse_record(text)
    except SPFSyntaxError as exc:
        term = _term_at(exc.text or text, exc.position)
        where = f" at '{term}'" if term else ""
        raise OwnRecordError(
            f"{domain}: syntax error in this record{where}: {exc}", cause=RefusalCause.OWN_SYNTAX
        ) from None


def _term_at(text: str, position: int) -> str:
    """The whitespace-separated term of ``text`` at (or last before) ``position``."""
    starts = [(m.start(), m.group()) for m in re.finditer(r"\S+", text)]
    before = [term for start, term in starts if start <= position]
    return (before or [term for _, term in starts] or [text])[-1 if before else 0]


def _check_lookups(domain: str, kept: Sequence[Opaque], links: int) -> int:
    """The published records' worst-case lookups (kept terms and ``links`` chained
    records); over RFC 7208's limit, receivers would get permerror: refuse."""
    kept_lookups = sum(p.lookups for p in kept)
    lookups = kept_lookups + links
    if kept_lookups > MAX_DNS_LOOKUPS:
        raise KeptTermLimitError(
            f"{domain}: the terms kept as written need up to {kept_lookups} DNS lookups, over "
            f"RFC 7208's limit of {MAX_DNS_LOOKUPS}: receivers would get permerror where the "
            f"intent does not ({_lookups_detail(kept, links)})",
            cause=RefusalCause.KEPT_TERM_LIMIT,
        )
    for version, index in ((4, 0), (6, 1)):
        voids = sum(p.voids[index] for p in kept)
        if voids > MAX_VOID_LOOKUPS:
            terms = ", ".join(
                f"{p.term.render()} ({p.voids[index]})" for p in kept if p.voids[index]
            )
            raise KeptTermLimitError(
                f"{domain}: the terms kept as written may cost an IPv{version} client {voids} "
                f"void lookups, over RFC 7208's limit of {MAX_VOID_LOOKUPS}: receivers would "
                f"get permerror where the intent does not ({terms})",
                cause=RefusalCause.KEPT_TERM_LIMIT,
            )
    if lookups > MAX_DNS_LOOKUPS:
        raise FlattenError(
            f"{domain}: the flattened records need {lookups} DNS lookups, over RFC 7208's "
            f"limit of {MAX_DNS_LOOKUPS} ({_lookups_detail(kept, links)})",
            cause=RefusalCause.LOOKUP_LIMIT,
        )
    return lookups


def _lookups_detail(kept: Sequence[Opaque], links: int) -> str:
    terms = ", ".join(f"{p.term.render()} ({p.lookups})" for p in kept) or "none"
    return f"{links} for chained records; kept terms: {terms}"


def _domain_independent(record: Record) -> bool:
    """True when no term refers to the domain the record is published at."""
    for term in record.terms:
        if isinstance(term, A | MX | Ptr) and term.domain is None:
            return False
        macro = getattr(term, "domain", None) or getattr(term, "value", None)
        if isinstance(macro, MacroString) and "d" in macro.letters:
            return False
    return True


def _depends_on_domain(form: list[Decisions | Opaque]) -> bool:
    """Kept terms are pinned to the domain: their encodings differ per domain."""
    return any(isinstance(part, Opaque) for part in form)


def _pinned_explanation(intent: Record, domain: str) -> Explanation | None:
    if intent.explanation is None:
        return None
    return Explanation(pin_domain(intent.explanation.domain, domain))


def _warnings(program: Program, passing: dict[int, int]) -> list[str]:
    warnings = list(program.notes)
    if passing[4] >= 1 << 24 or passing[6] >= 1 << 96:  # a /8 of IPv4, a /32 of IPv6
        warnings.append(
            f"the record authorizes a very large address space ({passing[4]:,} IPv4 and "
            f"{passing[6]:,} IPv6 addresses): is '+all' or a huge range coming from upstream?"
        )
    return warnings
