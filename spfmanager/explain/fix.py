"""Diagnose why SPF does not pass for a connection and propose a record change proven to fix it.

A proposal is an edit of the sender domain's parsed record (never string surgery), and it
is only offered after :func:`~spfmanager.spf.evaluate.evaluate` gives ``pass`` for the same
connection against the current DNS with just that name's TXT record replaced (an overlay).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from typing import Any

from spfmanager.catalog import Catalog, load_catalog
from spfmanager.dns.base import Resolver, RRType, normalize_name
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.dns.txt import MAX_TXT_STRING
from spfmanager.errors import DNSTemporaryError, SPFManagerError, SPFSyntaxError
from spfmanager.explain.message import Connection
from spfmanager.spf.evaluate import SPFResult, evaluate
from spfmanager.spf.limits import MAX_DNS_LOOKUPS
from spfmanager.spf.parser import parse_record
from spfmanager.spf.results import Cause, Qualifier, Result
from spfmanager.spf.select import select_record
from spfmanager.spf.terms import IP4, IP6, MECHANISM_TYPES, All, Include, Record, Term

log = logging.getLogger(__name__)

IPV4_SIBLING_PREFIX = 24  # a /24 is suggested only if the record already lists an address in it


_ADVICE: dict[Cause, str] = {
    Cause.NOT_AUTHORISED: "authorise the sending IP in the record",
    Cause.NO_RECORD: "publish an SPF record for the domain",
    Cause.TOO_MANY_LOOKUPS: (
        f"the record needs more than {MAX_DNS_LOOKUPS} DNS lookups (RFC 7208 4.6.4): remove "
        "unused includes or flatten the record (replace includes by their ip4/ip6 ranges)"
    ),
    Cause.TOO_MANY_VOID_LOOKUPS: (
        "more than 2 terms point at names that do not exist (RFC 7208 4.6.4): remove the "
        "a/mx/include terms whose targets have no records"
    ),
    Cause.MULTIPLE_RECORDS: (
        "the domain publishes more than one 'v=spf1' TXT record (RFC 7208 4.5): merge them "
        "into a single record and delete the others"
    ),
    Cause.INCLUDE_MISSING: (
        "an include: points at a name without an SPF record: remove it, or correct the "
        "name as the sending service documents it"
    ),
    Cause.REDIRECT_MISSING: "the redirect= target has no SPF record: correct or remove it",
    Cause.SYNTAX_ERROR: "the record does not follow the RFC 7208 grammar: correct the term shown",
    Cause.DNS_ERROR: (
        "a DNS query failed or timed out: this is usually transient; if it persists, check "
        "the authoritative servers of the name shown"
    ),
}
_OTHER_ADVICE = "the record is invalid: see the reason"  # a permerror without advice of its own


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The cause of a non-pass result, the name it involves, and what to do in general.

    ``cause`` is the evaluator's for a permerror; ``DNS_ERROR`` for any temperror,
    ``NO_RECORD`` for none, and ``NOT_AUTHORISED`` for fail, softfail and neutral.
    """

    cause: Cause
    advice: str
    target: str | None = None  # the missing include or redirect target

    @property
    def data(self) -> dict[str, Any]:
        return {"cause": self.cause.value, "advice": self.advice, "target": self.target}


@dataclass(frozen=True, slots=True)
class Fix:
    """A corrected record for ``domain``, verified to give ``pass`` for the connection."""

    domain: str
    current: str | None  # None when the domain has no SPF record yet
    proposed: str
    changes: tuple[str, ...]
    verified: SPFResult
    notes: tuple[str, ...] = ()

    @property
    def data(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "current": self.current,
            "proposed": self.proposed,
            "changes": list(self.changes),
            "verified_result": self.verified.result.value,
            "verified_lookups": self.verified.lookups,
            "notes": list(self.notes),
        }


