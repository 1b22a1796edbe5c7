"""The receiver's check_host() of RFC 7208 sections 4 to 7, with a trace of every step."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from spfmanager.dns.base import Answer, RData, Resolver, RRType, normalize_name
from spfmanager.errors import DNSTemporaryError, SPFSyntaxError
from spfmanager.spf.compiled import AddressRun, CompiledRecord, compile_record
from spfmanager.spf.limits import (
    MAX_DNS_LOOKUPS,
    MAX_DOMAIN_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_MX_NAMES,
    MAX_PTR_NAMES,
    MAX_VOID_LOOKUPS,
)
from spfmanager.spf.macros import MacroString, expand, parse_macro_string
from spfmanager.spf.parser import parse_record
from spfmanager.spf.profiles import RFC7208, Profile
from spfmanager.spf.results import Cause, Result
from spfmanager.spf.select import select_record
from spfmanager.spf.terms import IP4, IP6, MX, A, All, Exists, Include, Mechanism, Ptr
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
    max_lookups: int = MAX_DNS_LOOKUPS,
    max_void_lookups: int = MAX_VOID_LOOKUPS,
    profile: Profile = RFC7208,
) -> SPFResult:
    """Evaluate SPF for a connection from ``ip`` with MAIL FROM ``mailfrom`` and HELO ``helo``.

    An empty ``mailfrom`` checks ``postmaster@helo`` (RFC 7208 2.4). ``default_explanation``
    is a macro-string used for ``fail`` when the record has no usable ``exp=``. ``profile``
    is the receiver implementation whose reading to reproduce (:mod:`spfmanager.spf.profiles`).
    """
    address = ip if isinstance(ip, IPv4Address | IPv6Address) else parse_ip(ip)
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # RFC 7208 5: IPv4-mapped addresses are IPv4
    sender = mailfrom or f"postmaster@{helo}"
    local, at, domain = sender.rpartition("@")
    if not at:
        local, domain = "", sender
    if not local:
        local = "postmaster"
        sender = f"postmaster@{domain}"
    check = _Check(address, sender, local, domain, helo, resolver, receiver)
    check.profile = profile
    check.max_lookups = max_lookups
    check.max_void = max_void_lookups
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
        self.default_explanation: str | None = None
        self.lookups = 0
        self.void = 0
        self.trace: list[RawStep] = []
        self.current_domain = sender_domain
        self._validated_name: str | None = None

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
        try:
            return self.query(name, rrtype, depth)
        except DNSTemporaryError as exc:
            raise _Abort(
                Result.TEMPERROR, f"DNS error for {name} {rrtype.value}: {exc}", Cause.DNS_ERROR
            ) from None

    # -- check_host -----------------------------------------------------------------------

    def check_host(self, domain: str, depth: int, *, want_explanation: bool) -> _Level:
        self.note(depth, StepKind.CHECK, lambda: f"check_host({self.ip}, {domain}, {self.sender})")
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
        if not is_valid_domain(domain):
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
        selected = _compiled_record(answer.records)
        if isinstance(selected, tuple):
            cause, message = selected
            result = Result.NONE if cause is Cause.NO_RECORD else Result.PERMERROR
            return _Level(result, message.format(domain=domain), cause)
        self.note(depth, StepKind.RECORD, selected.record.source)
        return selected

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

    def _redirect_or_neutral(
        self, compiled: CompiledRecord, depth: int, want_explanation: bool
    ) -> _Level:
        redirect = compiled.record.redirect
        if redirect is None:
            return _Level(
                Result.NEUTRAL,
                "no term matched and there is no redirect (RFC 7208 4.7)",
                Cause.NO_MATCH,
            )
        self.count_lookup(depth, redirect.render())
        target = self.expand_domain(redirect.domain)
        self.note(depth, StepKind.NOTE, f"redirect to {target}")
        level = self.check_host(target, depth + 1, want_explanation=want_explanation)
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
        if isinstance(mechanism, IP4):
            return self.ipv4 and self.ip in mechanism.network
        if isinstance(mechanism, IP6):
            return not self.ipv4 and self.ip in mechanism.network
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
        level = self.check_host(target, depth + 1, want_explanation=False)
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
        rrtype = RRType.A if self.ipv4 else RRType.AAAA
        answer = self.query_or_abort(name, rrtype, depth)
        if count_void:
            self.count_void(depth, answer)
        prefix = (
            (32 if cidr4 is None else cidr4) if self.ipv4 else (128 if cidr6 is None else cidr6)
        )
        return any(_same_network(self.ip, address, prefix) for address in answer.addresses())

    def _mx(self, mechanism: MX, depth: int) -> bool:
        target = self.target(mechanism.domain)
        answer = self.query_or_abort(target, RRType.MX, depth)
        self.count_void(depth, answer)
        exchanges = answer.exchanges()
        if len(exchanges) > MAX_MX_NAMES:
            raise _Abort(
                Result.PERMERROR,
                f"{target} has {len(exchanges)} MX records, over {MAX_MX_NAMES} (RFC 7208 4.6.4)",
                Cause.TOO_MANY_MX,
            )
        for exchange in sorted(exchanges, key=lambda mx: mx.preference):
            if exchange.exchange in ("", "."):
                continue
            if self._address_match(
                exchange.exchange, mechanism.cidr4, mechanism.cidr6, depth, False
            ):
                return True
        return False

    def _ptr(self, target: str, depth: int) -> bool:
        for name in self.validated_names(depth, count_void=True):
            if _is_same_or_subdomain(name, target):
                return True
        return False

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
        if domain.is_literal:
            return truncate_domain(domain.literal_text)
        return truncate_domain(expand(domain, self))

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
            return expand(_parse_explanation(text), self)
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
