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
    """Why check_host() gave its result: for programs, where ``reason`` is for people."""

    MATCHED = "matched"  # a mechanism matched (its qualifier gave the result)
    NO_MATCH = "no-match"  # nothing matched, no redirect: neutral (4.7)
    INVALID_DOMAIN = "invalid-domain"  # 4.3: not a multi-label name -> none
    NO_RECORD = "no-record"  # 4.5: no SPF record (or NXDOMAIN) -> none
    MULTIPLE_RECORDS = "multiple-records"  # 4.5 -> permerror
    SYNTAX_ERROR = "syntax-error"  # 4.6 (or not ASCII) -> permerror
    LOOKUP_LIMIT = "lookup-limit"  # 4.6.4: more than 10 DNS-querying terms
    VOID_LIMIT = "void-limit"  # 4.6.4: more than 2 void lookups
    MX_LIMIT = "mx-limit"  # 4.6.4: more than 10 MX names
    INCLUDE_WITHOUT_RECORD = "include-without-record"  # 5.2: include target has none
    REDIRECT_WITHOUT_RECORD = "redirect-without-record"  # 6.1
    DNS_ERROR = "dns-error"  # 4.4 / 5: a query failed -> temperror
