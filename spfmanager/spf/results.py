"""Results and qualifiers of RFC 7208 check_host (section 2.6 and 4.6.2)."""

from __future__ import annotations

from enum import StrEnum


class Result(StrEnum):
    """The seven results of check_host(), RFC 7208 section 2.6."""

    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"

    @property
    def is_error(self) -> bool:
        """True for temperror and permerror."""
        return self in (Result.TEMPERROR, Result.PERMERROR)


class Qualifier(StrEnum):
    """A mechanism's qualifier, RFC 7208 section 4.6.2."""

    PASS = "+"
    FAIL = "-"
    SOFTFAIL = "~"
    NEUTRAL = "?"

    @property
    def result(self) -> Result:
        """The result a matching mechanism with this qualifier gives."""
        return _QUALIFIER_RESULT[self]

    @classmethod
    def for_result(cls, result: Result) -> Qualifier:
        """The qualifier that yields ``result`` (pass, fail, softfail or neutral)."""
        return _RESULT_QUALIFIER[result]


_QUALIFIER_RESULT = {
    Qualifier.PASS: Result.PASS,
    Qualifier.FAIL: Result.FAIL,
    Qualifier.SOFTFAIL: Result.SOFTFAIL,
    Qualifier.NEUTRAL: Result.NEUTRAL,
}
_RESULT_QUALIFIER = {result: qualifier for qualifier, result in _QUALIFIER_RESULT.items()}


class Cause(StrEnum):
    """Why SPF gave its result: for programs, where ``reason`` is for people.

    The one vocabulary of causes: the evaluator's ``SPFResult.cause``, the failure codes of
    ``check``'s findings (:class:`~spfmanager.audit.findings.Finding`) and ``explain``'s
    diagnosis (:class:`~spfmanager.explain.fix.Diagnosis`) are all members of this enum,
    and their JSON forms its values.
    """

    MATCHED = "matched"  # a mechanism matched (its qualifier gave the result)
    NO_MATCH = "no-match"  # nothing matched, no redirect: neutral (4.7)
    NOT_AUTHORISED = "not-authorised"  # explain: fail/softfail/neutral, the IP is not listed
    INVALID_DOMAIN = "invalid-domain"  # 4.3: not a multi-label name -> none
    NO_RECORD = "no-record"  # 4.5: no SPF record (or NXDOMAIN) -> none
    MULTIPLE_RECORDS = "multiple-records"  # 4.5 -> permerror
    SYNTAX_ERROR = "syntax-error"  # 4.6 (or not ASCII) -> permerror
    TOO_MANY_LOOKUPS = "too-many-lookups"  # 4.6.4: more than 10 DNS-querying terms
    TOO_MANY_VOID_LOOKUPS = "too-many-void-lookups"  # 4.6.4: more than 2 void lookups
    TOO_MANY_MX = "too-many-mx"  # 4.6.4: more than 10 MX names
    TOO_MANY_PTR = "too-many-ptr"  # (libspf2) more than 10 PTR names, none matching
    INCLUDE_MISSING = "include-missing"  # 5.2: the include target has no record
    REDIRECT_MISSING = "redirect-missing"  # 6.1: the redirect target has no record
    DNS_ERROR = "dns-error"  # 4.4 / 5: a query failed -> temperror
    RECURSION = "recursion"  # include/redirect nested over MAX_DEPTH, or (pyspf) self-include
