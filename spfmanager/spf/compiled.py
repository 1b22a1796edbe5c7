"""A parsed record compiled for fast evaluation: runs of ip4/ip6 terms become range maps.

Consecutive ``ip4``/``ip6`` mechanisms need no DNS, so a run of them is answered with one
binary search instead of a term-by-term scan; other mechanisms stay single steps. The first
matching term still wins, so results are exactly those of a term-by-term evaluation.

:func:`profile_compiler` gives the record as a receiver that compiles otherwise runs it
(libspf2's 511-byte mechanism buffer, in-place redirect=, /0 prefixes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TypeGuard

from spfmanager.spf.parser import parse_record
from spfmanager.spf.profiles import Profile
from spfmanager.spf.profiles.libspf2 import (
    SPF_MECH_HEADER,
    CompiledTerm,
    domain_spec_error,
    mechanism_bytes,
)
from spfmanager.spf.ranges import FirstMatchMap
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
    if (
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


def _is_compiled_term(term: Term) -> TypeGuard[CompiledTerm]:
    return isinstance(term, A | MX | Ptr | Include | Exists | All | IP4 | IP6 | Redirect)


def _zero_prefix(term: CompiledTerm) -> bool:
    if isinstance(term, IP4 | IP6):
        return term.prefix == 0
    if isinstance(term, A | MX):
        return term.cidr4 == 0 or term.cidr6 == 0
    return False