def diagnose(result: SPFResult) -> Diagnosis | None:
    """Why ``result`` is not pass; None for pass."""
    if result.result is Result.PASS:
        return None
    if result.result is Result.TEMPERROR:
        return Diagnosis(Cause.DNS_ERROR, _ADVICE[Cause.DNS_ERROR])
    if result.result is Result.NONE:
        return Diagnosis(Cause.NO_RECORD, _ADVICE[Cause.NO_RECORD])
    if result.result is Result.PERMERROR:
        cause = result.cause
        target = (
            result.cause_target
            if cause in (Cause.INCLUDE_MISSING, Cause.REDIRECT_MISSING)
            else None
        )
        return Diagnosis(cause, _ADVICE.get(cause, _OTHER_ADVICE), target)
    return Diagnosis(Cause.NOT_AUTHORISED, _ADVICE[Cause.NOT_AUTHORISED])


def current_record(domain: str, resolver: Resolver) -> Record | None:
    """The single parseable SPF record of ``domain``; None when there is none or several."""
    try:
        found = select_record(resolver.query(domain, RRType.TXT).records).record
    except DNSTemporaryError:
        return None
    if found is None:
        return None
    try:
        return parse_record(found.data.decode("ascii"))
    except (UnicodeDecodeError, SPFSyntaxError):
        return None


def suggest_fix(
    result: SPFResult,
    diagnosis: Diagnosis,
    connection: Connection,
    resolver: Resolver,
    *,
    catalog: Catalog | None = None,
) -> Fix | None:
    """The smallest verified record change that makes ``connection`` pass, or None.

    Broken includes written in the record itself are removed first (each removal checked);
    then a known service's include (of ``catalog``, by default the bundled one), else the
    single address, goes before ``all``.
    """
    domain = result.domain
    record = current_record(domain, resolver)
    if record is None and diagnosis.cause is not Cause.NO_RECORD:
        return None
    base = record or Record((All(Qualifier.SOFTFAIL),))
    changes: list[str] = []
    if record is None:
        changes.append("publish a new record ending in '~all' (soft-fail other senders at first)")
    while diagnosis.cause is Cause.INCLUDE_MISSING and diagnosis.target is not None:
        without = _without_include(base, diagnosis.target)
        if without is None:
            return None  # the broken include is inside a record the domain does not own
        base = without
        changes.append(f"remove 'include:{diagnosis.target}' (it has no SPF record)")
        check = _evaluate(base, domain, connection, resolver)
        if check.result is Result.PASS:
            return _fix(domain, record, base, changes, check, [])
        diagnosis = diagnose(check) or diagnosis
    if diagnosis.cause not in (Cause.NOT_AUTHORISED, Cause.NO_RECORD):
        return None
    for term, why, notes in _candidate_terms(result, base, connection, resolver, catalog):
        candidate = _insert_before_all(base, term)
        check = _evaluate(candidate, domain, connection, resolver)
        if check.result is not Result.PASS:
            log.debug("candidate %s gives %s", term.render(), check.result)
            continue
        return _fix(domain, record, candidate, [*changes, why], check, notes)
    return None


# -- helpers ---------------------------------------------------------------------------------


def _fix(
    domain: str,
    record: Record | None,
    proposed: Record,
    changes: list[str],
    verified: SPFResult,
    notes: list[str],
) -> Fix:
    text = proposed.render()
    if len(text) > MAX_TXT_STRING:
        notes.append(
            f"the record is {len(text)} characters: publish it as several strings of at most "
            f"{MAX_TXT_STRING} in one TXT record"
        )
    return Fix(
        domain=domain,
        current=None if record is None else record.render(),
        proposed=text,
        changes=tuple(changes),
        verified=verified,
        notes=tuple(notes),
    )


