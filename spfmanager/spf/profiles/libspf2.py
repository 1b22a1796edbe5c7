"""libspf2 (``spfquery``, ``libspf2-2``): Exim, sendmail and postfix milters.

Read from libspf2 1.2.10 (github:shevek/libspf2, ``src/libspf2/spf_compile.c``,
``spf_interpret.c``) and pinned against ``spfquery.libspf2`` by
``tests/spf/test_profiles.py``. A record that does not compile is reported as ``(invalid)``
(SPF_RESULT_INVALID), which MTAs treat as an error: the profile gives permerror.

libspf2 compiles a record into a byte buffer of mechanisms (``redirect=`` is one of them,
in its written place) and checks the buffer before each one: with ``used`` bytes compiled,
the next is added only if ``used + 4 <= SPF_MAX_MECH_LEN`` (511, the 4-byte header), and
then whole, so the last one kept may end past 511. What fails that check is dropped without
an error, and so is every mechanism after it; modifiers other than ``redirect=`` go to a
buffer of their own. :func:`mechanism_bytes` gives each mechanism's compiled size.

The profile reads record text with libspf2's own grammar (``grammar=Grammar.LIBSPF2``:
:mod:`spfmanager.spf.profiles.libspf2_grammar`, a port of its compiler), from the record's
octets cut at the first NUL, and checks a name only for what the C resolver can query.
"""

from __future__ import annotations

import re
import urllib.parse

from spfmanager.spf.macros import Literal, MacroContext, MacroString
from spfmanager.spf.profiles.base import Departure, ExcessNames, Grammar, Profile
from spfmanager.spf.terms import IP4, IP6, MX, A, All, Exists, Include, Ptr, Redirect

_SRC = "libspf2 1.2.10"
SPF_MAX_MECH_LEN = 511  # spf_record.h: bytes of compiled mechanisms per record
SPF_MAX_STR_LEN = 255  # spf_record.h: one literal block of a domain-spec
SPF_MECH_HEADER = 4  # sizeof(SPF_mech_t): prefix_type, mech_type, mech_len
SPF_ALIGN = 4  # spf_internal.h _ALIGN_SZ

CompiledTerm = A | MX | Ptr | Include | Exists | All | IP4 | IP6 | Redirect


def expand(macro: MacroString, context: MacroContext) -> str:
    """RFC 7208 7.3 expansion as libspf2 1.2.10 does it: a truncation to N parts or more of
    a value with at most N parts (``%{d2}`` of ``r3.x``, ``%{i4}``, ``%{l1}`` of ``user``)
    loses the first character of the joined parts (``3.x``, ``98.51.100.7``, ``ser``): in
    spf_expand.c SPF_record_expand_data() the backward scan for the N-th delimiter ends at
    the value's first character and steps one past it, as it does past a delimiter found."""
    out: list[str] = []
    for part in macro.parts:
        if isinstance(part, Literal):
            out.append(part.text)
            continue
        value = context.macro_value(part.letter)
        pieces = re.split(f"[{re.escape(part.delimiters or '.')}]", value)
        if part.reverse:
            pieces.reverse()
        if part.digits is not None or part.reverse or part.delimiters:
            whole = part.digits is not None and part.digits >= len(pieces)
            value = ".".join(pieces if part.digits is None else pieces[-part.digits :])
            value = value[1:] if whole else value
        if part.url_escape:
            value = urllib.parse.quote(value, safe="-._~")
        out.append(value)
    return "".join(out)


