"""A parsed record compiled for fast evaluation: runs of ip4/ip6 terms become range maps.

Consecutive ``ip4``/``ip6`` mechanisms need no DNS, so a run of them is answered with one
binary search instead of a term-by-term scan; other mechanisms stay single steps. The first
matching term still wins, so results are exactly those of a term-by-term evaluation.

:func:`profile_compiler` gives the record as a receiver that compiles otherwise runs it
(libspf2's 511-byte mechanism buffer, in-place redirect=, /0 prefixes); a profile whose
``grammar`` is not RFC 7208's reads the record's own text with that grammar (libspf2:
:mod:`spfmanager.spf.profiles.libspf2_grammar`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from ipaddress import IPv4Address, IPv6Address
from typing import TypeGuard

from spfmanager.dns.base import Answer
from spfmanager.errors import SPFSyntaxError
from spfmanager.spf.macros import EXP_ONLY_LETTERS, MacroExpand, MacroString
from spfmanager.spf.parser import parse_record, parse_term
from spfmanager.spf.profiles import Grammar, NameChecks, Profile, mailauth_names
from spfmanager.spf.profiles.libspf2 import (
    SPF_MECH_HEADER,
    CompiledTerm,
    domain_spec_error,
    mechanism_bytes,
)
from spfmanager.spf.profiles.libspf2_grammar import dns_can_carry, read_record, record_text
from spfmanager.spf.ranges import FirstMatchMap
from spfmanager.spf.results import Qualifier
from spfmanager.spf.select import select_record
from spfmanager.spf.terms import (
    IP4,
    IP6,
    MX,
    A,
    All,
    Exists,
    Include,
    Mechanism,
    Ptr,
    Record,
    Redirect,
    Term,
)


@dataclass(frozen=True, slots=True)
class AddressRun:
    """Consecutive ip4/ip6 mechanisms; the maps give the index of the first that matches."""

    mechanisms: tuple[IP4 | IP6, ...]
    ipv4: FirstMatchMap[int]
    ipv6: FirstMatchMap[int]


Step = AddressRun | Mechanism


@dataclass(frozen=True, slots=True)
class CompiledRecord:
    record: Record
    steps: tuple[Step, ...]
    texts: dict[int, str]  # id(mechanism) -> its rendered text, rendered once
    # A receiver that runs redirect= in its written place (libspf2): it comes before
    # steps[redirect_at] (== len(steps): after them all). None: RFC 7208 6.1, after them.
    redirect_at: int | None = None
    # Terms the receiver skipped without an error (libspf2's full buffers), as written.
    dropped: tuple[str, ...] = ()


@lru_cache(maxsize=8192)
def compile_record(text: str) -> CompiledRecord:
    """Parse and compile record text (cached: a record is compiled once per process)."""
    record = parse_record(text)
    steps, _ = compile_steps(record.mechanisms)
    texts = {id(m): m.render() for m in record.mechanisms}
    return CompiledRecord(record, steps, texts)


def compile_steps(terms: Sequence[Mechanism | Redirect]) -> tuple[tuple[Step, ...], int | None]:
    """The steps for ``terms`` in order, and the index of the step a redirect= precedes."""
    steps: list[Step] = []
    run: list[IP4 | IP6] = []
    redirect_at: int | None = None
    for term in terms:
        if isinstance(term, IP4 | IP6):
            run.append(term)
            continue
        if run:
            steps.append(_address_run(run))
            run = []
        if isinstance(term, Redirect):
            redirect_at = len(steps)
        else:
            steps.append(term)
    if run:
        steps.append(_address_run(run))
    return tuple(steps), redirect_at


def _address_run(run: list[IP4 | IP6]) -> Step:
    if len(run) == 1:
        return run[0]
    v4 = [(*m.span(), i) for i, m in enumerate(run) if isinstance(m, IP4)]
    v6 = [(*m.span(), i) for i, m in enumerate(run) if isinstance(m, IP6)]
    return AddressRun(tuple(run), FirstMatchMap(v4), FirstMatchMap(v6))


ProfileCompiler = Callable[[str], "CompiledRecord | str"]
_PROFILE_COMPILERS: dict[int, tuple[Profile, ProfileCompiler | None]] = {}


def profile_compiler(profile: Profile) -> ProfileCompiler | None:
    """How ``profile``'s receiver compiles record text, or None when as RFC 7208 does.

    The function (cached per record text) returns the record as that receiver runs it, or
    the message of the syntax error it finds where RFC 7208 finds none.
    """
    known = _PROFILE_COMPILERS.get(id(profile))
    if known is not None and known[0] is profile:
        return known[1]
    compiler: ProfileCompiler | None = None
    if profile.name_checks is NameChecks.MAILAUTH:  # mailauth reads terms its own way too
        compiler = lru_cache(maxsize=2048)(partial(_compile_mailauth, profile))
    elif profile.grammar is Grammar.LIBSPF2:  # libspf2's own grammar: _compile_libspf2
        compiler = lru_cache(maxsize=2048)(partial(_compile_libspf2, profile))
    elif (
        profile.max_mechanism_bytes is not None
        or profile.rejects_zero_prefix
        or profile.redirect_in_place
        or profile.ip6_zero_prefix_is_exact
    ):
        compiler = lru_cache(maxsize=2048)(partial(_compile_for, profile))
    _PROFILE_COMPILERS[id(profile)] = (profile, compiler)
    return compiler


def forget_profile_compilers() -> None:
    """Empty every profile compiler's per-text cache (see ``evaluate.forget_records``)."""
    for _, compiler in _PROFILE_COMPILERS.values():
        clear = getattr(compiler, "cache_clear", None)
        if clear is not None:
            clear()


