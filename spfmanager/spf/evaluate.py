"""The receiver's check_host() of RFC 7208 sections 4 to 7, with a trace of every step."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from spfmanager.dns.base import Answer, MXRecord, RData, Resolver, RRType, normalize_name
from spfmanager.errors import DNSTemporaryError, SPFSyntaxError
from spfmanager.spf.compiled import (
    AddressRun,
    CompiledRecord,
    LenientRecord,
    ProfileCompiler,
    compile_record,
    forget_profile_compilers,
    profile_compiler,
)
from spfmanager.spf.limits import (
    MAX_DEPTH,
    MAX_DNS_LOOKUPS,
    MAX_DOMAIN_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_MX_NAMES,
    MAX_PTR_NAMES,
    MAX_VOID_LOOKUPS,
)
from spfmanager.spf.macros import MacroString, expand, parse_macro_string
from spfmanager.spf.parser import parse_record
from spfmanager.spf.profiles import RFC7208, ExcessNames, Grammar, NameChecks, Profile
from spfmanager.spf.profiles import libspf2 as _libspf2
from spfmanager.spf.profiles import mailauth_names as _mailauth
from spfmanager.spf.profiles.libspf2_grammar import dns_can_carry, record_text
from spfmanager.spf.results import Cause, Result
from spfmanager.spf.select import select_record
from spfmanager.spf.terms import IP4, IP6, MX, A, All, Exists, Include, Mechanism, Ptr, Redirect
from spfmanager.spf.trace import StepKind, TraceStep

IPAddress = IPv4Address | IPv6Address
RawStep = tuple[int, StepKind, "str | Callable[[], str]", int, int]  # TraceStep's arguments
DEFAULT_EXPLANATION = "%{o} does not designate %{c} as a permitted sender"


@dataclass(frozen=True)
class SPFResult:
    """The outcome of one evaluation."""

    result: Result
    domain: str
    ip: IPAddress
    sender: str
    explanation: str | None = None
    reason: str = ""  # why, for people: the matching term, or the error
    cause: Cause = Cause.NO_MATCH  # why, for programs
    cause_target: str | None = None  # the include/redirect target the cause is about
    mechanism: str | None = None  # the term that decided the result, as written
    lookups: int = 0
    void_lookups: int = 0
    steps: tuple[RawStep, ...] = field(default=(), repr=False, compare=False)

    @cached_property
    def trace(self) -> tuple[TraceStep, ...]:
        """Every step of the evaluation (built on first access: evaluation stays fast)."""
        return tuple(TraceStep(*step) for step in self.steps)

    @property
    def data(self) -> dict[str, Any]:
        return {
            "result": self.result.value,
            "domain": self.domain,
            "ip": str(self.ip),
            "sender": self.sender,
            "explanation": self.explanation,
            "reason": self.reason,
            "cause": self.cause.value,
            "cause_target": self.cause_target,
            "mechanism": self.mechanism,
            "lookups": self.lookups,
            "void_lookups": self.void_lookups,
            "trace": [step.data for step in self.trace],
        }


class _Abort(Exception):
    """Ends check_host() with an error result at any depth."""

    def __init__(
        self, result: Result, reason: str, cause: Cause, target: str | None = None
    ) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason
        self.cause = cause
        self.target = target


class _Refused(_Abort):
    """A name the receiver's resolver refuses to query (mailauth: node's EBADNAME): no SPF
    result, so the check ends in temperror, unless an include or redirect= drops it."""


@dataclass(slots=True)
class _Level:
    """The outcome of one check_host() level."""

    result: Result
    reason: str
    cause: Cause
    mechanism: str | None = None
    explanation: str | None = None
    target: str | None = None  # the include/redirect target a cause is about


def evaluate(
    ip: str | IPAddress,
    mailfrom: str,
    helo: str,
    *,
    resolver: Resolver,
    default_explanation: str | None = None,
    receiver: str = "unknown",
    max_lookups: int | None = None,
    max_void_lookups: int | None = None,
    profile: Profile = RFC7208,
) -> SPFResult:
    """Evaluate SPF for a connection from ``ip`` with MAIL FROM ``mailfrom`` and HELO ``helo``.

    An empty ``mailfrom`` checks ``postmaster@helo`` (RFC 7208 2.4). ``default_explanation``
    is a macro-string used for ``fail`` when the record has no usable ``exp=``. ``profile``
    is the receiver implementation whose reading to reproduce (:mod:`spfmanager.spf.profiles`);
    ``max_lookups`` and ``max_void_lookups`` override its limits (default: the profile's,
    10 and 2 for RFC 7208). Include/redirect nesting stops at ``MAX_DEPTH`` whatever the
    limits (permerror, :attr:`Cause.RECURSION`).

    A chain of ip4/ip6/include/redirect/all checked often is answered from its interval
    table (:mod:`spfmanager.spf.chain`): the same result, field by field, the trace and a
    fail's explanation computed when read. ``resolver=SlowPath(resolver)`` forces the
    term-by-term path.
    """
    tabled = _chain.evaluate_chain(
        ip,
        mailfrom,
        helo,
        resolver=resolver,
        default_explanation=default_explanation,
        receiver=receiver,
        max_lookups=max_lookups,
        max_void_lookups=max_void_lookups,
        profile=profile,
    )
    if tabled is not None:
        return tabled
    address, sender, local, domain = connection(ip, mailfrom, helo, profile)
    check = _Check(address, sender, local, domain, helo, resolver, receiver)
    if profile is not RFC7208 or max_lookups is not None or max_void_lookups is not None:
        check.configure(profile, max_lookups, max_void_lookups)
    check.default_explanation = default_explanation
    level = check.check_host(domain, 0, want_explanation=True)
    return SPFResult(
        result=level.result,
        domain=domain,
        ip=address,
        sender=sender,
        explanation=level.explanation,
        reason=level.reason,
        cause=level.cause,
        cause_target=level.target,
        mechanism=level.mechanism,
        lookups=check.lookups,
        void_lookups=check.void,
        steps=tuple(check.trace),
    )


def connection(
    ip: str | IPAddress, mailfrom: str, helo: str, profile: Profile
) -> tuple[IPAddress, str, str, str]:
    """The client address as ``profile`` checks it, the sender, its local part and domain.

    An IPv4-mapped client is IPv4 (RFC 7208 5) unless the profile reads it as IPv6; an empty
    ``mailfrom`` checks ``postmaster@helo`` and a missing local part is ``postmaster``
    (RFC 7208 2.4, 4.3).
    """
    address = ip if isinstance(ip, IPv4Address | IPv6Address) else parse_ip(ip)
    if (
        isinstance(address, IPv6Address)
        and address.ipv4_mapped is not None
        and not profile.mapped_client_is_ipv6
    ):
        address = address.ipv4_mapped
    sender = mailfrom or f"postmaster@{helo}"
    local, at, domain = sender.rpartition("@")
    if not at:
        local, domain = "", sender
    if not local:
        local = "postmaster"
        sender = f"postmaster@{domain}"
    return address, sender, local, domain


def parse_ip(text: str) -> IPAddress:
    """An address from text; inet_pton first (strict and fast), ipaddress for the error."""
    try:
        if ":" in text:
            return IPv6Address(int.from_bytes(socket.inet_pton(socket.AF_INET6, text)))
        return IPv4Address(int.from_bytes(socket.inet_pton(socket.AF_INET, text)))
    except OSError:
        return ip_address(text)  # raises ValueError with ipaddress's message


@lru_cache(maxsize=4096)
def is_valid_domain(domain: str) -> bool:
    """RFC 7208 4.3: a multi-label name, no empty label but a final dot, labels <= 63."""
    labels = domain[:-1].split(".") if domain.endswith(".") else domain.split(".")
    if len(labels) < 2:
        return False
    return all(0 < len(label) <= MAX_LABEL_LENGTH for label in labels)


def truncate_domain(domain: str) -> str:
    """RFC 7208 7.3: drop leading labels until the name fits 253 characters."""
    while len(domain.rstrip(".")) > MAX_DOMAIN_LENGTH and "." in domain:
        domain = domain.split(".", 1)[1]
    return domain


class _Check:
    """State of one evaluation: counters, the trace, and macro values."""

    # Departures read only once departs is set (configure()): class defaults, RFC 7208's
    compiler: ProfileCompiler | None = None  # how the receiver compiles records
    own_grammar = False  # libspf2: reads the record's octets with its own grammar
    lookups_per_include = False  # libspf2: each include counts from zero
    on_record = False  # pyspf/Mail::SPF: checks and counts when a record is read
    profiled_run = False  # steps run by _run_profile rather than _run
    counts_unreached_redirect = False  # pyspf/Mail::SPF: redirect= counted when read
    lookup_limit_at_next_term = False
    step_limit = sys.maxsize  # the lookup limit checked before each term (libspf2)
    mapped_ip: int | None = None  # ::ffff:a.b.c.d for ip6 terms (Mail::SPF)
    name_checks = False  # mailauth: its own checks of each name before it is queried

    def __init__(
        self,
        ip: IPAddress,
        sender: str,
        local: str,
        sender_domain: str,
        helo: str,
        resolver: Resolver,
        receiver: str,
    ) -> None:
        self.ip = ip
        self.ip_int = int(ip)
        self.ipv4 = ip.version == 4
        self.sender = sender
        self.local = local
        self.sender_domain = sender_domain
        self.helo = helo
        self.resolver = resolver
        self.receiver = receiver
        self.profile = RFC7208
        self.max_lookups = MAX_DNS_LOOKUPS
        self.max_void = MAX_VOID_LOOKUPS
        self.departs = False  # whether any departure (class attributes above) is on
        self.default_explanation: str | None = None
        self.lookups = 0
        self.void = 0
        self.trace: list[RawStep] = []
        self.current_domain = sender_domain
        self._validated_name: str | None = None

    def configure(
        self, profile: Profile, max_lookups: int | None, max_void_lookups: int | None
    ) -> None:
        """Evaluate as ``profile``'s receiver does, with its limits unless overridden."""
        self.profile = profile
        self.compiler = profile_compiler(profile)
        self.own_grammar = profile.grammar is Grammar.LIBSPF2
        self.on_record = profile.rejects_self_include or profile.counts_unreached_redirect
        self.lookups_per_include = profile.lookups_per_include
        self.counts_unreached_redirect = profile.counts_unreached_redirect
        lookups = profile.max_lookups if max_lookups is None else max_lookups
        if profile.lookup_limit_at_next_term:
            self.lookup_limit_at_next_term = True
            self.step_limit = lookups  # checked before each term: count_lookup never raises
            self.max_lookups = sys.maxsize
        else:
            self.max_lookups = lookups
        voids = profile.max_void_lookups if max_void_lookups is None else max_void_lookups
        self.max_void = sys.maxsize if voids is None else voids
        if profile.name_checks is NameChecks.MAILAUTH:  # and its reading of terms
            self.name_checks = self.on_record = True
        if profile.ip6_matches_mapped_ipv4 and self.ipv4:
            self.mapped_ip = 0xFFFF_0000_0000 | self.ip_int
        self.profiled_run = (
            profile.redirect_in_place
            or profile.lookup_limit_at_next_term
            or self.mapped_ip is not None
        )
        self.departs = (
            self.compiler is not None
            or self.on_record
            or self.profiled_run
            or self.lookups_per_include
            or self.counts_unreached_redirect
        )

    # -- tracing and counting -------------------------------------------------------------

    def note(self, depth: int, kind: StepKind, message: str | Callable[[], str]) -> None:
        self.trace.append((depth, kind, message, self.lookups, self.void))

    def count_lookup(self, depth: int, term: str) -> None:
        self.lookups += 1
        if self.lookups > self.max_lookups:
            message = f"more than {self.max_lookups} DNS lookups at '{term}' (RFC 7208 4.6.4)"
            self.note(depth, StepKind.LIMIT, message)
            raise _Abort(Result.PERMERROR, message, Cause.TOO_MANY_LOOKUPS)

    def count_void(self, depth: int, answer: Answer) -> None:
        if not answer.is_void:
            return
        self.void += 1
        if self.void > self.max_void:
            message = (
                f"more than {self.max_void} void lookups at {answer.name} "
                f"{answer.rrtype.value} (RFC 7208 4.6.4)"
            )
            self.note(0, StepKind.LIMIT, message)
            raise _Abort(Result.PERMERROR, message, Cause.TOO_MANY_VOID_LOOKUPS)

    def query(self, name: str, rrtype: RRType, depth: int) -> Answer:
        try:
            answer = self.resolver.query(name, rrtype)
        except DNSTemporaryError as exc:
            self.note(depth, StepKind.QUERY, f"{name} {rrtype.value}: {exc}")
            raise
        self.note(depth, StepKind.QUERY, lambda: _describe_answer(answer))
        return answer

    def query_or_abort(self, name: str, rrtype: RRType, depth: int) -> Answer:
        if self.name_checks:
            self._check_name(name, name, depth)
        try:
            return self.query(name, rrtype, depth)
        except DNSTemporaryError as exc:
            raise _Abort(
                Result.TEMPERROR, f"DNS error for {name} {rrtype.value}: {exc}", Cause.DNS_ERROR
            ) from None

    # -- check_host -----------------------------------------------------------------------

    def too_deep(self, domain: str, depth: int) -> _Abort:
        """The error for an include or redirect= target nested deeper than MAX_DEPTH,
        whatever the lookup limit (the default limit alone stops nesting at 11)."""
        message = f"include/redirect nesting deeper than {MAX_DEPTH} records at {domain} (a loop?)"
        self.note(depth, StepKind.LIMIT, message)
        return _Abort(Result.PERMERROR, message, Cause.RECURSION, domain)

    def check_host(self, domain: str, depth: int, *, want_explanation: bool) -> _Level:
        # The trace's lazy messages capture values, never self: no reference cycle through
        # self.trace, so each check is freed at once (a cycle per check kept a fleet's
        # proofs waiting for the garbage collector).
        ip, sender = self.ip, self.sender
        self.note(depth, StepKind.CHECK, lambda: f"check_host({ip}, {domain}, {sender})")
        try:
            level = self._check_host(domain, depth, want_explanation)
        except _Abort as abort:
            self.note(depth, StepKind.ERROR, abort.reason)
            level = _Level(abort.result, abort.reason, abort.cause, target=abort.target)
            if depth:
                raise
        self.note(depth, StepKind.RESULT, lambda: f"{level.result.value}: {level.reason}")
        return level

    def _check_host(self, domain: str, depth: int, want_explanation: bool) -> _Level:
        if self.name_checks:
            invalid = self._check_record_name(domain, depth)
            if invalid is not None:
                return invalid
        elif self.own_grammar:  # libspf2: no RFC 7208 4.3 check, only what DNS can carry
            if not dns_can_carry(domain):
                return self._uncarried(domain, depth)
        elif not is_valid_domain(domain):
            return _Level(
                Result.NONE,
                f"'{domain}' is not a valid domain name (RFC 7208 4.3)",
                Cause.INVALID_DOMAIN,
            )
        found = self._fetch_record(domain, depth)
        if isinstance(found, _Level):
            return found
        compiled = found
        previous_domain, self.current_domain = self.current_domain, normalize_name(domain)
        try:
            if not self.departs:
                level = self._run(compiled, depth)
            else:
                if self.on_record:
                    self._read_record(compiled, domain, depth)
                if self.profiled_run:
                    level = self._run_profile(compiled, depth, want_explanation)
                else:
                    level = self._run(compiled, depth)
            if level is None:
                level = self._redirect_or_neutral(compiled, depth, want_explanation)
            elif level.result is Result.FAIL and want_explanation:
                level.explanation = self._explain(compiled, depth)
        finally:
            self.current_domain = previous_domain
        return level

    def _fetch_record(self, domain: str, depth: int) -> CompiledRecord | _Level:
        try:
            answer = self.query(domain, RRType.TXT, depth)
        except DNSTemporaryError as exc:
            return _Level(
                Result.TEMPERROR,
                f"DNS error fetching the SPF record of {domain}: {exc}",
                Cause.DNS_ERROR,
            )
        if answer.nxdomain:
            return _Level(Result.NONE, f"{domain} does not exist (NXDOMAIN)", Cause.NO_RECORD)
        if self.own_grammar and self.compiler is not None:
            return self._as_receiver_reads(answer.records, self.compiler, domain, depth)
        selected = _compiled_record(answer.records)
        if isinstance(selected, tuple):
            cause, message = selected
            if cause is Cause.SYNTAX_ERROR and self.name_checks and self.compiler is not None:
                return self._read_leniently(answer.records, self.compiler, domain, depth)
            result = Result.NONE if cause is Cause.NO_RECORD else Result.PERMERROR
            return _Level(result, message.format(domain=domain), cause)
        self.note(depth, StepKind.RECORD, selected.record.source)
        if self.departs and self.compiler is not None:
            return self._as_receiver_compiles(selected, self.compiler, domain, depth)
        return selected

    def _as_receiver_compiles(
        self, written: CompiledRecord, compiler: ProfileCompiler, domain: str, depth: int
    ) -> CompiledRecord | _Level:
        """The record as the profile's receiver compiles it (libspf2, mailauth)."""
        as_run = compiler(written.record.source)
        if isinstance(as_run, str):
            message = f"syntax error in the SPF record of {domain} for {self.profile.name}"
            return _Level(Result.PERMERROR, f"{message}: {as_run}", Cause.SYNTAX_ERROR)
        if len(as_run.record.terms) != len(written.record.terms):
            profile = self.profile
            self.note(depth, StepKind.NOTE, lambda: _dropped(written, as_run, profile))
        return as_run

    def _as_receiver_reads(
        self, records: tuple[RData, ...], compiler: ProfileCompiler, domain: str, depth: int
    ) -> CompiledRecord | _Level:
        """The record as a receiver with a grammar of its own reads its octets (libspf2:
        a C string, cut at the first NUL; no RFC 7208 12 syntax check first)."""
        text, cause, count = _selected_text(records)
        if text is None:
            if cause is Cause.NO_RECORD:
                return _Level(Result.NONE, f"{domain} has no SPF record", Cause.NO_RECORD)
            message = f"{domain} has {count} SPF records (RFC 7208 4.5)"
            return _Level(Result.PERMERROR, message, Cause.MULTIPLE_RECORDS)
        self.note(depth, StepKind.RECORD, text)
        as_run = compiler(text)
        if isinstance(as_run, str):
            message = f"syntax error in the SPF record of {domain} for {self.profile.name}"
            return _Level(Result.PERMERROR, f"{message}: {as_run}", Cause.SYNTAX_ERROR)
        if as_run.dropped:
            dropped = " ".join(as_run.dropped)
            message = (
                f"{self.profile.name} drops {len(as_run.dropped)} terms, its buffers full "
                f"({self.profile.max_mechanism_bytes} bytes of mechanisms): {dropped}"
            )
            self.note(depth, StepKind.NOTE, message)
        return as_run

    def _uncarried(self, domain: str, depth: int) -> _Level:
        """libspf2 on a name the C resolver cannot query: a DNS error, temperror for an
        include or redirect target and, for the checked domain itself, SPF_RESULT_INVALID
        (MTAs treat it as an error: permerror)."""
        message = f"'{domain}' cannot be queried (an empty label, or a label or name too long)"
        if depth:
            return _Level(Result.TEMPERROR, message, Cause.DNS_ERROR)
        return _Level(Result.PERMERROR, message, Cause.INVALID_DOMAIN)

    def _read_leniently(
        self, records: tuple[RData, ...], compiler: ProfileCompiler, domain: str, depth: int
    ) -> CompiledRecord | _Level:
        """A record RFC 7208's grammar rejects, read as mailauth does (its terms checked
        only when reached)."""
        record = select_record(records).record
        try:
            text = "" if record is None else record.data.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        as_run = compiler(text) if text else "not ASCII"
        if isinstance(as_run, str):
            message = f"syntax error in the SPF record of {domain} for {self.profile.name}"
            return _Level(Result.PERMERROR, f"{message}: {as_run}", Cause.SYNTAX_ERROR)
        self.note(depth, StepKind.RECORD, as_run.record.source)
        return as_run

    # -- mailauth's names (profiles/mailauth_names.py) -------------------------------------

    def _check_record_name(self, domain: str, depth: int) -> _Level | None:
        """mailauth before a TXT query: the sender's domain must pass Joi (else none); an
        include or redirect= target loses one trailing dot. Then _check_name."""
        if not depth:
            if not _mailauth.is_sender_domain(domain.lower().strip()):
                message = f"Invalid domain {domain} ({self.profile.name}: Joi's domain())"
                return _Level(Result.NONE, message, Cause.INVALID_DOMAIN)
            self._check_name(domain, domain, depth)
        else:
            self._check_name(domain.removesuffix("."), domain, depth)
        return None

    def _check_name(self, name: str, shown: str, depth: int) -> None:
        """mailauth's pattern (permerror), then what node's resolver refuses (_Refused)."""
        if _mailauth.fails_pattern(name):
            message = f"Invalid domain {shown} ({self.profile.name} refuses to query it)"
            self.note(depth, StepKind.ERROR, message)
            raise _Abort(Result.PERMERROR, message, Cause.INVALID_DOMAIN, shown)
        if _mailauth.resolver_refuses(name):
            message = f"EBADNAME {shown} (node's resolver refuses the name)"
            self.note(depth, StepKind.ERROR, message)
            raise _Refused(Result.TEMPERROR, message, Cause.DNS_ERROR, shown)

    def _read_record(self, compiled: CompiledRecord, domain: str, depth: int) -> None:
        """What pyspf and Mail::SPF do with a record before (or regardless of) running it."""
        record = compiled.record
        if self.profile.rejects_self_include:
            own = domain[:-1] if domain.endswith(".") else domain
            for mechanism in record.mechanisms:
                if isinstance(mechanism, Include):
                    target = self.expand_domain(mechanism.domain)
                    if (target[:-1] if target.endswith(".") else target) == own:
                        message = (
                            f"'{mechanism.render()}' includes the record's own domain "
                            f"({self.profile.name} rejects it, reached or not)"
                        )
                        self.note(depth, StepKind.LIMIT, message)
                        raise _Abort(Result.PERMERROR, message, Cause.RECURSION, own)
        if self.counts_unreached_redirect and record.redirect is not None:
            self.count_lookup(depth, record.redirect.render())
        if self.name_checks and record.redirect is not None:  # mailauth, when read
            target = self.expand_domain(record.redirect.domain).removesuffix(".")
            if not _mailauth.is_redirect_target(target):
                message = f"Invalid redirect target {target} ({self.profile.name})"
                self.note(depth, StepKind.LIMIT, message)
                raise _Abort(Result.PERMERROR, message, Cause.INVALID_DOMAIN, target)

    def _run(self, compiled: CompiledRecord, depth: int) -> _Level | None:
        for step in compiled.steps:
            if isinstance(step, AddressRun):
                table = step.ipv4 if self.ipv4 else step.ipv6
                index = table.lookup(self.ip_int)
                if index is None:
                    self.note(depth, StepKind.TERM, f"{len(step.mechanisms)} ip terms: no match")
                    continue
                mechanism: Mechanism = step.mechanisms[index]
            else:
                mechanism = step
                if not self._matches(mechanism, depth):
                    self.note(depth, StepKind.TERM, f"{compiled.texts[id(mechanism)]}: no match")
                    continue
            text = compiled.texts[id(mechanism)]
            self.note(depth, StepKind.MATCH, f"{text}: match")
            result = mechanism.qualifier.result
            return _Level(result, f"matched '{text}'", Cause.MATCHED, text)
        return None

    def _run_profile(
        self, compiled: CompiledRecord, depth: int, want_explanation: bool
    ) -> _Level | None:
        """_run for receivers that run redirect= in place, check the lookup limit before
        each term, or match ip6 terms against IPv4-mapped clients."""
        redirect_at = compiled.redirect_at
        mapped = self.mapped_ip
        for index, step in enumerate(compiled.steps):
            if index == redirect_at:
                return self._follow_redirect(compiled, depth, want_explanation)
            self._check_step_limit(depth, step, compiled)
            if isinstance(step, AddressRun):
                table = step.ipv4 if self.ipv4 else step.ipv6
                found = table.lookup(self.ip_int)
                if mapped is not None:
                    as_ip6 = step.ipv6.lookup(mapped)
                    if as_ip6 is not None and (found is None or as_ip6 < found):
                        found = as_ip6
                if found is None:
                    self.note(depth, StepKind.TERM, f"{len(step.mechanisms)} ip terms: no match")
                    continue
                mechanism: Mechanism = step.mechanisms[found]
            else:
                mechanism = step
                if mapped is not None and isinstance(mechanism, IP6):
                    low, high = mechanism.span()
                    matched = low <= mapped <= high
                else:
                    matched = self._matches(mechanism, depth)
                if not matched:
                    self.note(depth, StepKind.TERM, f"{compiled.texts[id(mechanism)]}: no match")
                    continue
            text = compiled.texts[id(mechanism)]
            self.note(depth, StepKind.MATCH, f"{text}: match")
            return _Level(mechanism.qualifier.result, f"matched '{text}'", Cause.MATCHED, text)
        if redirect_at is not None:
            return self._follow_redirect(compiled, depth, want_explanation)
        return None

    def _check_step_limit(
        self, depth: int, step: AddressRun | Mechanism | Redirect, compiled: CompiledRecord
    ) -> None:
        if self.lookups > self.step_limit:
            if isinstance(step, AddressRun):
                term = f"{len(step.mechanisms)} ip terms"
            elif isinstance(step, Redirect):
                term = step.render()
            else:
                term = compiled.texts[id(step)]
            message = (
                f"more than {self.step_limit} DNS lookups before '{term}' "
                f"({self.profile.name} checks the limit before each term)"
            )
            self.note(depth, StepKind.LIMIT, message)
            raise _Abort(Result.PERMERROR, message, Cause.TOO_MANY_LOOKUPS)

    def _redirect_or_neutral(
        self, compiled: CompiledRecord, depth: int, want_explanation: bool
    ) -> _Level:
        if self.departs and type(compiled) is LenientRecord:  # a term it cannot read, reached
            message = f"{compiled.unreached_error} ({self.profile.name}, when reached)"
            self.note(depth, StepKind.LIMIT, message)
            raise _Abort(Result.PERMERROR, message, Cause.SYNTAX_ERROR)
        if compiled.record.redirect is None or compiled.redirect_at is not None:
            return _Level(
                Result.NEUTRAL,
                "no term matched and there is no redirect (RFC 7208 4.7)",
                Cause.NO_MATCH,
            )
        return self._follow_redirect(compiled, depth, want_explanation)

    def _follow_redirect(
        self, compiled: CompiledRecord, depth: int, want_explanation: bool
    ) -> _Level:
        redirect = compiled.record.redirect
        if redirect is None:  # pragma: no cover - callers check
            raise ValueError("no redirect= to follow")
        if not self.departs:
            self.count_lookup(depth, redirect.render())
        else:
            if self.lookup_limit_at_next_term:
                self._check_step_limit(depth, redirect, compiled)
            if not self.counts_unreached_redirect:  # else counted when the record was read
                self.count_lookup(depth, redirect.render())
        target = self.expand_domain(redirect.domain)
        self.note(depth, StepKind.NOTE, f"redirect to {target}")
        if depth >= MAX_DEPTH:
            raise self.too_deep(target, depth + 1)
        try:
            level = self.check_host(target, depth + 1, want_explanation=want_explanation)
        except _Refused as refused:  # mailauth: an error without an SPF result, dropped
            message = f"redirect={target}: {refused.reason}, dropped: no term matched"
            return _Level(Result.NEUTRAL, message, Cause.NO_MATCH)
        if level.result is Result.NONE:
            raise _Abort(
                Result.PERMERROR,
                f"redirect target {target} has no SPF record ({level.reason})",
                Cause.REDIRECT_MISSING,
                target,
            )
        return level

    # -- mechanisms -----------------------------------------------------------------------

    def _matches(self, mechanism: Mechanism, depth: int) -> bool:
        if isinstance(mechanism, All):
            return True
        if isinstance(mechanism, IP4 | IP6):
            if self.ipv4 is not isinstance(mechanism, IP4):
                return False
            first, last = mechanism.span()  # no network object: a hot path
            return first <= self.ip_int <= last
        self.count_lookup(depth, mechanism.render())
        if isinstance(mechanism, Include):
            return self._include(mechanism, depth)
        if isinstance(mechanism, A):
            target = self.target(mechanism.domain)
            return self._address_match(target, mechanism.cidr4, mechanism.cidr6, depth, True)
        if isinstance(mechanism, MX):
            return self._mx(mechanism, depth)
        if isinstance(mechanism, Ptr):
            return self._ptr(self.target(mechanism.domain), depth)
        return self._exists(mechanism, depth)

    def _include(self, mechanism: Include, depth: int) -> bool:
        target = self.expand_domain(mechanism.domain)
        if depth >= MAX_DEPTH:
            raise self.too_deep(target, depth + 1)
        try:
            if self.departs and self.lookups_per_include:
                counted, self.lookups = self.lookups, 0
                try:
                    level = self.check_host(target, depth + 1, want_explanation=False)
                finally:
                    self.lookups = counted
            else:
                level = self.check_host(target, depth + 1, want_explanation=False)
        except _Refused:  # mailauth: an error without an SPF result, dropped: no match
            return False
        if level.result is Result.PASS:
            return True
        if level.result is Result.NONE:
            raise _Abort(
                Result.PERMERROR,
                f"include:{target}: {level.reason}",
                Cause.INCLUDE_MISSING,
                target,
            )
        if level.result.is_error:
            reason = f"include:{target}: {level.reason}"
            raise _Abort(level.result, reason, level.cause, level.target or target)
        return False

    def _address_match(
        self, name: str, cidr4: int | None, cidr6: int | None, depth: int, count_void: bool
    ) -> bool:
        answer = self.query_or_abort(name, RRType.A if self.ipv4 else RRType.AAAA, depth)
        if count_void and not answer.records and self._void(answer, depth):
            self.count_void(depth, answer)
        prefix = (
            (32 if cidr4 is None else cidr4) if self.ipv4 else (128 if cidr6 is None else cidr6)
        )
        return any(_same_network(self.ip, address, prefix) for address in answer.addresses())

    def _listed(self, answer: Answer, cidr4: int | None, cidr6: int | None) -> bool:
        prefix = (
            (32 if cidr4 is None else cidr4) if self.ipv4 else (128 if cidr6 is None else cidr6)
        )
        return any(_same_network(self.ip, address, prefix) for address in answer.addresses())

    def _void(self, answer: Answer, depth: int) -> bool:
        """Whether an empty address answer is void: for mailauth, only if the name has no
        address of the other family either."""
        if not self.profile.void_needs_both_families:
            return True
        other = RRType.AAAA if answer.rrtype is RRType.A else RRType.A
        try:
            return not self.query(answer.name, other, depth).records
        except DNSTemporaryError:
            return False

    def _mx(self, mechanism: MX, depth: int) -> bool:
        target = self.target(mechanism.domain)
        answer = self.query_or_abort(target, RRType.MX, depth)
        self.count_void(depth, answer)
        exchanges = answer.exchanges()
        profile = self.profile
        excess = len(exchanges) > MAX_MX_NAMES
        if excess and profile.excess_mx is ExcessNames.PERMERROR:
            raise self._too_many_mx(target, len(exchanges))
        if not profile.mx_in_answer_order:
            exchanges = sorted(exchanges, key=lambda mx: mx.preference)
        if not (profile.void_mx_hosts or excess):
            for exchange in exchanges:
                if exchange.exchange in ("", "."):
                    continue
                if self._address_match(
                    exchange.exchange, mechanism.cidr4, mechanism.cidr6, depth, False
                ):
                    return True
            return False
        return self._mx_hosts(mechanism, target, exchanges, excess, depth)

    def _mx_hosts(
        self, mechanism: MX, target: str, exchanges: list[MXRecord], excess: bool, depth: int
    ) -> bool:
        """The MX hosts of a receiver that counts their voids or meets more than 10."""
        profile = self.profile
        host_voids = 0
        rrtype = RRType.A if self.ipv4 else RRType.AAAA
        for exchange in exchanges[:MAX_MX_NAMES]:
            if exchange.exchange in ("", "."):
                continue
            answer = self.query_or_abort(exchange.exchange, rrtype, depth)
            if profile.void_mx_hosts and not answer.records and self._void(answer, depth):
                if not profile.mx_host_voids_per_mechanism:
                    self.count_void(depth, answer)
                else:
                    host_voids += 1
                    if host_voids > self.max_void:
                        message = (
                            f"more than {self.max_void} MX hosts of {target} without "
                            f"addresses ({profile.name} counts them per mx term)"
                        )
                        self.note(depth, StepKind.LIMIT, message)
                        raise _Abort(Result.PERMERROR, message, Cause.TOO_MANY_VOID_LOOKUPS)
            if self._listed(answer, mechanism.cidr4, mechanism.cidr6):
                return True
        if excess and profile.excess_mx is ExcessNames.PERMERROR_UNLESS_MATCHED:
            raise self._too_many_mx(target, len(exchanges))
        return False

    def _too_many_mx(self, target: str, count: int) -> _Abort:
        return _Abort(
            Result.PERMERROR,
            f"{target} has {count} MX records, over {MAX_MX_NAMES} (RFC 7208 4.6.4)",
            Cause.TOO_MANY_MX,
        )

    def _ptr(self, target: str, depth: int) -> bool:
        profile = self.profile
        names = self._ptr_names(depth)
        excess = len(names) > MAX_PTR_NAMES
        if excess and profile.excess_ptr is ExcessNames.PERMERROR:
            raise self._too_many_ptr(len(names))
        matched = False
        for name in names[:MAX_PTR_NAMES]:
            within = _is_same_or_subdomain(name, target)
            if not within and profile.ptr_checks_matching_names_only:
                continue
            if self._validated(name, depth) and within:
                matched = True
                if not profile.ptr_validates_all_names:
                    break
        if not matched and excess and profile.excess_ptr is ExcessNames.PERMERROR_UNLESS_MATCHED:
            raise self._too_many_ptr(len(names))
        return matched

    def _ptr_names(self, depth: int) -> list[str]:
        """The client's PTR names (RFC 7208 5.5: none when the query fails)."""
        try:
            answer = self.query(self.ip.reverse_pointer, RRType.PTR, depth)
        except DNSTemporaryError as exc:
            if self.profile.ptr_query_error_is_temperror:
                message = f"DNS error for {self.ip.reverse_pointer} PTR: {exc}"
                raise _Abort(Result.TEMPERROR, message, Cause.DNS_ERROR) from None
            return []
        self.count_void(depth, answer)
        return answer.names()

    def _validated(self, name: str, depth: int) -> bool:
        """Whether the PTR name ``name`` has the client's address (RFC 7208 5.5)."""
        if self.name_checks and (_mailauth.fails_pattern(name) or _mailauth.resolver_refuses(name)):
            return False  # mailauth: the name's lookup fails, so it is not validated
        rrtype = RRType.A if self.ipv4 else RRType.AAAA
        try:
            answer = self.query(name, rrtype, depth)
        except DNSTemporaryError as exc:
            if self.profile.ptr_name_error_is_temperror:
                message = f"DNS error for {name} {rrtype.value}: {exc}"
                raise _Abort(Result.TEMPERROR, message, Cause.DNS_ERROR) from None
            return False
        if self.profile.void_ptr_hosts:
            self.count_void(depth, answer)
        return self.ip in answer.addresses()

    def _too_many_ptr(self, count: int) -> _Abort:
        message = (
            f"{self.ip.reverse_pointer} has {count} PTR records, over {MAX_PTR_NAMES} "
            f"({self.profile.name} gives permerror)"
        )
        return _Abort(Result.PERMERROR, message, Cause.TOO_MANY_PTR)

    def _exists(self, mechanism: Exists, depth: int) -> bool:
        target = self.expand_domain(mechanism.domain)
        answer = self.query_or_abort(target, RRType.A, depth)
        self.count_void(depth, answer)
        return bool(answer.addresses())

    def validated_names(self, depth: int, *, count_void: bool) -> list[str]:
        """RFC 7208 5.5: PTR names of the client whose A/AAAA records include it."""
        try:
            answer = self.query(self.ip.reverse_pointer, RRType.PTR, depth)
        except DNSTemporaryError:
            return []
        if count_void:
            self.count_void(depth, answer)
        rrtype = RRType.A if self.ipv4 else RRType.AAAA
        validated: list[str] = []
        for name in answer.names()[:MAX_PTR_NAMES]:
            try:
                addresses = self.query(name, rrtype, depth).addresses()
            except DNSTemporaryError:
                continue
            if self.ip in addresses:
                validated.append(normalize_name(name))
        return validated

    # -- macros ---------------------------------------------------------------------------

    def target(self, domain: MacroString | None) -> str:
        return self.current_domain if domain is None else self.expand_domain(domain)

    def expand_domain(self, domain: MacroString) -> str:
        text = domain.literal_text if domain.is_literal else self._expand(domain)
        if self.name_checks:
            return text  # mailauth truncates nothing (7.3): node refuses names over 255
        return truncate_domain(text)

    def _expand(self, macro: MacroString) -> str:
        if self.profile.grammar is Grammar.LIBSPF2:
            # libspf2's expander with its compiler: its truncation off-by-one (7.3)
            return _libspf2.expand(macro, self)
        return expand(macro, self)

    def macro_value(self, letter: str) -> str:
        if letter == "s":
            return self.sender
        if letter == "l":
            return self.local
        if letter == "o":
            return self.sender_domain
        if letter == "d":
            return self.current_domain
        if letter == "i":
            if self.ipv4:
                return str(self.ip)
            return ".".join(f"{int(self.ip):032X}")  # RFC 7208 7.3 example: upper case
        if letter == "p":
            if self.profile.p_macro_is_sender_domain:
                return self.sender_domain
            return self._validated_domain()
        if letter == "v":
            return "in-addr" if self.ipv4 else "ip6"
        if letter == "h":
            return self.helo
        if letter == "c":
            return str(self.ip)
        if letter == "r":
            return self.receiver
        if letter == "t":
            return str(int(time.time()))
        raise ValueError(f"unknown macro letter {letter!r}")

    def _validated_domain(self) -> str:
        if self._validated_name is None:
            names = self.validated_names(0, count_void=False)
            preferred = [n for n in names if _is_same_or_subdomain(n, self.current_domain)]
            self._validated_name = (preferred or names or ["unknown"])[0]
        return self._validated_name

    # -- explanation ----------------------------------------------------------------------

    def _explain(self, compiled: CompiledRecord, depth: int) -> str | None:
        exp = compiled.record.explanation
        if exp is not None:
            text = self._fetch_explanation(self.expand_domain(exp.domain), depth)
            if text is not None:
                return text
        if self.default_explanation is None:
            return self._expand_explanation(DEFAULT_EXPLANATION)
        return self._expand_explanation(self.default_explanation) or self.default_explanation

    def _fetch_explanation(self, name: str, depth: int) -> str | None:
        try:
            answer = self.query(name, RRType.TXT, depth)
        except DNSTemporaryError:
            return None
        texts = answer.texts()
        if len(texts) != 1:
            self.note(depth, StepKind.NOTE, f"exp={name}: not exactly one TXT record, ignored")
            return None
        try:
            return self._expand_explanation(texts[0].data.decode("ascii"))
        except UnicodeDecodeError:
            return None

    def _expand_explanation(self, text: str) -> str | None:
        try:
            return self._expand(_parse_explanation(text))
        except SPFSyntaxError:
            return None


