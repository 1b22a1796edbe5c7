"""Pack flattened terms into a root record and, when needed, a chain of records.

Records are chained with ``redirect=``: a redirect is a tail call, so the chain keeps the
exact first-match order and every qualifier (an ``include:`` chain could only carry passes).
Chained names are content-addressed (``_spf1-<hash>.example.com``): the hash covers the
record's text, which names the next link, so any change anywhere gives new names up to the
root. Old and new chains can coexist during a rollover. This module owns that name format:
:func:`chain_name` writes it, :func:`is_chain_name` and :func:`chain_domain` read it.

Each TXT string is at most 255 characters and split only between terms; each name's whole
TXT answer must fit a 512-byte UDP response (with an EDNS OPT record); and each record's
mechanisms, as receivers compile them, fit the strictest receiver profile's
``max_mechanism_bytes`` (libspf2 compiles at most 511 bytes of mechanisms, ``redirect=``
included, and silently drops the rest: a dense root record would lose its chain).
:func:`compiled_mechanism_bytes` is the one place that models that compiled size.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from spfmanager.dns.txt import split_strings
from spfmanager.errors import FlattenError, RefusalCause
from spfmanager.spf.limits import DNS_HEADER_BYTES, MAX_UDP_ANSWER
from spfmanager.spf.macros import Literal, MacroString
from spfmanager.spf.profiles import PROFILES
from spfmanager.spf.terms import (
    IP4,
    IP6,
    MX,
    VERSION,
    A,
    All,
    Explanation,
    Mechanism,
    Record,
    Redirect,
    UnknownModifier,
)

EDNS_OPT_BYTES = 11  # RFC 6891 6.1.2: root name, type, class, TTL, RDLEN
RR_FIXED_BYTES = 2 + 10  # compressed owner name pointer + type, class, TTL, RDLENGTH
HASH_LENGTH = 8
_CHAIN_NAME = re.compile(rf"^_spf\d+-[0-9a-f]{{{HASH_LENGTH}}}\.(?P<domain>.+)$")

# libspf2's compiled form (spf_record.h, spf_compile.c), modelled conservatively: each
# mechanism is an SPF_mech_t header (prefix, type, 16-bit length) and its data: a 4-byte
# in_addr for ip4, a 16-byte in6_addr for ip6; for the others a CIDR block when a CIDR is
# given, then the domain-spec as blocks (a literal run: a 4-byte SPF_data_str_t header and
# its text; a macro: an SPF_data_var_t), each block aligned to 8 bytes (the widest
# _ALIGN_SZ). The receiver-profile conformance suite pins the exact sizes.
MECH_HEADER_BYTES = 4
DATA_ALIGN = 8
STRING_HEADER_BYTES = 4
MACRO_BYTES = 8
CIDR_BYTES = 8
IP4_DATA_BYTES = 4
IP6_DATA_BYTES = 16
STRICTEST_MECHANISM_BYTES: int | None = min(
    (p.max_mechanism_bytes for p in PROFILES.values() if p.max_mechanism_bytes is not None),
    default=None,
)


@dataclass(frozen=True)
class PackedRecord:
    """One TXT record to publish."""

    name: str
    text: str
    strings: tuple[str, ...]
    answer_bytes: int  # estimated UDP response size for this name's TXT query


def compiled_mechanism_bytes(term: Mechanism | Redirect) -> int:
    """Bytes ``term`` takes in a receiver's compiled record (libspf2's model, an upper bound).

    ``redirect=`` counts: libspf2 compiles it as a mechanism.
    """
    if isinstance(term, IP4):
        return MECH_HEADER_BYTES + IP4_DATA_BYTES
    if isinstance(term, IP6):
        return MECH_HEADER_BYTES + IP6_DATA_BYTES
    if isinstance(term, All):
        return MECH_HEADER_BYTES
    size = MECH_HEADER_BYTES
    if isinstance(term, A | MX) and (term.cidr4 is not None or term.cidr6 is not None):
        size += CIDR_BYTES
    domain = getattr(term, "domain", None)
    if isinstance(domain, MacroString):
        size += _domain_spec_bytes(domain)
    return size


def record_mechanism_bytes(record: Record) -> int:
    """The compiled mechanism bytes of a whole record (its mechanisms and ``redirect=``)."""
    terms: list[Mechanism | Redirect] = list(record.mechanisms)
    if record.redirect is not None:
        terms.append(record.redirect)
    return sum(compiled_mechanism_bytes(t) for t in terms)


def _domain_spec_bytes(domain: MacroString) -> int:
    size = 0
    for part in domain.parts:
        if isinstance(part, Literal):
            # "%-" compiles to "%20": never fewer characters than either spelling
            size += _aligned(STRING_HEADER_BYTES + max(len(part.text), len(part.source)))
        else:
            size += _aligned(MACRO_BYTES)
    return size


def _link_bytes(name_length: int) -> int:
    """``redirect=<name>`` to a chained record, whose name has ``name_length`` characters."""
    return MECH_HEADER_BYTES + _aligned(STRING_HEADER_BYTES + name_length)


def _aligned(size: int) -> int:
    return (size + DATA_ALIGN - 1) // DATA_ALIGN * DATA_ALIGN


def name_wire_length(name: str) -> int:
    return sum(len(label) + 1 for label in name.rstrip(".").split(".")) + 1


def answer_size(name: str, records: Sequence[Sequence[str]]) -> int:
    """Bytes of a UDP response carrying these TXT records for ``name`` (RFC 1035 4.1)."""
    question = name_wire_length(name) + 4
    answers = sum(RR_FIXED_BYTES + sum(1 + len(s) for s in strings) for strings in records)
    return DNS_HEADER_BYTES + question + answers + EDNS_OPT_BYTES


def chain_name(domain: str, index: int, digest: str) -> str:
    """The name of link ``index`` (1 for the first after the root) of ``domain``'s chain."""
    return f"_spf{index}-{digest}.{domain}"


