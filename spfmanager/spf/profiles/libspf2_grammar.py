"""libspf2's reading of record text, as the RFC 7208 terms the evaluator runs.

A port of libspf2 1.2.10's compiler (github:shevek/libspf2 ``src/libspf2/spf_compile.c``:
``SPF_record_compile``, ``SPF_c_mech_add``, ``SPF_c_mod_add``, ``SPF_c_parse_domainspec``,
``SPF_c_parse_cidr``, ``SPF_c_parse_macro``, ``SPF_c_parse_var``), confirmed against
``spfquery.libspf2`` (``tests/spf/test_profiles.py``). Where it departs from RFC 7208 12:

* the record is a C string: it ends at the first NUL; terms are split at spaces only;
* a domain-spec is any run of octets but space and ``%`` (and macros): no top label is
  required (``a:foo.1``, ``a:museum``, ``a:example.com:8080``, control and non-ASCII
  octets are all names it queries); ``exists:``, ``include:`` and ``ptr:`` take no CIDR,
  which is read as part of the name (``exists:host/24``);
* an empty domain-spec (``a:``, ``mx:``, ``ptr:``, ``exists:``, ``redirect=``) is
  accepted: for ``a``, ``mx`` and ``ptr`` it is the current domain, for the others an
  empty name (the DNS root);
* ``redirect`` is a mechanism (``redirect:x`` too, a qualifier ignored): each is
  compiled, and evaluation ends at the first; ``exp=`` is a modifier like any other
  (the first is used), so either may appear more than once;
* a ``%`` not followed by ``{``, ``%``, ``_`` or ``-`` is a literal ``%``; macro
  delimiters are ``.-+=|_`` (not ``,`` or ``/``), the reverse flag ``r`` in lower case
  only, digits 1 to 128; ``c``, ``r`` and ``t`` are allowed in every modifier, never in a
  mechanism;
* a prefix length is read with ``strtoul`` (``/032`` is 32) and must not be 0;
* a modifier name is letters, digits, ``_`` and ``-`` only (``moo.cow=x`` is an error);
* what does not fit its buffer (511 bytes of mechanisms, 511 of modifiers) is dropped
  without an error and unparsed, as is an ip4/ip6 address over 45 characters.

A prefix length that ``strtoul`` and the C int conversion make negative (over 2**31) is
not modelled: it is read as a syntax error.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from spfmanager.errors import SPFSyntaxError
from spfmanager.spf.macros import Literal, MacroExpand, MacroString, Part
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
    Redirect,
    Term,
    UnknownModifier,
)

SPF_MAX_MECH_LEN = 511  # spf_record.h: bytes of compiled mechanisms per record
SPF_MAX_MOD_LEN = 511  # spf_record.h: bytes of compiled modifiers per record
SPF_MAX_STR_LEN = 255  # spf_record.h: one literal block of a macro-string
HEADER = 4  # sizeof(SPF_mech_t), sizeof(SPF_mod_t), sizeof(SPF_data_*_t)
MAX_ADDRESS_TEXT = 45  # INET6_ADDRSTRLEN - 1: a longer ip4/ip6 address is dropped silently
MAX_MACRO_DIGITS = 128  # SPF_c_parse_var: 'Subdomain truncation depth too large'

_DIGITS = frozenset("0123456789")
_ALPHA = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NAME = _ALPHA | _DIGITS | {"_", "-"}  # isalnum() || '_' || '-'
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")  # ispunct() in the C locale
_DELIMITERS = frozenset(".-+=|_")
_LETTERS = frozenset("lsodiptvhcr")
_MODIFIER_ONLY = frozenset("ctr")
_QUALIFIERS = {q.value: q for q in Qualifier}

# SPF_mechtypes[]: (domain-spec: none / optional / required, CIDR: none / optional)
_NONE, _OPTIONAL, _REQUIRED, _ONLY = "none", "optional", "required", "only"
_MECHANISMS = {
    "a": (_OPTIONAL, _OPTIONAL),
    "mx": (_OPTIONAL, _OPTIONAL),
    "ptr": (_OPTIONAL, _NONE),
    "include": (_REQUIRED, _NONE),
    "ip4": (_REQUIRED, _OPTIONAL),
    "ip6": (_REQUIRED, _OPTIONAL),
    "exists": (_REQUIRED, _NONE),
    "all": (_NONE, _NONE),
    "redirect": (_REQUIRED, _NONE),
}


@dataclass(frozen=True)
class Reading:
    """A record as libspf2 compiles it."""

    terms: tuple[Term, ...]  # what it compiled, in written order (redirect= a mechanism)
    dropped: tuple[str, ...]  # terms it skipped silently, as written


def _aligned(size: int) -> int:
    return -(-size // HEADER) * HEADER  # _align_sz()


class _Compiler:
    def __init__(self, text: str, mechanism_budget: int | None, rejects_zero_prefix: bool):
        self.text = text
        self.budget = mechanism_budget
        self.rejects_zero_prefix = rejects_zero_prefix
        self.mech_used = 0
        self.mod_used = 0
        self.terms: list[Term] = []
        self.dropped: list[str] = []

    def error(self, message: str, at: int) -> SPFSyntaxError:
        return SPFSyntaxError(message, self.text, at)

    # -- SPF_record_compile ---------------------------------------------------------------

    def compile(self) -> Reading:
        text = self.text
        p = len(VERSION)
        if text[:p].lower() != VERSION or text[p : p + 1] not in ("", " "):
            raise self.error("could not find a valid SPF record", 0)
        end = len(text)
        while p < end:
            while p < end and text[p] == " ":
                p += 1
            if p >= end:
                break
            token_end = text.find(" ", p)
            if token_end < 0:
                token_end = end
            self._term(p, token_end)
            p = token_end
        return Reading(tuple(self.terms), tuple(self.dropped))

    def _term(self, start: int, end: int) -> None:
        text = self.text
        p = start
        qualifier: Qualifier | None = _QUALIFIERS.get(text[p])
        if qualifier is not None:
            p += 1
        elif text[p] in _PUNCT:
            raise self.error(f"invalid prefix {text[p]!r}", p)
        if p >= end or text[p] not in _ALPHA:
            raise self.error("invalid character at start of mechanism", p)
        name_at = p
        while p < end and text[p] in _NAME:
            p += 1
        name = text[name_at:p]
        follower = text[p] if p < end else ""
        if follower == "=":
            if qualifier is not None:
                raise self.error("modifiers may not have prefixes", name_at)
            if name.lower() != "redirect":  # 'We treat redirect as a mechanism.'
                self._modifier(name, p + 1, start, end)
                return
        elif follower not in (":", "/", ""):
            raise self.error("invalid character in middle of mechanism", p)
        kind = name.lower()
        if kind not in _MECHANISMS:
            raise self.error(f"unknown mechanism {name[:20]!r}", name_at)
        if self.budget is not None and self.mech_used + HEADER > self.budget:
            self.dropped.append(text[start:end])  # SPF_E_BIG_MECH, never added as an error
            return
        term = self._mechanism(kind, qualifier or Qualifier.PASS, p, end)
        if term is None:
            self.dropped.append(text[start:end])
            return
        self.terms.append(term[0])
        self.mech_used += HEADER + term[1]

    # -- SPF_c_mech_add -------------------------------------------------------------------

    def _mechanism(
        self, kind: str, qualifier: Qualifier, at: int, end: int
    ) -> tuple[Term, int] | None:
        """The term and its compiled data size; None when libspf2 drops it silently."""
        text = self.text
        value = text[at:end]
        if kind in ("ip4", "ip6"):
            if not value.startswith(":"):
                raise self.error("mechanism requires a value", at)
            return self._ip(kind, qualifier, at + 1, end)
        domain_spec, cidr = _MECHANISMS[kind]
        if value[:1] in (":", "="):
            if domain_spec == _NONE:
                raise self.error("mechanism does not permit a value", at)
            return self._domain_term(kind, qualifier, at + 1, end, cidr)
        if value[:1] == "/":
            if domain_spec == _REQUIRED:
                raise self.error("mechanism requires a value", at)
            if cidr == _NONE:
                raise self.error("mechanism does not permit a CIDR", at)
            return self._domain_term(kind, qualifier, at, end, _ONLY)
        if domain_spec == _REQUIRED:
            raise self.error("mechanism requires a value", at)
        return _domain_mechanism(kind, qualifier, None, None, None), 0

    def _domain_term(
        self, kind: str, qualifier: Qualifier, at: int, end: int, cidr_ok: str
    ) -> tuple[Term, int]:
        """SPF_c_parse_domainspec: [CIDR], then the macro-string before it."""
        cidr4 = cidr6 = None
        used = 0
        if cidr_ok in (_OPTIONAL, _ONLY):
            end, cidr4, cidr6 = self._cidr(at, end)
            if cidr4 not in (None, 32) or cidr6 not in (None, 128):
                used += HEADER  # SPF_data_cidr_t, only for a length that is not the default
            if cidr_ok == _ONLY and end > at:
                raise self.error("invalid CIDR after mechanism", at)
        if end == at:
            return _domain_mechanism(kind, qualifier, None, cidr4, cidr6), used
        macro, used = self._macro(at, end, used, SPF_MAX_MECH_LEN, is_mod=False)
        return _domain_mechanism(kind, qualifier, macro, cidr4, cidr6), used

    def _cidr(self, at: int, end: int) -> tuple[int, int | None, int | None]:
        """SPF_c_parse_cidr: ``/n``, ``//n`` or ``/n//m`` at the end, read backwards."""
        text = self.text
        cidr4 = cidr6 = None
        if end == at:
            return end, None, None
        i = end - 1
        while i > at and text[i] in _DIGITS:
            i -= 1
        if i < end - 1 and text[i] == "/":
            if i > at and text[i - 1] == "/":
                cidr6 = self._mask(text[i + 1 : end], 128, i)
                end = i - 1
                if end > at:
                    i = end - 1
                    while i > at and text[i] in _DIGITS:
                        i -= 1
                    if i < end - 1 and text[i] == "/":
                        cidr4 = self._mask(text[i + 1 : end], 32, i)
                        end = i
            else:
                cidr4 = self._mask(text[i + 1 : end], 32, i)
                end = i
        return end, cidr4, cidr6

    def _mask(self, digits: str, bits: int, at: int) -> int:
        """SPF_c_parse_cidr_ip4/ip6: ``int mask = strtoul(...)``, then 0 and > bits refused."""
        significant = digits.lstrip("0") or "0"
        value = int(significant) if len(significant) <= 20 else 2**64 - 1
        value = min(value, 2**64 - 1) & 0xFFFF_FFFF  # strtoul saturates; int keeps 32 bits
        mask = value - 2**32 if value >= 2**31 else value
        if mask > bits:
            raise self.error(f"invalid IPv{4 if bits == 32 else 6} CIDR netmask (>{bits})", at)
        if mask == 0:
            if self.rejects_zero_prefix:
                raise self.error(f"invalid IPv{4 if bits == 32 else 6} CIDR netmask (=0)", at)
            return 0
        if mask < 0:
            raise self.error("a prefix length libspf2 reads as negative (not modelled)", at)
        return mask

    def _ip(self, kind: str, qualifier: Qualifier, at: int, end: int) -> tuple[Term, int] | None:
        """SPF_c_parse_ip4/ip6: the address by inet_pton, a prefix after the last '/'."""
        text = self.text
        bits = 32 if kind == "ip4" else 128
        prefix: int | None = None
        i = end - 1
        while i >= at and text[i] in _DIGITS:
            i -= 1
        if i != end - 1 and i >= at and text[i] == "/":
            prefix = self._mask(text[i + 1 : end], bits, i)
            end = i
        address = text[at:end]
        if len(address) > MAX_ADDRESS_TEXT:
            return None  # 'return SPF_E_INVALID_IP4': no error added, the term not compiled
        family = socket.AF_INET if kind == "ip4" else socket.AF_INET6
        try:
            packed = socket.inet_pton(family, address)
        except (OSError, UnicodeError, ValueError):
            raise self.error(f"invalid {kind} address {address!r}", at) from None
        if kind == "ip4":
            return IP4(qualifier, IPv4Address(packed), prefix), 4  # struct in_addr
        return IP6(qualifier, IPv6Address(packed), prefix), 16  # struct in6_addr

    # -- SPF_c_mod_add --------------------------------------------------------------------

    def _modifier(self, name: str, at: int, start: int, end: int) -> None:
        size = _aligned(HEADER + len(name))
        if len(name) > SPF_MAX_MOD_LEN or self.mod_used + size > SPF_MAX_MOD_LEN:
            self.dropped.append(self.text[start:end])  # SPF_E_BIG_MOD, never added
            return
        macro, used = self._macro(at, end, 0, SPF_MAX_MOD_LEN, is_mod=True)
        self.mod_used += size + used
        if name.lower() == "exp":
            self.terms.append(Explanation(macro))
        else:
            self.terms.append(UnknownModifier(name, macro))

    # -- SPF_c_parse_macro, SPF_c_parse_var -----------------------------------------------

    def _macro(
        self, at: int, end: int, used: int, avail: int, *, is_mod: bool
    ) -> tuple[MacroString, int]:
        text = self.text
        parts: list[Part] = []
        literal: list[str] = []
        source: list[str] = []

        def add(size: int) -> None:
            nonlocal used
            if used + _aligned(size) > avail:
                raise self.error(f"SPF domainspec too long ({used + size} chars, {avail} max)", at)
            used += _aligned(size)

        def finish() -> None:
            decoded = "".join(literal)
            if decoded:  # SPF_FINI_STRING_LITERAL(): no empty block
                if len(decoded) > SPF_MAX_STR_LEN:
                    raise self.error(
                        f"string literal too long ({len(decoded)} chars, {SPF_MAX_STR_LEN} max)",
                        at,
                    )
                add(HEADER + len(decoded))
                parts.append(Literal(decoded, "".join(source)))
            literal.clear()
            source.clear()

        i = at
        while i < end:
            j = text.find("%", i, end)
            if j < 0:
                j = end
            literal.append(text[i:j])
            source.append(text[i:j])
            i = j
            if i == end:
                break
            follower = text[i + 1] if i + 1 < end else ""
            if follower in ("%", "_", "-"):
                literal.append({"%": "%", "_": " ", "-": "%20"}[follower])
                source.append(text[i : i + 2])
                i += 2
            elif follower == "{":
                finish()
                expand, i = self._var(i + 2, end, is_mod)
                add(HEADER)
                parts.append(expand)
            else:  # 'SPF spec says to treat it as a literal': the follower is read next
                literal.append("%")
                source.append("%")
                i += 1
        finish()
        return MacroString(tuple(parts)), used

    def _var(self, at: int, end: int, is_mod: bool) -> tuple[MacroExpand, int]:
        text = self.text
        letter = text[at] if at < end else ""
        lower = letter.lower() if letter in _ALPHA else letter
        if lower not in _LETTERS or not letter:
            raise self.error(f"unknown variable {letter!r}", at)
        if lower in _MODIFIER_ONLY and not is_mod:
            raise self.error(f"'{lower}' macro is only valid in modifiers", at)
        i = at + 1
        while i < end and text[i] in _DIGITS:
            i += 1
        digits = text[at + 1 : i]
        value = int(digits or 0) if len(digits) <= 12 else MAX_MACRO_DIGITS + 1  # no overflow
        if digits and not 0 < value <= MAX_MACRO_DIGITS:
            raise self.error("subdomain truncation depth too large", at + 1)
        reverse = i < end and text[i] == "r"
        if reverse:
            i += 1
        delimiters_at = i
        while True:
            if i >= end:
                raise self.error("invalid delimiter (unterminated variable)", i)
            char = text[i]
            if char == "}":
                break
            if char not in _DELIMITERS:
                raise self.error(f"invalid delimiter {char!r}", i)
            i += 1
        expand = MacroExpand(lower, letter != lower, value or None, reverse, text[delimiters_at:i])
        return expand, i + 1


