"""Parse SPF record text into a :class:`~spfmanager.spf.terms.Record` (RFC 7208 section 12)."""

from __future__ import annotations

import re
from functools import lru_cache
from ipaddress import AddressValueError, IPv4Address, IPv6Address

from spfmanager.errors import SPFSyntaxError
from spfmanager.spf.macros import MacroExpand, MacroString, parse_macro_string
from spfmanager.spf.results import Qualifier
from spfmanager.spf.terms import (
    IP4,
    IP6,
    MX,
    VERSION,
    A,
    All,
    Exists,
    Explanation,
    Include,
    Ptr,
    Record,
    Redirect,
    Term,
    UnknownModifier,
)

_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)", re.DOTALL)
_MECHANISM_NAME = re.compile(r"[A-Za-z0-9]*")
_CIDR4 = r"(?:0|[1-9][0-9]?)"
_CIDR6 = r"(?:0|[1-9][0-9]{0,2})"
_DUAL_CIDR = re.compile(rf"(?:/({_CIDR4}))?(?://({_CIDR6}))?$")
_TOPLABEL = r"(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN_END = re.compile(rf"\.{_TOPLABEL}\.?$")
_QUALIFIERS = {q.value: q for q in Qualifier}


def is_spf_record(text: str) -> bool:
    """True when ``text`` is an SPF version 1 record (RFC 7208 4.5)."""
    head = text[: len(VERSION) + 1].lower()
    return head == VERSION or head == VERSION + " "


@lru_cache(maxsize=8192)
def parse_record(text: str) -> Record:
    """Parse a whole ``v=spf1 ...`` record; raise SPFSyntaxError with the position."""
    if not is_spf_record(text):
        raise SPFSyntaxError("record must start with 'v=spf1'", text, 0)
    terms: list[Term] = []
    position = len(VERSION)
    for match in re.finditer(r"[^ ]+", text[position:]):
        terms.append(parse_term(match.group(), text, position + match.start()))
    _check_modifier_counts(terms, text)
    return Record(tuple(terms), text)


def _check_modifier_counts(terms: list[Term], text: str) -> None:
    for kind, name in ((Redirect, "redirect"), (Explanation, "exp")):
        if sum(isinstance(term, kind) for term in terms) > 1:
            at = text.lower().rfind(f" {name}=") + 1
            raise SPFSyntaxError(f"'{name}=' appears more than once", text, max(at, 0))


def parse_term(term: str, record: str = "", offset: int = 0) -> Term:
    """Parse one directive or modifier; ``record``/``offset`` locate errors."""
    record = record or term
    modifier = _MODIFIER.fullmatch(term)
    if modifier:
        return _parse_modifier(modifier.group(1), modifier.group(2), record, offset)
    qualifier = _QUALIFIERS.get(term[0], Qualifier.PASS)
    body_at = 1 if term[0] in _QUALIFIERS else 0
    body = term[body_at:]
    name_match = _MECHANISM_NAME.match(body)
    name = name_match.group().lower() if name_match else ""
    rest = body[len(name) :]
    at = offset + body_at + len(name)
    parser = _MECHANISMS.get(name)
    if parser is None:
        raise SPFSyntaxError(f"unknown mechanism {body[:20]!r}", record, offset)
    return parser(qualifier, rest, record, at)


def _parse_modifier(name: str, value: str, record: str, offset: int) -> Term:
    value_at = offset + len(name) + 1
    lowered = name.lower()
    if lowered == "redirect":
        return Redirect(_domain_spec(value, record, value_at))
    if lowered == "exp":
        return Explanation(_domain_spec(value, record, value_at))
    return UnknownModifier(name, parse_macro_string(value, record=record, offset=value_at))


def _domain_spec(text: str, record: str, offset: int) -> MacroString:
    if not text:
        raise SPFSyntaxError("missing domain", record, offset)
    macro = parse_macro_string(text, record=record, offset=offset)
    last = macro.parts[-1]
    if isinstance(last, MacroExpand):
        return macro
    if not _DOMAIN_END.search(last.source):
        raise SPFSyntaxError(
            "domain must end in a top-level label or a macro (e.g. example.com)",
            record,
            offset + len(text) - 1,
        )
    return macro


def _no_argument(name: str, rest: str, record: str, at: int) -> None:
    if rest:
        raise SPFSyntaxError(f"'{name}' takes no argument", record, at)