def _compile_for(profile: Profile, text: str) -> CompiledRecord | str:
    record = compile_record(text).record  # RFC syntax errors raise SPFSyntaxError as usual
    budget = profile.max_mechanism_bytes
    used = 0
    kept: list[Term] = []
    order: list[Mechanism | Redirect] = []  # the mechanisms (and redirect=) in written order
    texts: dict[int, str] = {}
    for term in record.terms:
        if not _is_compiled_term(term):
            kept.append(term)  # exp= and unknown modifiers: a buffer of their own
            continue
        if budget is not None:
            if used + SPF_MECH_HEADER > budget:
                continue  # dropped silently, as is every mechanism after it
            error = domain_spec_error(term)
            if error is not None:
                return f"'{term.render()}': {error}"
            used += mechanism_bytes(term)
        if profile.rejects_zero_prefix and _zero_prefix(term):
            return f"'{term.render()}': a /0 prefix ({profile.name} rejects it)"
        kept.append(term)
        if isinstance(term, Redirect):
            if profile.redirect_in_place:
                order.append(term)
            continue
        run: Mechanism = term
        if profile.ip6_zero_prefix_is_exact and isinstance(term, IP6) and term.prefix == 0:
            run = IP6(term.qualifier, term.address)  # matches the one address
        texts[id(run)] = term.render()
        order.append(run)
    steps, redirect_at = compile_steps(order)
    return CompiledRecord(Record(tuple(kept), record.source), steps, texts, redirect_at)


def _compile_libspf2(profile: Profile, text: str) -> CompiledRecord | str:
    """``text`` (the record's octets, one character each) read with libspf2's grammar."""
    try:
        reading = read_record(
            text,
            mechanism_budget=profile.max_mechanism_bytes,
            rejects_zero_prefix=profile.rejects_zero_prefix,
        )
    except SPFSyntaxError as exc:
        return str(exc)
    order: list[Mechanism | Redirect] = []
    texts: dict[int, str] = {}
    for term in reading.terms:
        if isinstance(term, Redirect):
            if profile.redirect_in_place:
                order.append(term)
                break  # evaluation ends at the first redirect: what follows is never run
            continue
        if _is_compiled_term(term):
            texts[id(term)] = term.render()
            order.append(term)
    steps, redirect_at = compile_steps(order)
    record = Record(reading.terms, text)
    return CompiledRecord(record, steps, texts, redirect_at, reading.dropped)


def libspf2_reads_as_rfc7208(domain: str, answers: Iterable[tuple[str, Answer]]) -> bool:
    """Whether libspf2 reads the SPF records among ``answers`` as RFC 7208 12 does (its
    buffers aside), and queries ``domain`` and their literal include/redirect= targets as
    RFC 7208 4.3 does: where not, what is built from the RFC reading is not libspf2's."""
    names = [domain]
    for _, answer in answers:
        selected = None if answer.nxdomain else select_record(answer.records).record
        if selected is None:
            continue
        try:
            written = parse_record(selected.data.decode("ascii"))
            reading = read_record(record_text(selected.data), mechanism_budget=None)
        except (UnicodeDecodeError, SPFSyntaxError):
            return False
        if reading.terms != written.terms:
            return False
        names += [
            term.domain.literal_text
            for term in reading.terms
            if isinstance(term, Include | Redirect) and term.domain.is_literal
        ]
    return all(_queried_alike(name) for name in names)


def _queried_alike(name: str) -> bool:
    """A name RFC 7208 4.3 accepts (two labels or more, none empty or over 63) and the C
    resolver can carry (255 octets at most): libspf2 and the RFC both query it."""
    labels = (name[:-1] if name.endswith(".") else name).split(".")
    return len(labels) > 1 and all(0 < len(label) <= 63 for label in labels) and dns_can_carry(name)