@lru_cache(maxsize=1024)
def _parse_explanation(text: str) -> MacroString:
    """Explanation strings parsed once per process (the default one is used on every fail)."""
    return parse_macro_string(text, explanation=True)


def forget_records() -> None:
    """Empty this process's caches of parsed, compiled and selected SPF records.

    They serve evaluating one record many times (a receiver; the proofs within a pass) and
    keep up to 8,192 records each. A long-running process that keeps meeting new record
    texts (the daemon, as upstream rotates) calls this between passes so its memory stays
    flat; the next evaluation compiles again what it reads.
    """
    parse_record.cache_clear()
    compile_record.cache_clear()
    _compiled_record.cache_clear()
    _selected_text.cache_clear()
    forget_profile_compilers()
    _chain.forget_chains()


@lru_cache(maxsize=8192)
def _selected_text(records: tuple[RData, ...]) -> tuple[str | None, Cause | None, int]:
    """The SPF record among a TXT answer's records as a receiver's C string reads it, or
    None with the cause and the number of SPF records; cached on the records."""
    selection = select_record(records)
    if selection.record is None:
        return None, selection.cause, len(selection.records)
    return record_text(selection.record.data), None, 1


@lru_cache(maxsize=8192)
def _compiled_record(records: tuple[RData, ...]) -> CompiledRecord | tuple[Cause, str]:
    """The compiled SPF record among a TXT answer's records, or why there is none usable
    (a cause and a message with a ``{domain}`` placeholder).

    Cached on the answer's records: a record seen again costs one dictionary lookup.
    """
    selection = select_record(records)
    record = selection.record
    if record is None:
        if selection.cause is Cause.NO_RECORD:
            return Cause.NO_RECORD, "{domain} has no SPF record"
        count = len(selection.records)
        return Cause.MULTIPLE_RECORDS, f"{{domain}} has {count} SPF records (RFC 7208 4.5)"
    try:
        return compile_record(record.data.decode("ascii"))
    except UnicodeDecodeError:
        return Cause.SYNTAX_ERROR, "the SPF record of {domain} is not ASCII"
    except SPFSyntaxError as exc:
        detail = str(exc).replace("{", "{{").replace("}", "}}")
        return Cause.SYNTAX_ERROR, "syntax error in the SPF record of {domain}: " + detail