def _required_domain(rest: str, name: str, record: str, at: int) -> MacroString:
    if not rest.startswith(":"):
        raise SPFSyntaxError(f"'{name}' needs ':domain'", record, at)
    return _domain_spec(rest[1:], record, at + 1)


def _split_cidr(rest: str, record: str, at: int) -> tuple[str, int | None, int | None]:
    """Split ``[:domain][/cidr4][//cidr6]`` into its parts."""
    slash = rest.find("/")
    while slash >= 0:
        match = _DUAL_CIDR.fullmatch(rest[slash:])
        if match:
            cidr4 = None if match.group(1) is None else int(match.group(1))
            cidr6 = None if match.group(2) is None else int(match.group(2))
            if cidr4 is not None and cidr4 > 32:
                raise SPFSyntaxError("IPv4 prefix length over 32", record, at + slash)
            if cidr6 is not None and cidr6 > 128:
                raise SPFSyntaxError("IPv6 prefix length over 128", record, at + slash)
            return rest[:slash], cidr4, cidr6
        slash = rest.find("/", slash + 1)
    return rest, None, None


def _parse_all(qualifier: Qualifier, rest: str, record: str, at: int) -> Term:
    _no_argument("all", rest, record, at)
    return All(qualifier)


def _parse_include(qualifier: Qualifier, rest: str, record: str, at: int) -> Term:
    return Include(qualifier, _required_domain(rest, "include", record, at))


def _parse_exists(qualifier: Qualifier, rest: str, record: str, at: int) -> Term:
    return Exists(qualifier, _required_domain(rest, "exists", record, at))


def _optional_domain(target: str, name: str, record: str, at: int) -> MacroString | None:
    if not target:
        return None
    if not target.startswith(":"):
        raise SPFSyntaxError(f"unexpected text after '{name}'", record, at)
    return _domain_spec(target[1:], record, at + 1)


def _parse_a(qualifier: Qualifier, rest: str, record: str, at: int) -> Term:
    target, cidr4, cidr6 = _split_cidr(rest, record, at)
    return A(qualifier, _optional_domain(target, "a", record, at), cidr4, cidr6)


def _parse_mx(qualifier: Qualifier, rest: str, record: str, at: int) -> Term:
    target, cidr4, cidr6 = _split_cidr(rest, record, at)
    return MX(qualifier, _optional_domain(target, "mx", record, at), cidr4, cidr6)


def _parse_ptr(qualifier: Qualifier, rest: str, record: str, at: int) -> Term:
    return Ptr(qualifier, _optional_domain(rest, "ptr", record, at))


def _ip_parts(
    name: str, rest: str, record: str, at: int, cidr: str, bits: int
) -> tuple[str, int | None]:
    """Split ``:address[/prefix]``; check the prefix (RFC 7208 12: no leading zeros)."""
    if not rest.startswith(":"):
        raise SPFSyntaxError(f"'{name}' needs ':address'", record, at)
    address, slash, prefix = rest[1:].partition("/")
    if not slash:
        return address, None
    if not re.fullmatch(cidr, prefix) or int(prefix) > bits:
        version = name[-1]
        raise SPFSyntaxError(
            f"invalid IPv{version} prefix length {prefix!r}", record, at + 2 + len(address)
        )
    return address, int(prefix)


def _parse_ip4(qualifier: Qualifier, rest: str, record: str, at: int) -> Term:
    address, prefix = _ip_parts("ip4", rest, record, at, _CIDR4, 32)
    try:
        return IP4(qualifier, IPv4Address(address), prefix)
    except AddressValueError:
        raise SPFSyntaxError(f"invalid IPv4 address {address!r}", record, at + 1) from None


def _parse_ip6(qualifier: Qualifier, rest: str, record: str, at: int) -> Term:
    address, prefix = _ip_parts("ip6", rest, record, at, _CIDR6, 128)
    try:
        if "%" in address:
            raise AddressValueError("scope not allowed")
        return IP6(qualifier, IPv6Address(address), prefix)
    except AddressValueError:
        raise SPFSyntaxError(f"invalid IPv6 address {address!r}", record, at + 1) from None


_MECHANISMS = {
    "all": _parse_all,
    "include": _parse_include,
    "a": _parse_a,
    "mx": _parse_mx,
    "ptr": _parse_ptr,
    "ip4": _parse_ip4,
    "ip6": _parse_ip6,
    "exists": _parse_exists,
}