def _is_compiled_term(term: Term) -> TypeGuard[CompiledTerm]:
    return isinstance(term, A | MX | Ptr | Include | Exists | All | IP4 | IP6 | Redirect)


def _zero_prefix(term: CompiledTerm) -> bool:
    if isinstance(term, IP4 | IP6):
        return term.prefix == 0
    if isinstance(term, A | MX):
        return term.cidr4 == 0 or term.cidr6 == 0
    return False


# -- mailauth's reading (lib/spf/spf-verify.js) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class LenientRecord(CompiledRecord):
    """A record read by a receiver that checks each term only when it is reached: its
    steps stop before the first term it cannot read, and reaching that term (no step
    matched) is a permerror with ``unreached_error``."""

    unreached_error: str = ""


_QUALIFIER_OF = {q.value: q for q in Qualifier}
_MA_MECHANISMS = frozenset({"all", "include", "a", "mx", "ip4", "ip6", "exists", "ptr"})
_MA_MODIFIER = re.compile(r"[^:/]+=")  # spf-verify.js: /^[^:/]+=/
_MA_MACRO = re.compile(r"%%|%_|%-|%\{([^}]+)\}|%")  # macro.js
_MA_CIDR = re.compile(r"(.*?)(/[0-9]+)?(//[0-9]+)?", re.DOTALL)  # parseCidrValue()
_MA_EMBEDDED = re.compile(r"[:A-F]+:((?:[0-9]+\.){3}[0-9]+)", re.IGNORECASE)  # the IPv4 part


def _compile_mailauth(profile: Profile, text: str) -> CompiledRecord | str:
    """``text`` as mailauth 4.13 runs it, or the error it finds when reading it.

    When read, it checks only that each term is a known mechanism or a modifier whose name
    starts with a letter and whose value expands (at most one redirect=, whose target is a
    domain name); values are checked when the term is reached (``LenientRecord``). ip4 and
    ip6 values are read its way: an address with an IPv4 tail (``::ffff:a.b.c.d``) is taken
    as that IPv4 address, so an ip6 term of it with a prefix is an error ("invalid CIDR for
    IP"), without one matches nothing, and with /0 matches every IPv6 client; ip6:X/0 is X.
    """
    del profile  # one reading: mailauth's
    if any(not " " <= char <= "~" for char in text):
        return "DNS response includes invalid characters"
    parts = text.split()[1:]
    redirects = 0
    for part in parts:
        if _MA_MODIFIER.match(part):
            name, _, value = part.partition("=")
            if not name[0].isascii() or not name[0].isalpha():
                return f"invalid modifier {part}"
            error = _ma_macro_error(value)
            if error is not None:
                return error
            value = value.removesuffix(".")
            if not value:
                return f"Empty modifier value for {name.lower()}"
            if name.lower() == "redirect":
                redirects += 1
                if "%" not in value and not mailauth_names.is_redirect_target(value):
                    return f"Invalid redirect target {value}"
            continue
        mechanism = re.split(r"[:/=]", part, maxsplit=1)[0].lower()
        if mechanism.startswith(("?", "-", "~", "+")):
            mechanism = mechanism[1:]
        if mechanism not in _MA_MECHANISMS:
            return f"Unknown mechanism {mechanism}"
    if redirects > 1:
        return "more than 1 redirect found"
    terms: list[Term] = []
    order: list[Mechanism | Redirect] = []
    texts: dict[int, str] = {}
    unreached: str | None = None
    for part in parts:
        if _MA_MODIFIER.match(part):
            try:
                modifier = parse_term(part)
            except SPFSyntaxError as exc:
                if part.partition("=")[0].lower() == "redirect":
                    return f"'{part}': {exc}"
                continue  # exp= and unknown modifiers: mailauth reads nothing more of them
            terms.append(modifier)
            continue
        if unreached is not None:
            continue  # never reached: the term before it ends the record
        run = _ma_mechanism(part)
        if isinstance(run, str):
            unreached = f"'{part}': {run}"
            continue
        if run is None:
            continue
        terms.append(run)
        texts[id(run)] = part
        order.append(run)
    steps, _ = compile_steps(order)
    record = Record(tuple(terms), text)
    if unreached is None:
        return CompiledRecord(record, steps, texts)
    return LenientRecord(record, steps, texts, unreached_error=unreached)


def _ma_macro_error(value: str) -> str | None:
    """macro.js: a lone ``%`` or an unknown macro letter."""
    for found in _MA_MACRO.finditer(value):
        if found.group() == "%":
            return "Unexpected % in macro"
        letters = found.group(1)
        if letters is not None and letters[0].lower() not in "slodpivhcrt":
            return f'Unknown macro letter "{letters[0]}"'
    return None