def _dropped(written: CompiledRecord, run: CompiledRecord, profile: Profile) -> str:
    kept = {id(term) for term in run.record.terms}
    dropped = [t.render() for t in written.record.terms if id(t) not in kept]
    return (
        f"{profile.name} drops {len(dropped)} terms past its {profile.max_mechanism_bytes} "
        f"bytes of mechanisms: {' '.join(dropped)}"
    )


def _same_network(ip: IPAddress, address: IPAddress, prefix: int) -> bool:
    if ip.version != address.version:
        return False
    shift = ip.max_prefixlen - prefix
    return int(ip) >> shift == int(address) >> shift


def _is_same_or_subdomain(name: str, domain: str) -> bool:
    name, domain = normalize_name(name), normalize_name(domain)
    return name == domain or name.endswith("." + domain)


def _describe_answer(answer: Answer) -> str:
    head = f"{answer.name} {answer.rrtype.value}"
    if answer.nxdomain:
        return f"{head}: NXDOMAIN"
    if not answer.records:
        return f"{head}: no records"
    shown = [_show(r) for r in answer.records[:4]]
    more = f" (+{len(answer.records) - 4} more)" if len(answer.records) > 4 else ""
    return f"{head}: {', '.join(shown)}{more}"


def _show(record: object) -> str:
    data = getattr(record, "data", None)
    if isinstance(data, bytes):
        return repr(data.decode("latin-1"))
    exchange = getattr(record, "exchange", None)
    if exchange is not None:
        return f"{getattr(record, 'preference', '')} {exchange}"
    return str(record)


# Last: spf/chain.py subclasses SPFResult and uses evaluate() as its reference path.
from spfmanager.spf import chain as _chain  # noqa: E402
