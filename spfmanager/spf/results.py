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
