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
"""

from __future__ import annotations

from spfmanager.spf.macros import Literal, MacroString
from spfmanager.spf.profiles.base import Departure, ExcessNames, Profile
from spfmanager.spf.terms import IP4, IP6, MX, A, All, Exists, Include, Ptr, Redirect

_SRC = "libspf2 1.2.10"
SPF_MAX_MECH_LEN = 511  # spf_record.h: bytes of compiled mechanisms per record
SPF_MAX_STR_LEN = 255  # spf_record.h: one literal block of a domain-spec
SPF_MECH_HEADER = 4  # sizeof(SPF_mech_t): prefix_type, mech_type, mech_len
SPF_ALIGN = 4  # spf_internal.h _ALIGN_SZ

CompiledTerm = A | MX | Ptr | Include | Exists | All | IP4 | IP6 | Redirect


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
    departures=(
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