def _aligned(size: int) -> int:
    return -(-size // SPF_ALIGN) * SPF_ALIGN  # _align_sz(): up to 4 bytes


def macro_bytes(macro: MacroString) -> tuple[int, int]:
    """Compiled data of a domain-spec and its longest literal block (SPF_c_parse_macro):
    each run of literal text is a 4-byte SPF_data_str_t and its text, each ``%{...}`` a
    4-byte SPF_data_var_t, every block aligned to 4."""
    size = longest = 0
    for part in macro.parts:
        if isinstance(part, Literal):
            if not part.text:
                continue  # SPF_FINI_STRING_LITERAL() adds no empty block
            size += _aligned(4 + len(part.text))
            longest = max(longest, len(part.text))
        else:
            size += 4
    return size, longest


def mechanism_bytes(term: CompiledTerm) -> int:
    """The bytes libspf2 compiles ``term`` to (SPF_c_mech_add), header included."""
    if isinstance(term, IP4):
        return SPF_MECH_HEADER + 4  # struct in_addr
    if isinstance(term, IP6):
        return SPF_MECH_HEADER + 16  # struct in6_addr
    if isinstance(term, All):
        return SPF_MECH_HEADER
    size = SPF_MECH_HEADER
    # SPF_data_cidr_t only when a length is not the default (/32 and /128 store 0)
    if isinstance(term, A | MX) and (term.cidr4 not in (None, 32) or term.cidr6 not in (None, 128)):
        size += 4
    domain = term.domain
    if domain is not None:
        size += macro_bytes(domain)[0]
    return size


def domain_spec_error(term: CompiledTerm) -> str | None:
    """Why libspf2 would not compile ``term``'s domain-spec though RFC 7208 accepts it."""
    domain = getattr(term, "domain", None)
    if not isinstance(domain, MacroString):
        return None
    size, longest = macro_bytes(domain)
    if longest > SPF_MAX_STR_LEN:
        return f"a domain-spec literal over {SPF_MAX_STR_LEN} bytes (libspf2 SPF_E_BIG_STRING)"
    if size > SPF_MAX_MECH_LEN:
        return f"a domain-spec over {SPF_MAX_MECH_LEN} compiled bytes (libspf2 SPF_E_BIG_MECH)"
    return None


LIBSPF2 = Profile(
    name="libspf2",
    title="libspf2 (Exim, sendmail/postfix milters)",
    receivers=("Exim", "sendmail milter-spf", "postfix-policyd-spf-c"),
    max_void_lookups=None,
    mapped_client_is_ipv6=True,
    lookups_per_include=True,
    lookup_limit_at_next_term=True,
    redirect_in_place=True,
    max_mechanism_bytes=SPF_MAX_MECH_LEN,
    rejects_zero_prefix=True,
    excess_mx=ExcessNames.PERMERROR_UNLESS_MATCHED,
    mx_in_answer_order=True,
    excess_ptr=ExcessNames.PERMERROR_UNLESS_MATCHED,
    ptr_validates_all_names=False,
    ptr_query_error_is_temperror=True,
    ptr_name_error_is_temperror=True,
    grammar=Grammar.LIBSPF2,
    departures=(
        Departure(
            "12",
            "reads record text with a compiler of its own: a domain-spec needs no top label "
            "and may be empty (for a, mx and ptr the current domain); exists: and include: "
            "take no CIDR (it is read as part of the name); redirect is a mechanism "
            "(redirect:x too, the first reached ends evaluation), so redirect= and exp= may "
            "repeat; a stray '%' is literal, c/r/t are allowed in every modifier and /032 is "
            "32; but a modifier name with '.', the delimiters ',' and '/', an upper-case 'R' "
            "and digits over 128 are errors; the record ends at a NUL, and an ip4/ip6 "
            "address over 45 characters is dropped without an error",
            f"{_SRC} spf_compile.c SPF_record_compile(), SPF_c_mech_add(), "
            "SPF_c_parse_domainspec(), SPF_c_parse_cidr(), SPF_c_parse_macro(), "
            "SPF_c_parse_var() (ported: profiles/libspf2_grammar.py); "
            "test_profiles.py::no-top-label, test_profiles.py::empty-domain-is-current, "
            "test_profiles.py::exists-cidr-is-name, test_profiles.py::nul-ends-record, "
            "test_profiles.py::redirect-mechanism, test_profiles.py::redirect-twice, "
            "test_profiles.py::leading-zero-prefix, test_profiles.py::stray-percent, "
            "test_profiles.py::modifier-name-dot, test_profiles.py::delimiter-comma, "
            "test_profiles.py::digits-over-128, test_profiles.py::long-address-dropped; "
            "LIBSPF2_ONLY there: delimiter-bar, uppercase-reverse, exp-twice-libspf2, "
            "modifier-macro-r",
        ),
        Departure(
            "4.3",
            "checks no name before querying it (one label, no top label, any octet) but for "
            "one the C resolver cannot put in a query (an empty label, a label over 63 or a "
            "name over 255 octets): a DNS error, temperror for an include or redirect "
            "target and (invalid), permerror, for the domain checked",
            f"{_SRC} spf_dns_resolv.c res_query() fails (NETDB_INTERNAL), spf_server.c "
            "SPF_server_get_record() returns SPF_E_DNS_ERROR; test_profiles.py::no-top-label, "
            "test_profiles.py::exists-cidr-is-name; LIBSPF2_ONLY there: uncarried-domain, "
            "uncarried-include, single-label-sender",
        ),
        Departure(
            "4.6",
            "compiles at most 511 bytes of mechanisms (redirect= included) and silently "
            "drops the rest: a record's later terms, its redirect= and its all",
            f"{_SRC} spf_compile.c SPF_c_mech_add(): 'if (spf_record->mech_len + len > "
            "SPF_MAX_MECH_LEN) return SPF_E_BIG_MECH' with len = sizeof(SPF_mech_t), the "
            "error never added to the response; test_profiles.py::mechanism-bytes-65th, "
            "test_profiles.py::mechanism-bytes-all-dropped, "
            "test_profiles.py::mechanism-bytes-redirect-dropped",
        ),
        Departure(
            "5.6",
            "rejects a /0 prefix (ip4, ip6, and a/mx dual-cidr)",
            f"{_SRC} spf_compile.c SPF_c_parse_cidr_ip4/ip6(): 'Invalid ... CIDR netmask "
            "(=0)'; test_profiles.py::zero-prefix-ip4, test_profiles.py::zero-prefix-a, "
            "test_profiles.py::zero-prefix-a-ip6, test_profiles.py::ip6-zero-prefix-ipv4-client, "
            "test_profiles.py::ip6-zero-prefix-is-exact",
        ),
        Departure(
            "6.1",
            "evaluates redirect= where it is written, even before an all",
            f"{_SRC} spf_compile.c treats 'redirect' as MECH_REDIRECT; spf_interpret.c "
            "runs it in mechanism order; test_profiles.py::redirect-before-all, "
            "test_profiles.py::redirect-before-ip4",
        ),
        Departure(
            "5",
            "evaluates an IPv4-mapped client (::ffff:a.b.c.d) as IPv6: ip4 terms do not "
            "match it, ip6 ones may",
            f"{_SRC} spf_request.c SPF_request_set_ipv6() sets AF_INET6, no IPv4-mapped check; "
            "test_profiles.py::mapped-client-is-ipv6, test_profiles.py::mapped-client-ip4-term",
        ),
        Departure(
            "7.3",
            "a macro truncated to as many parts as its value has, or more (%{d2} of a "
            "two-label domain, %{i4}), loses its first character: 'r3.x' gives '3.x'",
            f"{_SRC} spf_expand.c SPF_record_expand_data(): the backward scan for the "
            "num_rhs-th delimiter steps past the first character when it runs out; "
            "test_profiles.py::truncation-to-every-label, "
            "test_profiles.py::truncation-past-every-label, "
            "test_profiles.py::truncation-of-ip",
        ),
        Departure(
            "4.6.4",
            "has no void lookup limit",
            f"{_SRC}: no void counting anywhere; test_profiles.py::no-void-limit, "
            "test_profiles.py::void-both-families",
        ),
        Departure(
            "4.6.4",
            "counts lookups per included record (each include starts again from zero) and "
            "errs only when a further term is reached",
            f"{_SRC} spf_interpret.c: includes get a new SPF_response_t (num_dns_mech 0); "
            "'num_dns_mech > max_dns_mech' is tested at the top of the mechanism loop; "
            "test_profiles.py::lookups-per-include, test_profiles.py::nesting-20, "
            "test_profiles.py::eleventh-lookup-matches-last, "
            "test_profiles.py::eleventh-lookup-matches-before-all, "
            "test_profiles.py::eleven-lookups-at-end",
        ),
        Departure(
            "4.6.4",
            "checks the first 10 MX hosts (answer order) or PTR names, then permerror "
            "when there were more and none matched",
            f"{_SRC} spf_interpret.c MECH_MX / MECH_PTR 'max_exceeded'; "
            "test_profiles.py::excess-mx-first-matches, test_profiles.py::excess-ptr-none-matches",
        ),
        Departure(
            "5.5",
            "a DNS error on the PTR query or on a PTR name's address lookup is temperror",
            f"{_SRC} spf_interpret.c MECH_PTR 'TRY_AGAIN' -> DONE_TEMPERR; "
            "test_profiles.py::ptr-query-error, test_profiles.py::ptr-name-error, "
            "test_profiles.py::ptr-name-error-then-valid",
        ),
    ),
)