def _candidate_terms(
    result: SPFResult,
    record: Record,
    connection: Connection,
    resolver: Resolver,
    catalog: Catalog | None,
) -> list[tuple[Term, str, list[str]]]:
    """Terms to try, best first: a known service's include, then the single address."""
    candidates: list[tuple[Term, str, list[str]]] = []
    included = {normalize_name(t.domain.render()) for t in record.terms if isinstance(t, Include)}
    for name, include in _catalog_includes(catalog):
        if normalize_name(include.domain.render()) in included:
            continue
        if _service_covers(include, result.ip, connection.helo, resolver):
            why = f"add '{include.render()}': {result.ip} is one of {name}'s sending addresses"
            candidates.append((include, why, []))
            break
    address: IP4 | IP6
    notes: list[str] = []
    if isinstance(result.ip, IPv4Address):
        address = IP4(Qualifier.PASS, result.ip)
        sibling = _listed_sibling(record, result.ip)
        if sibling is not None:
            block = IPv4Network((result.ip, IPV4_SIBLING_PREFIX), strict=False)
            notes.append(
                f"the record already authorises {sibling} in the same /{IPV4_SIBLING_PREFIX}; "
                f"if the whole block is yours, 'ip4:{block}' covers both"
            )
    else:
        assert isinstance(result.ip, IPv6Address)
        address = IP6(Qualifier.PASS, result.ip)
    why = f"add '{address.render()}' (the address that sent this message)"
    candidates.append((address, why, notes))
    return candidates


def _catalog_includes(catalog: Catalog | None) -> list[tuple[str, Include]]:
    """The include terms of the catalog's services (default: the bundled catalog's) that
    need no parameters."""
    if catalog is None:
        try:
            catalog = load_catalog()
        except (SPFManagerError, OSError) as exc:
            log.warning("service catalog unavailable, not matching known services: %s", exc)
            return []
    found: list[tuple[str, Include]] = []
    for service in catalog:
        try:
            terms = service.terms()
        except SPFManagerError:
            continue  # needs parameters (an account id, a region) we cannot guess
        found.extend((service.name, t) for t in terms if isinstance(t, Include))
    return found


def _service_covers(
    include: Include, ip: IPv4Address | IPv6Address, helo: str, resolver: Resolver
) -> bool:
    target = include.domain.render()
    try:
        check = evaluate(ip, f"postmaster@{target}", helo or target, resolver=resolver)
    except DNSTemporaryError:
        return False
    return check.result is Result.PASS


def _listed_sibling(record: Record, ip: IPv4Address) -> IPv4Address | None:
    block = IPv4Network((ip, IPV4_SIBLING_PREFIX), strict=False)
    for term in record.terms:
        if isinstance(term, IP4) and term.network.subnet_of(block):
            return term.address
    return None


def _insert_before_all(record: Record, term: Term) -> Record:
    """``term`` before the ``all`` term, or after the last mechanism when there is none."""
    terms = list(record.terms)
    index = next((i for i, t in enumerate(terms) if isinstance(t, All)), None)
    if index is None:
        mechanisms = [i for i, t in enumerate(terms) if isinstance(t, MECHANISM_TYPES)]
        index = mechanisms[-1] + 1 if mechanisms else 0
    terms.insert(index, term)
    return replace(record, terms=tuple(terms), source="")


def _without_include(record: Record, target: str) -> Record | None:
    wanted = normalize_name(target)
    kept = tuple(
        t
        for t in record.terms
        if not (isinstance(t, Include) and normalize_name(t.domain.render()) == wanted)
    )
    if len(kept) == len(record.terms):
        return None
    return replace(record, terms=kept, source="")


def _evaluate(record: Record, domain: str, connection: Connection, resolver: Resolver) -> SPFResult:
    """Evaluate the connection as if ``record`` were published for ``domain``."""
    text = record.render()
    parse_record(text)  # the rendered text must itself be a valid record
    overlay = OverlayResolver(resolver, {domain: [_split_strings(text)]})
    return evaluate(connection.ip, connection.mailfrom, connection.helo, resolver=overlay)


def _split_strings(text: str) -> list[str]:
    """One TXT record's character-strings (RFC 7208 3.3: joined without separator)."""
    return [text[i : i + MAX_TXT_STRING] for i in range(0, len(text), MAX_TXT_STRING)]