def _ma_mechanism(part: str) -> Mechanism | str | None:
    """One mechanism as mailauth runs it: the term, an error met when it is reached, or
    None for an ip term that matches no client."""
    if part.find(":") == len(part) - 1:  # its first colon ends it
        return "unexpected empty value"
    qualifier = _QUALIFIER_OF.get(part[0])
    body = part[1:] if qualifier is not None else part
    colon, slash = body.find(":"), body.find("/")
    if colon >= 0:
        kind, value = body[:colon].lower(), body[colon + 1 :]
    elif slash >= 0:
        kind, value = body[:slash].lower(), body[slash:]
    else:
        kind, value = body.lower(), ""
    if kind in ("ip4", "ip6"):
        return _ma_ip(qualifier or Qualifier.PASS, kind, value)
    if kind == "all" and value:
        return "unexpected extension for all"
    try:
        term = parse_term(part)
    except SPFSyntaxError as exc:
        lenient = _ma_with_exp_letters(part)  # macro.js expands c, r and t anywhere
        if lenient is None:
            return str(exc)
        term = lenient
    if not isinstance(term, All | Include | A | MX | Ptr | Exists):  # pragma: no cover
        return f"not a mechanism: {part}"
    return term


def _ma_with_exp_letters(part: str) -> Include | A | MX | Ptr | Exists | None:
    """``part`` parsed with the macro letters c, r and t allowed outside exp=, as macro.js
    expands every letter anywhere; None if it still does not parse."""
    letters: list[str] = []

    def stand_in(found: re.Match[str]) -> str:
        body = found.group(1)
        if body is None:
            return found.group()
        letters.append(body[0])
        if body[0].lower() in EXP_ONLY_LETTERS:
            return "%{" + ("D" if body[0].isupper() else "d") + body[1:] + "}"
        return found.group()

    text = _MA_MACRO.sub(stand_in, part)
    if text == part:
        return None
    try:
        term = parse_term(text)
    except SPFSyntaxError:
        return None
    if not isinstance(term, Include | A | MX | Ptr | Exists) or term.domain is None:
        return None
    domain = term.domain
    if sum(isinstance(piece, MacroExpand) for piece in domain.parts) != len(letters):
        return None
    expands = iter(letters)
    parts = tuple(
        replace(piece, letter=next(expands).lower()) if isinstance(piece, MacroExpand) else piece
        for piece in domain.parts
    )
    return replace(term, domain=MacroString(parts))


def _ma_ip(qualifier: Qualifier, kind: str, value: str) -> IP4 | IP6 | str | None:
    """spf-verify.js ``case 'ip4': case 'ip6':`` with parseCidrValue()."""
    found = _MA_CIDR.fullmatch(value)
    if found is None:  # pragma: no cover - the pattern matches any text
        return f"invalid address definition: {value}"
    text, slash4, slash6 = found.groups()
    if (slash4 and re.match(r"/0+[1-9]", slash4)) or (slash6 and re.match(r"//0+[1-9]", slash6)):
        return f"invalid address definition: {value}"
    cidr4 = int(slash4[1:]) if slash4 else None
    cidr6 = int(slash6[2:]) if slash6 else None
    if kind == "ip6" and cidr4 and cidr6 is None:  # a zero stays cidr4: JS's falsy 0
        cidr4, cidr6 = None, cidr4
    written = text.strip().lower()
    if (cidr4 is not None and cidr4 > 32 and not _is_ip(written, 6)) or (
        cidr6 is not None and cidr6 > 128
    ):
        return f"invalid cidr definition: {value}"
    if not written:
        return "bare IP address"
    embedded = _MA_EMBEDDED.fullmatch(written)
    address = embedded.group(1) if embedded else written
    if _is_ip(address, 4):
        if kind == "ip6" and _is_ip(written, 6) and cidr4 == 0:
            return IP6(qualifier, IPv6Address(0), 0)  # "map all IPv6 addresses": ::/0
        if cidr6 is not None:
            return "invalid CIDR for IP"
        if kind == "ip6":
            return None  # an IPv4 address for an ip6 term: matches no client
        return IP4(qualifier, IPv4Address(address), cidr4)
    if _is_ip(address, 6):
        if kind == "ip4":
            return None
        return IP6(qualifier, IPv6Address(address), cidr6)
    return "invalid IP address"


def _is_ip(text: str, version: int) -> bool:
    """node's net.isIPv4 / net.isIPv6 (strict dotted quads; no zone index here)."""
    try:
        address = IPv4Address(text) if version == 4 else IPv6Address(text)
    except ValueError:
        return False
    return address.version == version and "%" not in text
