"""The exception tree of spfmanager.

Every error the package raises on purpose derives from :class:`SPFManagerError`,
so callers (and the CLI) can catch one type and print a clean message. Every exception
class of the package is defined here (a test walks the modules to keep it so); modules
that raised one before it moved here still re-export it::

    SPFManagerError
    ├── SPFSyntaxError          a record or macro-string that breaks RFC 7208 section 12
    ├── DNSError
    │   └── DNSTemporaryError   timeout, SERVFAIL, refused: "try again later"
    │       └── DeadlineReached a lookup not made: the check's deadline had passed
    ├── SnapshotError           a --dns-snapshot file that cannot be read
    │   └── SnapshotEntryError  one bad entry of the zonedata, by name and index
    ├── ConfigError             a config file with problems (file, line, field; all at once)
    ├── FlattenError            no equivalent record fits the limits, or upstream is broken
    │   ├── OwnRecordError      the domain's own record is broken as written
    │   ├── UpstreamRecordError an upstream record missing, duplicated, looping, unparsable
    │   └── KeptTermLimitError  a kept term reaches a lookup or void limit
    ├── VerificationError       published records would not behave like the intent
    ├── MacroError              macro mode: an intent the macro zone cannot carry, and why
    ├── UnsafePlanError         a plan the safety checks refuse (--force overrides)
    ├── StalePlanError          DNS changed since the plan was made: plan again
    ├── VisibilityTimeoutError  new records not visible in time; the roots were not switched
    ├── StateError              the state store cannot be opened, read, written or locked
    ├── RollbackError           daemon: no such run, or its records cannot be rebuilt exactly
    ├── MessageError            explain: a message that cannot be read or names no connection
    ├── ReportError             discover: a DMARC aggregate report that cannot be read, and why
    ├── MailboxError            discover: an IMAP mailbox that cannot be reached, opened or read
    └── ProviderError           a DNS provider refused or failed a change
        ├── ProviderAuthError
        ├── ProviderRateLimitError
        └── ProviderServerError
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from enum import StrEnum


class SPFManagerError(Exception):
    """Base class of every error spfmanager raises on purpose."""


class SPFSyntaxError(SPFManagerError):
    """A record or macro-string that does not follow the RFC 7208 grammar.

    ``position`` is the 0-based character offset of the problem in ``text``.
    """

    def __init__(self, message: str, text: str = "", position: int = 0) -> None:
        self.message = message
        self.text = text
        self.position = position
        super().__init__(f"{message} (at character {position + 1})" if text else message)

    def pointer(self) -> str:
        """The offending text with a caret under the problem, for humans."""
        return f"{self.text}\n{' ' * self.position}^"


class DNSError(SPFManagerError):
    """A DNS query that could not be answered."""


class DNSTemporaryError(DNSError):
    """A transient DNS failure (timeout, SERVFAIL): RFC 7208 temperror."""


class DeadlineReached(DNSTemporaryError):
    """A lookup not made (or cut short) because the audit's deadline had passed.

    A DNSTemporaryError, so an evaluation meeting it returns temperror like any other
    unanswered query; the tree walk tells it apart to report the lookup as not done.
    """


class SnapshotError(SPFManagerError):
    """An offline DNS snapshot file that cannot be read or has a bad entry."""


class SnapshotEntryError(SnapshotError):
    """A bad entry, located by (``name``, ``index``) so that a file's reader can name its line.

    ``detail`` is the problem alone, without the source and the name.
    """

    def __init__(self, source: str, name: str, index: int, detail: str) -> None:
        self.name, self.index, self.detail = name, index, detail
        super().__init__(f"{source}: {name}: {detail}")


class ConfigError(SPFManagerError):
    """A configuration file with one or more problems.

    ``problems`` lists every problem found, each already naming file, line and field.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class RefusalCause(StrEnum):
    """Why ``flatten()`` refused, for programs (``FlattenError.cause``)."""

    OWN_SYNTAX = "own-syntax"  # the domain's own record (the intent) does not parse
    INTENT_ERROR = "intent-error"  # the intent itself gives receivers an error
    UPSTREAM_MISSING = "upstream-missing"  # an include/redirect target has no SPF record
    UPSTREAM_DUPLICATE = "upstream-duplicate"  # an upstream name has several SPF records
    UPSTREAM_LOOP = "upstream-loop"  # includes/redirects loop
    UPSTREAM_DEPTH = "upstream-depth"  # includes/redirects nest deeper than is followed
    UPSTREAM_SYNTAX = "upstream-syntax"  # an upstream record does not parse
    KEPT_TERM_LIMIT = "kept-term-limit"  # a kept term reaches a lookup or void limit
    TRANSIENT_DNS = "transient-dns"  # timeout, SERVFAIL: keep the last good record
    LOOKUP_LIMIT = "lookup-limit"  # the result needs more DNS lookups than allowed
    QUERY_BUDGET = "query-budget"  # the build needed more DNS queries than its budget
    DEADLINE = "deadline"  # the build took longer than its deadline
    SIZE = "size"  # no packing fits the size limits
    NOT_EQUIVALENT = "not-equivalent"  # no published form proved equal to the intent
    OTHER = "other"