def chain_domain(name: str) -> str | None:
    """The domain whose chain ``name`` is a link of, or None when it is no chained name."""
    match = _CHAIN_NAME.match(name)
    return match.group("domain") if match else None


def is_chain_name(name: str, domain: str | None = None) -> bool:
    """True when ``name`` is a chained record's name (of ``domain``, when given).

    Names are compared as written: ``domain`` must be spelt as the chain's names spell it.
    """
    owner = chain_domain(name)
    return owner is not None and (domain is None or owner == domain)


def pack(
    terms: Sequence[Mechanism],
    domain: str,
    *,
    final_redirect: Redirect | None = None,
    explanation: Explanation | None = None,
    root_modifiers: Sequence[UnknownModifier] = (),
    other_root_txt: Sequence[Sequence[str]] = (),
    max_answer: int = MAX_UDP_ANSWER,
    max_mechanism_bytes: int | None = STRICTEST_MECHANISM_BYTES,
) -> list[PackedRecord]:
    """As few records as possible, root first, each within the size limits.

    ``max_mechanism_bytes`` bounds each record's :func:`record_mechanism_bytes` (None: no
    bound); the default is the strictest receiver profile's.
    """
    exp = [explanation.render()] if explanation else []
    texts = tuple(t.render() for t in terms)
    costs = tuple(compiled_mechanism_bytes(t) for t in terms)
    tail = [final_redirect.render()] if final_redirect else []
    tail_cost = compiled_mechanism_bytes(final_redirect) if final_redirect else 0
    root_extra = tuple(m.render() for m in root_modifiers)
    extra = tuple(tuple(strings) for strings in other_root_txt)
    sizes = _group_sizes(
        texts,
        costs,
        tuple(tail),
        tail_cost,
        tuple(exp),
        root_extra,
        extra,
        max_answer,
        max_mechanism_bytes,
        len(domain),
    )
    groups: list[list[str]] = []
    start = 0
    for size in sizes:
        groups.append(list(texts[start : start + size]))
        start += size
    return _finalize(groups, domain, tail, exp, root_modifiers, other_root_txt)


