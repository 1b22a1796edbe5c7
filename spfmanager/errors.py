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
    ├── VerificationError       published records would not behave like the intent
    ├── UnsafePlanError         a plan the safety checks refuse (--force overrides)
    ├── StalePlanError          DNS changed since the plan was made: plan again
    ├── VisibilityTimeoutError  new records not visible in time; the roots were not switched
    ├── StateError              the state store cannot be opened, read, written or locked
    ├── RollbackError           daemon: no such run, or its records cannot be rebuilt exactly
    ├── MessageError            explain: a message that cannot be read or names no connection
    └── ProviderError           a DNS provider refused or failed a change
        ├── ProviderAuthError
        ├── ProviderRateLimitError
        └── ProviderServerError
"""

from __future__ import annotations


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


class FlattenError(SPFManagerError):
    """No record set equivalent to the intent fits the limits, or upstream is broken.

    ``transient`` is True when the cause may go away by itself (a DNS timeout upstream):
    the right reaction is to keep the last good published record and retry later.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)


class VerificationError(SPFManagerError):
    """The published records would not give the same results as the intent."""


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


class ProviderError(SPFManagerError):
    """A DNS provider refused or failed a change."""


class ProviderAuthError(ProviderError):
    """The provider rejected the credentials."""


class ProviderRateLimitError(ProviderError):
    """The provider asked us to slow down."""


class ProviderServerError(ProviderError):
    """The provider failed on its side (5xx, timeout)."""