def _domain_mechanism(
    kind: str,
    qualifier: Qualifier,
    domain: MacroString | None,
    cidr4: int | None,
    cidr6: int | None,
) -> Term:
    if kind == "a":
        return A(qualifier, domain, cidr4, cidr6)
    if kind == "mx":
        return MX(qualifier, domain, cidr4, cidr6)
    if kind == "ptr":
        return Ptr(qualifier, domain)
    if kind == "all":
        return All(qualifier)
    target = domain if domain is not None else MacroString(())  # the empty name
    if kind == "include":
        return Include(qualifier, target)
    if kind == "exists":
        return Exists(qualifier, target)
    return Redirect(target)  # its qualifier is ignored (spf_interpret.c MECH_REDIRECT)


def record_text(octets: bytes) -> str:
    """A TXT record's octets as libspf2 reads them: a C string, one character per octet."""
    return octets.split(b"\0", 1)[0].decode("latin-1")


def read_record(
    text: str, *, mechanism_budget: int | None = SPF_MAX_MECH_LEN, rejects_zero_prefix: bool = True
) -> Reading:
    """Compile ``text`` as libspf2 does; SPFSyntaxError for a record it does not compile.

    ``text`` is cut at its first NUL. ``mechanism_budget`` is the mechanism buffer (None:
    unlimited); ``rejects_zero_prefix`` refuses a /0 prefix length, as libspf2 does.
    """
    text = text.split("\0", 1)[0]
    return _Compiler(text, mechanism_budget, rejects_zero_prefix).compile()


def dns_can_carry(name: str) -> bool:
    """Whether the C resolver can put ``name`` in a query (res_mkquery): no empty label
    but a final dot, labels of at most 63 octets, at most 255 in all. libspf2 checks names
    no further (RFC 7208 4.3 does): a name it cannot query is a DNS error."""
    text = name[:-1] if name.endswith(".") else name
    if not text:
        return True  # the root
    try:
        octets = text.encode("latin-1")
    except UnicodeEncodeError:
        octets = text.encode("utf-8")
    labels = octets.split(b".")
    if any(not 0 < len(label) <= 63 for label in labels):
        return False
    return sum(len(label) + 1 for label in labels) + 1 <= 255