def forget_sizes() -> None:
    """Empty the cache of group sizes (keyed on term texts), as the daemon does after a pass
    so that rotating upstream texts do not accumulate in memory."""
    _group_sizes.cache_clear()


@lru_cache(maxsize=4096)
def _group_sizes(
    texts: tuple[str, ...],
    costs: tuple[int, ...],
    tail: tuple[str, ...],
    tail_cost: int,
    exp: tuple[str, ...],
    root_extra: tuple[str, ...],
    other_root_txt: tuple[tuple[str, ...], ...],
    max_answer: int,
    max_mechanism_bytes: int | None,
    domain_length: int,
) -> tuple[int, ...]:
    """How many terms go in each record, greedily (optimal for a fixed order: both limits
    only grow with the terms a record holds).

    Sizes depend on the domain only through its length (a name's wire length is its text
    length + 2), so domains sharing services share this computation.
    """
    domain = "x" * domain_length
    limit = float("inf") if max_mechanism_bytes is None else max_mechanism_bytes
    sizes: list[int] = []
    remaining = list(texts)
    remaining_costs = list(costs)
    index = 0
    while True:
        name = domain if index == 0 else chain_name(domain, index, "0" * HASH_LENGTH)
        extra = other_root_txt if index == 0 else ()
        modifiers = [*exp, *root_extra] if index == 0 else list(exp)
        if sum(remaining_costs) + tail_cost <= limit and _fits(
            name, [*remaining, *tail, *modifiers], extra, max_answer
        ):
            sizes.append(len(remaining))
            return tuple(sizes)
        following = chain_name(domain, index + 1, "0" * HASH_LENGTH)
        link, link_cost = "redirect=" + following, _link_bytes(len(following))
        count, used = 0, link_cost
        while (
            count < len(remaining)
            and used + remaining_costs[count] <= limit
            and _fits(name, [*remaining[: count + 1], link, *modifiers], extra, max_answer)
        ):
            used += remaining_costs[count]
            count += 1
        if count == 0:
            compiled = "" if max_mechanism_bytes is None else f" ({limit:g} compiled)"
            raise FlattenError(
                f"cannot fit even one term into record {index + 1} within {max_answer} "
                f"bytes{compiled}",
                cause=RefusalCause.SIZE,
            )
        sizes.append(count)
        remaining, remaining_costs = remaining[count:], remaining_costs[count:]
        index += 1


def _fits(name: str, body: list[str], extra: Sequence[Sequence[str]], limit: int) -> bool:
    text = " ".join((VERSION, *body))
    return answer_size(name, [*extra, split_strings(text)]) <= limit


def _finalize(
    groups: list[list[str]],
    domain: str,
    tail: list[str],
    exp: list[str],
    root_modifiers: Sequence[UnknownModifier],
    other_root_txt: Sequence[Sequence[str]],
) -> list[PackedRecord]:
    """Name the chain from its end (each name hashes a text naming the next)."""
    records: list[PackedRecord] = []
    next_name: str | None = None
    for index in range(len(groups) - 1, -1, -1):
        body = list(groups[index])
        body += [f"redirect={next_name}"] if next_name else tail
        body += exp
        if index == 0:
            body += [m.render() for m in root_modifiers]
        text = " ".join((VERSION, *body))
        if index == 0:
            name = domain
        else:
            digest = hashlib.sha256(text.encode("ascii")).hexdigest()[:HASH_LENGTH]
            name = chain_name(domain, index, digest)
        strings = split_strings(text)
        extra = other_root_txt if index == 0 else ()
        records.append(PackedRecord(name, text, strings, answer_size(name, [*extra, strings])))
        next_name = name
    records.reverse()
    return records