class FlattenError(SPFManagerError):
    """No record set equivalent to the intent fits the limits, or upstream is broken.

    ``cause`` says why, for programs. ``transient`` is True when the cause may go away by
    itself (a DNS timeout upstream): the right reaction is to keep the last good published
    record and retry later. ``affected`` is the share of client addresses (0..1) whose
    result the refusal is about, when known; ``affected_note`` says which, for people.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        cause: RefusalCause | None = None,
        affected: float | None = None,
        affected_note: str | None = None,
    ) -> None:
        self.transient = transient
        self.cause = cause or (RefusalCause.TRANSIENT_DNS if transient else RefusalCause.OTHER)
        self.affected = affected
        self.affected_note = affected_note
        super().__init__(message)

    @property
    def data(self) -> dict[str, object]:
        return {
            "error": str(self),
            "cause": self.cause.value,
            "transient": self.transient,
            "affected": self.affected,
            "affected_note": self.affected_note,
        }


class OwnRecordError(FlattenError):
    """The domain's own record (the intent) is broken: a syntax error, or receivers get an
    error from it as written."""


class UpstreamRecordError(FlattenError):
    """An upstream record is missing, duplicated, looping or does not parse."""


class KeptTermLimitError(FlattenError):
    """A term kept verbatim reaches a lookup or void-lookup limit for some addresses."""


class VerificationError(SPFManagerError):
    """The published records would not give the same results as the intent."""


class MacroError(SPFManagerError):
    """Macro mode cannot serve this intent (a name too long, results an include cannot
    carry, an intent with errors): the message says which and why."""


class UnsafePlanError(SPFManagerError):
    """The plan would publish something the safety checks refuse (use --force to override)."""


class StalePlanError(SPFManagerError):
    """DNS changed since the plan was made: plan again."""


class VisibilityTimeoutError(SPFManagerError):
    """New records did not become visible at the provider in time; the roots were not switched."""


class StateError(SPFManagerError):
    """The state store failed: a corrupt or locked database, a missing driver, a lock held."""


class RollbackError(SPFManagerError):
    """No such run, no records to go back to, or they cannot be rebuilt exactly."""


class MessageError(SPFManagerError):
    """A message that cannot be read or has no headers to explain SPF from."""


class ReportError(SPFManagerError):
    """A DMARC aggregate report that cannot be read: not XML, hostile (a DTD, entities), over
    a size or entry limit, or missing a required element. ``reason`` says which, for people;
    ``source`` names the file (and member) it was read from.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source, self.reason = source, reason
        super().__init__(f"{source}: {reason}")


class MailboxError(SPFManagerError):
    """An IMAP mailbox that cannot be used: a bad URL, no connection, TLS refused or
    missing, the login rejected, no such mailbox. Never carries the password."""


class ProviderError(SPFManagerError):
    """A DNS provider refused or failed a change."""


class ProviderAuthError(ProviderError):
    """The provider rejected the credentials."""


class ProviderRateLimitError(ProviderError):
    """The provider asked us to slow down."""


class ProviderServerError(ProviderError):
    """The provider failed on its side (5xx, timeout)."""


def secret_forms(secret: str) -> set[str]:
    """``secret`` as it may appear in an error message or a server's reply: raw,
    URL-encoded, JSON- or repr-escaped, base64 (standard with and without padding,
    URL-safe). Providers and notifiers replace each form with ``***`` before showing text."""
    raw = secret.encode("utf-8", "surrogateescape")
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        repr(secret)[1:-1],
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    return {form for form in forms if form}
